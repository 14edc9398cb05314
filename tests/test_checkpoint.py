"""Atomic checkpoints, validation on load, and exact resume."""

import csv

import pytest
import torch

from belief_rl.checkpoint import CheckpointError, atomic_write_bytes, load_checkpoint, save_checkpoint
from belief_rl.config import AgentConfig, HierarchyConfig, PPOConfig, SVGConfig, TrainConfig
from belief_rl.runs import load_agent
from belief_rl.training import Trainer

SMALL_AGENT = AgentConfig(hidden_size=32, embed_dim=32, latent_dim=8, policy_hidden=(32,))


def small_config(**overrides):
    base = dict(env_id="belief_rl/Bandit-K5-H10-v0", agent=SMALL_AGENT,
                ppo=PPOConfig(num_envs=32, num_minibatches=2),
                total_steps=32 * 10 * 6, checkpoint_every=2, eval_every=3, eval_tasks=64, num_threads=1)
    return TrainConfig(**{**base, **overrides})


def test_round_trip(tmp_path):
    payload = {"config": {"env_id": "belief_rl/Bandit-v0"}, "weights": torch.arange(5.0), "step": 7}
    save_checkpoint(tmp_path / "c.pt", payload)
    loaded = load_checkpoint(tmp_path / "c.pt", expected_env_id="belief_rl/Bandit-v0")
    assert loaded["step"] == 7 and torch.equal(loaded["weights"], torch.arange(5.0))


def test_load_errors_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "corrupt.pt")
    torch.save({"something": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="unknown format"):
        load_checkpoint(tmp_path / "foreign.pt")
    save_checkpoint(tmp_path / "c.pt", {"config": {"env_id": "belief_rl/Bandit-v0"}})
    with pytest.raises(CheckpointError, match="trained on 'belief_rl/Bandit-v0'"):
        load_checkpoint(tmp_path / "c.pt", expected_env_id="belief_rl/Bandit-K5-H10-v0")


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]  # no temp file left behind


