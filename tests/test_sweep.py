"""Sweeps: spec expansion and validation, and whole sweeps on a local Ray instance (resume, failures)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from belief_rl.cli import main
from belief_rl.experiments import read_metrics
from belief_rl.runs import config_differences
from belief_rl.sweep import SpecError, SweepError, SweepSpec, run_sweep
from belief_rl.sweep.results import (
    FAILED,
    FINISHED,
    TrialMismatchError,
    finished_trials,
    trained_steps,
    trial_dir,
    trial_progress,
)
from belief_rl.sweep.runner import _exclusive
from belief_rl.training import Trainer

# Under pytest-xdist the tests of this module share one worker, so they start one local Ray instance, not two.
pytestmark = pytest.mark.xdist_group("local_ray")

TINY = ["agent.hidden_size=16", "agent.embed_dim=16", "agent.latent_dim=8", "agent.policy_hidden=16",
        "ppo.num_envs=8", "ppo.num_minibatches=2", "eval_tasks=16", "eval_every=2", "checkpoint_every=1"]


def tiny_spec(total_steps: int = 2400, **fields) -> SweepSpec:
    data = {"name": "tiny", "env": "belief_rl/Bandit-v0", "agent": "belief", "preset": "none", "seeds": [0],
            "set": [f"total_steps={total_steps}", *TINY], "threads_per_trial": 1,
            "grid": {"agent.ib_beta": [0.0, 0.1]}, **fields}
    return SweepSpec.from_dict(data)


# -- specs (no Ray) -------------------------------------------------------------------------------------
def test_trials_cross_variants_grid_and_seeds_with_names_that_say_what_they_are():
    spec = SweepSpec.from_dict({"name": "s", "seeds": [0, 1], "grid": {"agent.ib_beta": [0.0, 0.01],
                                                                      "env_kwargs.num_tasks": [10, 100]},
                                "variants": [{"agent.kind": "belief"}, {"agent.kind": "rnn"}]})
    trials = spec.trials()
    assert len(trials) == 2 * 2 * 2 * 2
    assert trials[0].name == "agent.kind=belief,agent.ib_beta=0.0,env_kwargs.num_tasks=10,seed=0"
    assert trials[-1].settings() == {"agent.kind": "rnn", "agent.ib_beta": "0.01",
                                     "env_kwargs.num_tasks": "100"}
    config = spec.config(trials[-1])
    assert (config.agent.kind, config.agent.ib_beta, config.env_kwargs["num_tasks"], config.seed) == \
        ("rnn", 0.01, 100, 1)


def test_spec_values_become_typed_overrides_including_lists_and_booleans():
    spec = SweepSpec.from_dict({"name": "s", "preset": "none",
                                "grid": {"agent.policy_hidden": [[64, 64]], "ppo.norm_adv": [False]}})
    config = spec.config(spec.trials()[0], num_threads=3)
    assert config.agent.policy_hidden == (64, 64) and config.ppo.norm_adv is False and config.num_threads == 3


def test_a_labelled_variant_names_its_trials_by_label():
    variants = [{"label": "rl2", "agent.kind": "rnn"}, {"agent.kind": "belief"}]
    spec = SweepSpec.from_dict({"name": "s", "seeds": [0], "grid": {"env_kwargs.num_tasks": [10]},
                                "variants": variants})
    first, second = spec.trials()
    assert first.name == "rl2,env_kwargs.num_tasks=10,seed=0"
    assert first.settings() == {"label": "rl2", "agent.kind": "rnn", "env_kwargs.num_tasks": "10"}
    assert spec.config(first).agent.kind == "rnn"
    assert second.name == "agent.kind=belief,env_kwargs.num_tasks=10,seed=0"
    with pytest.raises(SpecError, match="variant label"):
        SweepSpec.from_dict({"name": "s", "variants": [{"label": "a/b"}]})


def test_seed_placeholder_gives_each_seed_its_own_value():
    spec = SweepSpec.from_dict({"name": "s", "env": "belief_rl/Bandit-v0", "seeds": [3, 7],
                                "set": ["env_kwargs.task_seed={seed}", "env_kwargs.num_tasks=10"]})
    configs = [spec.config(trial) for trial in spec.trials()]
    assert [c.env_kwargs["task_seed"] for c in configs] == [3, 7]
    assert [c.seed for c in configs] == [3, 7]


@pytest.mark.parametrize(("data", "message"), [
    ({"grid": {"agent.ib_beta": 0.1}}, "non-empty list"),
    ({"grid": {"seed": [0, 1]}}, "use seeds"),
    ({"set": ["seed=3"]}, "use seeds"),
    ({"seeds": [0, 0]}, "repeat"),
    ({"seeds": []}, "non-empty list of integers"),
    ({"threads_per_trial": 0}, "positive integer"),
    ({"gird": {}}, "unknown key(s) 'gird'"),
    ({"name": "a/b"}, "may hold only"),
    ({"variants": [{"agent.ib_beta": 0.1}, {"agent.ib_beta": 0.1}]}, "same trial more than once"),
    ({"threads_per_trial": True}, "positive integer"),
    ({"grid": {"agent.ib_beta": [0.0, 0.1]}, "variants": [{"agent.kind": "rnn", "agent.ib_beta": 0.0}]},
     "'agent.ib_beta' is set both by the grid and by a variant"),
    ({"grid": {"env_kwargs.task_name": ["x" * 250]}}, "longer than 200 bytes"),
])
def test_invalid_specs_are_refused_in_one_line(data, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SweepSpec.from_dict({"name": "s", **data}).trials()


def test_sweep_cli_reports_bad_specs_in_one_line_with_exit_2(tmp_path, capsys):
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("seeds = [0,\n")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('env = "belief_rl/Bandit-v0"\nseedz = [1]\n')
    for path, message in ((bad_toml, "not valid TOML"), (unknown, "unknown key(s) 'seedz'"),
                          (tmp_path / "missing.toml", "cannot read sweep spec"),
                          (tmp_path / "spec.yaml", "must be a .toml or .json")):
        assert main(["sweep", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("belief-rl: error:") and message in err and len(err.splitlines()) == 1


def test_without_ray_the_sweep_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(SweepError, match=r"pip install 'belief_rl\[sweep\]'"):
        run_sweep(tiny_spec(), tmp_path / "sweep", progress=False)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(tiny_spec().to_dict()))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep")]) == 2
    assert "pip install 'belief_rl[sweep]'" in capsys.readouterr().err


def test_dry_run_lists_trials_and_flags_invalid_ones_without_training(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**tiny_spec().to_dict(), "grid": {"agent.ib_beta": [0.0, -1.0]}}))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "not started" in lines[0] and "invalid: " in lines[1] and "ib_beta" in lines[1]
    assert not (tmp_path / "sweep").exists()


STUDY_SPECS = sorted((Path(__file__).resolve().parents[1] / "analysis" / "sweeps").glob("*.toml"))


@pytest.mark.parametrize("path", STUDY_SPECS, ids=lambda path: path.stem)
def test_every_committed_study_spec_builds_a_valid_config_for_every_trial(path):
    spec = SweepSpec.from_file(path)
    trials = spec.trials()
    assert len(trials) >= len(spec.seeds) and len({trial.name for trial in trials}) == len(trials)
    for trial in trials:
        config = spec.config(trial, num_threads=1)
        assert config.seed == trial.seed and config.env_id == spec.env


# -- a sweep's state, read from its run directories (no Ray) ----------------------------------------------
def _train_without_ray(spec: SweepSpec, sweep_dir: Path) -> None:
    for trial in spec.trials():
        Trainer.create(spec.config(trial, num_threads=1), trial_dir(sweep_dir, trial)).train(progress=False)


def test_config_differences_name_what_changed_except_budget_and_threads():
    spec = tiny_spec()
    config = spec.config(spec.trials()[0])
    changed = dataclasses.replace(config, total_steps=99, num_threads=7, env_kwargs={"num_tasks": 10},
                                  ppo=dataclasses.replace(config.ppo, learning_rate=1e-2))
    assert config_differences(config, changed) == ["ppo.learning_rate", "env_kwargs.num_tasks"]
    assert config_differences(config, dataclasses.replace(config, total_steps=1, num_threads=3)) == []


@pytest.mark.slow
def test_an_edited_spec_is_refused_by_name_and_a_lower_budget_finishes_trials(tmp_path):
    spec, sweep_dir = tiny_spec(total_steps=800, grid={"agent.ib_beta": [0.0]}), tmp_path / "sweep"
    _train_without_ray(spec, sweep_dir)
    (trial,) = spec.trials()
    assert finished_trials(spec, sweep_dir) == [trial]
    # A lower budget: the trial is finished (against the spec's budget, not the run's), and Ray is not asked.
    lower = tiny_spec(total_steps=400, grid={"agent.ib_beta": [0.0]})
    assert trial_progress(lower, sweep_dir, trial) == (800, 400)
    summary = run_sweep(lower, sweep_dir, progress=False, echo=lambda line: None)
    assert summary["trials"][0]["status"] == FINISHED and summary["counts"]["finished"] == 1
    # Edited settings under the same trial name: refused by name, nothing trained, analyses refuse it too.
    edited = tiny_spec(total_steps=800, grid={"agent.ib_beta": [0.0]})
    edited = dataclasses.replace(edited, base_overrides=(*edited.base_overrides, "ppo.learning_rate=0.01"))
    before = _checkpoint_times(sweep_dir)
    lines: list[str] = []
    summary = run_sweep(edited, sweep_dir, progress=False, echo=lines.append)
    row = summary["trials"][0]
    assert row["status"] == FAILED and "ppo.learning_rate" in row["error"] and trial.name in lines[0]
    assert _checkpoint_times(sweep_dir) == before
    with pytest.raises(TrialMismatchError, match="differ in ppo.learning_rate"):
        finished_trials(edited, sweep_dir)


def test_a_second_invocation_of_a_running_sweep_is_refused(tmp_path):
    spec, sweep_dir = tiny_spec(), tmp_path / "sweep"
    sweep_dir.mkdir()
    with _exclusive(sweep_dir), pytest.raises(SweepError, match="another invocation is running"):
        run_sweep(spec, sweep_dir, progress=False, echo=lambda line: None)
    assert not (sweep_dir / "invocations.json").exists()


# -- sweeps on a local Ray instance --------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


def _checkpoint_times(sweep_dir: Path) -> dict[str, float]:
    return {p.parent.name: p.stat().st_mtime_ns for p in sweep_dir.glob("trials/*/checkpoint.pt")}


@pytest.mark.slow
def test_two_trial_sweep_trains_both_runs_and_a_rerun_trains_nothing(local_ray, tmp_path):
    spec, sweep_dir = tiny_spec(), tmp_path / "sweep"
    lines: list[str] = []
    summary = run_sweep(spec, sweep_dir, echo=lines.append)
    assert summary["counts"]["finished"] == 2
    for trial, row in zip(spec.trials(), summary["trials"]):
        assert trained_steps(trial_dir(sweep_dir, trial)) == (2400, 2400)
        assert row["status"] == FINISHED and row["final_eval_return"] is not None and row["wall_time_s"] > 0
    assert {row["settings"]["agent.ib_beta"] for row in summary["trials"]} == {"0.0", "0.1"}
    csv_lines = (sweep_dir / "summary.csv").read_text().splitlines()
    assert csv_lines[0].startswith("trial,agent.ib_beta,seed,status") and len(csv_lines) == 3
    assert any("2 done, 0 running, 0 pending, 0 failed" in line for line in lines)
    assert [i["trials_to_run"] for i in summary["invocations"]] == [2]
    assert summary["sweep_wall_time_s"] == summary["invocations"][0]["wall_time_s"] > 0

    before = _checkpoint_times(sweep_dir)
    lines.clear()
    again = run_sweep(spec, sweep_dir, echo=lines.append)
    assert "2 finished before, 0 to run" in lines[0] and len(lines) == 1  # Ray is not even asked
    assert _checkpoint_times(sweep_dir) == before
    assert again["trials"] == summary["trials"]

    longer = run_sweep(tiny_spec(total_steps=3200), sweep_dir, progress=False, echo=lambda line: None)
    assert longer["counts"]["finished"] == 2  # a larger budget extends the finished trials
    assert all(trained_steps(trial_dir(sweep_dir, trial)) == (3200, 3200) for trial in spec.trials())


@pytest.mark.slow
def test_an_interrupted_trial_resumes_from_its_checkpoint(local_ray, tmp_path):
    spec, sweep_dir = tiny_spec(total_steps=4000), tmp_path / "sweep"
    first = spec.trials()[0]
    # What a killed sweep leaves behind: the trial's run directory, two updates in, checkpointed.
    trainer = Trainer.create(spec.config(first, num_threads=1), trial_dir(sweep_dir, first))
    trainer.train(progress=False, max_updates=2)
    early = read_metrics(trial_dir(sweep_dir, first))
    summary = run_sweep(spec, sweep_dir, progress=False, echo=lambda line: None)
    assert summary["counts"]["finished"] == 2
    rows = read_metrics(trial_dir(sweep_dir, first))
    assert [int(r["update"]) for r in rows] == [1, 2, 3, 4, 5]
    assert rows[:2] == early  # continued, not restarted


def test_more_threads_per_trial_than_a_node_has_is_refused(local_ray, tmp_path):
    with pytest.raises(SweepError, match="exceeds the 2 CPUs"):
        run_sweep(tiny_spec(threads_per_trial=3), tmp_path / "sweep", progress=False, echo=lambda line: None)


@pytest.mark.slow
def test_a_failing_trial_fails_alone_and_by_name(local_ray, tmp_path):
    spec = tiny_spec(grid={}, variants=[{"ppo.ent_coef": 0.01}, {"ppo.ent_coef": -1.0},
                                        {"env_kwargs.arms": 3}, {"ppo.gae_lambda": 0.8}])
    sweep_dir = tmp_path / "sweep"
    # Refused before anything runs: this trial's directory already holds a run with other settings.
    clash = spec.trials()[-1]
    Trainer.create(spec.config(spec.trials()[0], num_threads=1), trial_dir(sweep_dir, clash))
    summary = run_sweep(spec, sweep_dir, progress=False, echo=lambda line: None)
    rows = {row["trial"]: row for row in summary["trials"]}
    failed = {name for name, row in rows.items() if row["status"] == FAILED}
    invalid, at_runtime = spec.trials()[1], spec.trials()[2]
    assert failed == {invalid.name, at_runtime.name, clash.name}
    assert all(rows[name]["status"] == FINISHED for name in rows.keys() - failed)
    assert "ent_coef" in rows[invalid.name]["error"]
    # An environment argument that only the environment's constructor can refuse: the trial raises in Ray.
    assert rows[at_runtime.name]["error"].startswith("ValueError: invalid arguments for belief_rl/Bandit-v0")
    assert "differ in ppo.gae_lambda, ppo.ent_coef" in rows[clash.name]["error"]


@pytest.mark.slow
def test_a_killed_sweep_command_resumes_where_its_trials_stopped(tmp_path):
    pytest.importorskip("ray")
    spec = tmp_path / "spec.json"
    data = {**tiny_spec(total_steps=24_000).to_dict(), "grid": {}, "seeds": [0]}
    spec.write_text(json.dumps(data))
    sweep_dir = tmp_path / "sweep"
    command = [sys.executable, "-m", "belief_rl.cli", "sweep", str(spec), "--out", str(sweep_dir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    run_dir = sweep_dir / "trials" / "seed=0"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        steps = trained_steps(run_dir) if (run_dir / "checkpoint.pt").exists() else None
        if steps and steps[0] >= 1600:
            break
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the sweep never checkpointed")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    stopped_at = trained_steps(run_dir)[0]
    assert stopped_at < 24_000
    kept = [row for row in read_metrics(run_dir) if int(row["global_step"]) <= stopped_at]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "0 finished before, 1 to run" in done.stdout
    rows = read_metrics(run_dir)
    assert [int(r["update"]) for r in rows] == list(range(1, len(rows) + 1))
    assert int(rows[-1]["global_step"]) >= 24_000
    assert rows[:len(kept)] == kept  # continued from the checkpoint (a restart would rewrite these rows)


# -- the analysis scripts built on sweeps (trials trained here, without Ray) -------------------------------
@pytest.mark.slow
def test_study_scripts_read_finished_trials_into_json_and_figures(tmp_path):
    """analysis/bottleneck_pilot.py and analysis/generalization_gap.py with --no-train: every number comes
    from the trials' own metrics and evaluations, and an unlimited task set has no gap by construction."""
    root = Path(__file__).resolve().parents[1]
    data = {**tiny_spec(total_steps=800).to_dict(), "env": "belief_rl/Bandit-K5-H10-v0",
            "set": ["total_steps=800", *TINY, "env_kwargs.num_validation_tasks=20"],
            "grid": {"agent.ib_beta": [0.0, 0.1], "env_kwargs.num_tasks": [4, "none"]}}
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(data))
    spec, sweep_dir = SweepSpec.from_file(spec_path), tmp_path / "sweep"
    for trial in spec.trials():
        Trainer.create(spec.config(trial, num_threads=1), trial_dir(sweep_dir, trial)).train(progress=False)

    def script(name: str, *args: str) -> dict:
        completed = subprocess.run([sys.executable, str(root / "analysis" / f"{name}.py"), "--spec",
                                    str(spec_path), "--out", str(tmp_path), "--no-train", *args],
                                   capture_output=True, text=True, timeout=300, cwd=root)
        assert completed.returncode == 0, completed.stderr[-2000:]
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
        return json.loads((tmp_path / f"{name}.json").read_text())

    pilot = script("bottleneck_pilot", "--tail", "2")
    assert set(pilot["runs"]) == {"0", "0.1"} and all(len(runs) == 2 for runs in pilot["runs"].values())
    first = pilot["runs"]["0.1"][0]
    metrics = read_metrics(Path(first["run_dir"]))
    assert [row["bottleneck_kl"] for row in first["rows"]] == [float(r["bottleneck_kl"]) for r in metrics]
    assert first["summary"]["bottleneck_kl"] == pytest.approx(
        sum(float(r["bottleneck_kl"]) for r in metrics[-2:]) / 2)

    gap = script("generalization_gap", "--eval-tasks", "40")
    cells = {(c["ib_beta"], c["train_tasks"]): c for c in gap["cells"]}
    assert set(cells) == {(0.0, 4), (0.0, "unlimited"), (0.1, 4), (0.1, "unlimited")}
    assert cells[(0.0, "unlimited")]["gap"]["mean"] == 0.0 and cells[(0.0, 4)]["gap"]["mean"] != 0.0
    trial = next(t for t in gap["trials"] if t["ib_beta"] == 0.1 and t["train_tasks"] == 4)
    assert trial["gap"] == pytest.approx(trial["train_return"] - trial["held_out_return"])
    assert gap["num_finished"] == gap["num_trials"] == 4
    assert gap["machine"].endswith(", 1 thread per trial")  # the trials' threads, not the analysis's
    paired = {row["train_tasks"]: row for row in gap["paired_vs_beta_0"]}
    assert set(paired) == {4, "unlimited"} and all(row["ib_beta"] == 0.1 for row in paired.values())
    baseline = next(t for t in gap["trials"] if t["ib_beta"] == 0.0 and t["train_tasks"] == 4)
    assert paired[4]["gap"]["mean"] == pytest.approx(trial["gap"] - baseline["gap"])
    assert paired[4]["held_out_return"]["mean"] == pytest.approx(
        trial["held_out_return"] - baseline["held_out_return"])
    assert paired["unlimited"]["gap"]["mean"] == 0.0
    evaluations = [float(r["eval_return"]) for r in read_metrics(Path(trial["run_dir"]))
                   if r["eval_return"] not in ("", "nan")]
    assert len(evaluations) >= 2 and trial["curve_mean"] == pytest.approx(sum(evaluations) / len(evaluations))
    assert paired[4]["curve_mean"]["mean"] == pytest.approx(trial["curve_mean"] - baseline["curve_mean"])
    assert set(gap["curves"]) == {"4", "unlimited"}  # the smallest set and fresh tasks, per β
    assert set(gap["curves"]["4"]) == {"belief β=0", "belief β=0.1"}