def _metrics(run_dir):
    with (run_dir / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


# SVG(0) resumes with its replay, target networks and temperature.
SVG_RUN = dict(env_id="belief_rl/Semicircle-Small-v0", algorithm="svg0", total_steps=40 * 8 * 6,
               svg0=SVGConfig(num_envs=8, warmup_episodes=8, batch_size=4, updates_per_rollout=2,
                              replay_capacity=32))


# The hierarchical agent resumes with its learned prior, the target prior and the distillation optimizer too.
HIERARCHICAL_RUN = dict(env_id="belief_rl/BallTargets-K1-v0", algorithm="svg0",
                        agent=AgentConfig(kind="hierarchical"), total_steps=100 * 8 * 6, belief_figures=False,
                        svg0=SVGConfig(num_envs=8, warmup_episodes=8, batch_size=4, updates_per_rollout=2,
                                       replay_capacity=32),
                        hierarchy=HierarchyConfig(prior="learned_ar", shared_low=False, high_hidden=(16,),
                                                  low_hidden=(16,), prior_hidden=(16,), critic_hidden=(16,)))


@pytest.mark.parametrize("overrides", [{}, SVG_RUN, HIERARCHICAL_RUN], ids=["ppo", "svg0", "hierarchical"])
def test_resume_continues_exactly(tmp_path, overrides):
    straight = Trainer.create(small_config(**overrides), tmp_path / "straight")
    straight.train(progress=False)

    interrupted = Trainer.create(small_config(**overrides), tmp_path / "resumed")
    interrupted.train(progress=False, max_updates=3)  # "killed" after the update-2 checkpoint + one more
    resumed = Trainer.resume(tmp_path / "resumed")
    assert resumed.update == 3
    resumed.train(progress=False)

    for a, b in zip(straight.agent.state_dict().values(), resumed.agent.state_dict().values()):
        assert torch.equal(a, b)
    rows_a, rows_b = _metrics(tmp_path / "straight"), _metrics(tmp_path / "resumed")
    assert [r["global_step"] for r in rows_a] == [r["global_step"] for r in rows_b]  # no gaps, no duplicates
    assert [r["train_return"] for r in rows_a] == [r["train_return"] for r in rows_b]


def test_load_agent_rejects_a_checkpoint_that_does_not_match_its_config(tmp_path):
    run = Trainer.create(small_config(), tmp_path / "run")
    run.train(progress=False, max_updates=1)
    config_path = tmp_path / "run" / "config.json"
    config_path.write_text(config_path.read_text().replace('"hidden_size": 32', '"hidden_size": 48'))
    with pytest.raises(CheckpointError, match="does not match"):
        load_agent(tmp_path / "run")


def test_resumed_metrics_drop_newer_rows_and_a_row_cut_short_by_a_kill(tmp_path):
    from belief_rl.logging_utils import MetricsLogger

    logger = MetricsLogger(tmp_path)
    for step in (10, 20, 30):
        logger.log({"update": step // 10, "global_step": step, "loss": 0.5})
    logger.log({"update": 4, "global_step": 40, "loss": 0.5, "late_metric": 1.0})  # widens the header
    logger.close()
    with (tmp_path / "metrics.csv").open("a") as handle:
        handle.write("5")  # a kill in the middle of writing a row
    MetricsLogger(tmp_path, resume_step=40).close()
    with (tmp_path / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["global_step"] for r in rows] == ["10", "20", "30", "40"]
    assert [r["late_metric"] for r in rows] == ["", "", "", "1.0"]
    MetricsLogger(tmp_path, resume_step=20).close()
    with (tmp_path / "metrics.csv").open() as handle:
        assert [r["global_step"] for r in csv.DictReader(handle)] == ["10", "20"]


class _RunsAShellCommand:
    """What a crafted checkpoint might carry: unpickling it calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path, capsys):
    from belief_rl.cli import main

    trainer = Trainer.create(small_config(total_steps=320), tmp_path / "run")
    trainer.train(progress=False)
    payload = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    marker = tmp_path / "pwned"
    payload["learner"] = _RunsAShellCommand(marker)
    torch.save(payload, tmp_path / "run" / "checkpoint.pt")
    code = main(["evaluate", str(tmp_path / "run"), "--num-tasks", "8"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "refused" in err[0], err
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert not marker.exists()


def test_resume_without_a_checkpoint_starts_afresh(tmp_path, capsys):
    """A run killed before its first checkpoint: --resume restarts it from its config,
    dropping its metrics."""
    from belief_rl.cli import main

    config = small_config(total_steps=320 * 2)
    Trainer.create(config, tmp_path / "run")  # writes config.json only
    # a killed run's rows
    (tmp_path / "run" / "metrics.csv").write_text("update,global_step\n1,320\n2,640\n3,9")
    assert main(["train", "--run-dir", str(tmp_path / "run"), "--resume", "--no-progress"]) == 0
    assert "starting it afresh" in capsys.readouterr().err
    with (tmp_path / "run" / "metrics.csv").open() as handle:
        steps = [int(row["global_step"]) for row in csv.DictReader(handle)]
    assert steps == [320, 640]
    fresh = Trainer.create(config, tmp_path / "fresh")
    fresh.train(progress=False)
    resumed, _, _ = load_agent(tmp_path / "run")
    for name, value in fresh.agent.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0)


def test_checkpoints_also_come_on_a_time_basis(tmp_path, monkeypatch):
    saves = []
    monkeypatch.setattr(Trainer, "save", lambda self: saves.append(self.update))
    Trainer.create(small_config(checkpoint_every=1000), tmp_path / "a").train(progress=False, max_updates=3)
    assert saves == [3]  # only the final save: neither 1000 updates nor 120 s passed
    saves.clear()
    Trainer.create(small_config(checkpoint_every=1000, checkpoint_seconds=1e-9), tmp_path / "b").train(
        progress=False, max_updates=3)
    assert saves == [1, 2, 3, 3]


def test_config_json_records_version_and_commit(tmp_path):
    from belief_rl.runs import read_provenance
    from belief_rl.version import __version__

    Trainer.create(small_config(), tmp_path / "run")
    provenance = read_provenance(tmp_path / "run")
    assert provenance["belief_rl_version"] == __version__
    assert "git_commit" in provenance  # None outside a git checkout
