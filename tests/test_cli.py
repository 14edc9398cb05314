"""The ``belief-rl`` command: one-line errors with exit code 2, kill-and-resume, evaluation outputs."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from belief_rl.cli import main
from belief_rl.families import preset_for_env

SMALL = ["--set",
         "agent.hidden_size=32", "agent.embed_dim=32", "agent.latent_dim=8", "agent.policy_hidden=32",
         "ppo.num_envs=32", "ppo.num_minibatches=2", "eval_tasks=64", "num_threads=1"]


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, fragment):
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("belief-rl: error:") and fragment in lines[0], err


@pytest.mark.parametrize("args,fragment", [
    (["train", "--env", "belief_rl/Nope-v0", "--run-dir", "{tmp}/r"], "unknown environment"),
    (["train", "--total-steps", "0", "--run-dir", "{tmp}/r"], "total steps must be positive"),
    (["train", "--total-steps", "-3", "--run-dir", "{tmp}/r"], "total steps must be positive"),
    (["train", "--run-dir", "{tmp}/r", "--set", "ppo.learning_rate=-1"], "learning_rate must be positive"),
    (["train", "--run-dir", "{tmp}/r", "--set", "agent.warp=9"], "unknown setting"),
    (["train", "--run-dir", "{tmp}/r", "--set", "ppo.gamma=abc"], "invalid value"),
    (["train", "--run-dir", "{tmp}/r", "--set", "svg0.target_entropy=abc"],
     "invalid value for svg0.target_entropy"),
    (["train", "--run-dir", "{tmp}/r", "--set", "ppo.num_envs=1.5"], "invalid value for ppo.num_envs"),
    (["train", "--run-dir", "{tmp}/r", "--set", "agent.policy_hidden=32,x"], "invalid value"),
    (["train", "--run-dir", "{tmp}/r", "--set", "agent=3"], "unknown setting"),
    (["config", "show", "--set", "ppo.warp=1"], "unknown setting"),
    (["train", "--run-dir", "{tmp}/r", "--preset", "huge"], "invalid choice"),
    (["train", "--run-dir", "{tmp}/r", "--set", "env_kwargs.colour=3"],
     "unexpected keyword argument 'colour'"),
    (["train", "--run-dir", "{tmp}/r", "--set", "env_kwargs.num_arms=1"], "num_arms"),
    (["train", "--agent", "transformer", "--run-dir", "{tmp}/r"], "invalid choice"),
    (["train", "--run-dir", "{tmp}/r", "--resume"], "not a run directory"),
    (["evaluate", "{tmp}/nothing"], "not a run directory"),
    (["baselines", "--env", "belief_rl/Nope-v0"], "unknown environment"),
    (["baselines", "--num-tasks", "0"], "--num-tasks must be positive"),
])
def test_bad_input_gets_one_line_error(tmp_path, capsys, args, fragment):
    code, _, err = run_cli([a.replace("{tmp}", str(tmp_path)) for a in args], capsys)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "r" / "config.json").exists()  # nothing half-created


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", "--env", "belief_rl/Bandit-K5-H10-v0", "--total-steps", "640",
                 "--run-dir", str(run_dir), "--no-progress", *SMALL])
    assert code == 0
    return run_dir


def test_checkpoint_problems_get_one_line_errors(trained_run, tmp_path, capsys):
    code, _, err = run_cli(["train", "--run-dir", trained_run, "--total-steps", "640"], capsys)
    assert_one_line_error(code, err, "already holds a run")
    code, _, err = run_cli(["evaluate", trained_run, "--env", "belief_rl/Bandit-v0"], capsys)
    assert_one_line_error(code, err, "was trained on 'belief_rl/Bandit-K5-H10-v0'")
    code, _, err = run_cli(["train", "--run-dir", trained_run, "--resume", "--env", "belief_rl/Bandit-v0"],
                           capsys)
    assert_one_line_error(code, err, "was trained with env")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((trained_run / "config.json").read_text())
    code, _, err = run_cli(["evaluate", broken], capsys)
    assert_one_line_error(code, err, "no checkpoint")
    (broken / "checkpoint.pt").write_bytes((trained_run / "checkpoint.pt").read_bytes()[:1000])
    code, _, err = run_cli(["evaluate", broken], capsys)
    assert_one_line_error(code, err, "corrupt")
    other = json.loads((trained_run / "config.json").read_text())
    other["env_id"] = "belief_rl/Bandit-v0"
    (broken / "config.json").write_text(json.dumps(other))
    (broken / "checkpoint.pt").write_bytes((trained_run / "checkpoint.pt").read_bytes())
    code, _, err = run_cli(["evaluate", broken], capsys)
    assert_one_line_error(code, err, "was trained on 'belief_rl/Bandit-K5-H10-v0', not 'belief_rl/Bandit-v0'")


def test_evaluate_writes_json_and_plot_next_to_the_strategies(trained_run, capsys):
    code, out, _ = run_cli(["evaluate", trained_run, "--num-tasks", "300"], capsys)
    assert code == 0
    results = json.loads((trained_run / "evaluation.json").read_text())
    assert results["agent"]["num_tasks"] == 300 and results["agent"]["kind"] == "belief"
    assert {"gittins", "bayes_ucb", "greedy", "thompson", "random", "oracle"} <= results["strategies"].keys()
    assert len(results["belief_kl"]["per_step"]) == 10
    assert (trained_run / "evaluation.png").stat().st_size > 10_000
    assert "gittins" in out
    assert "belief agent (ppo, stochastic)" in out and "belief agent (ppo, greedy)" in out
    # Both policies by default, on the same tasks; the stochastic one is the headline "agent" row.
    assert set(results["policies"]) == {"stochastic", "greedy"}
    assert results["agent"]["policy"] == "stochastic"
    assert results["agent"]["mean"] == results["policies"]["stochastic"]["mean"]


def test_evaluate_greedy_alone_repeats_exactly(trained_run, capsys):
    means = []
    for _ in range(2):
        code, out, _ = run_cli(["evaluate", trained_run, "--num-tasks", "200", "--policy", "greedy"], capsys)
        assert code == 0 and "(ppo, greedy)" in out and "(ppo, stochastic)" not in out
        results = json.loads((trained_run / "evaluation.json").read_text())
        assert list(results["policies"]) == ["greedy"] and results["agent"]["deterministic"]
        means.append(results["agent"]["mean"])
    assert means[0] == means[1]


def _cli_process(args, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "belief_rl.cli", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _rows(run_dir):
    path = run_dir / "metrics.csv"
    if not path.exists():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _wait_for_rows(run_dir, count, proc, timeout=120):
    deadline = time.time() + timeout
    while len(_rows(run_dir)) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "training made no progress"
        time.sleep(0.05)


KILL_ARGS = ["train", "--env", "belief_rl/Bandit-K5-H10-v0", "--total-steps", str(32 * 10 * 40),
             "--no-progress", *SMALL, "checkpoint_every=4", "eval_every=1000"]


def _checkpoint_update(run_dir):
    path = run_dir / "checkpoint.pt"
    return torch.load(path, weights_only=False)["update"] if path.exists() else 0


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    proc = _cli_process([*KILL_ARGS, "--run-dir", killed], tmp_path)
    _wait_for_rows(killed, 6, proc)
    # Kill with metrics rows past the last checkpoint, whatever the machine's speed: pause the run, and let it
    # go on one row at a time while it stands exactly on a checkpoint (checkpoints are written atomically).
    proc.send_signal(signal.SIGSTOP)
    while len(_rows(killed)) <= _checkpoint_update(killed):
        proc.send_signal(signal.SIGCONT)
        _wait_for_rows(killed, len(_rows(killed)) + 1, proc)
        proc.send_signal(signal.SIGSTOP)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    checkpoint_update = _checkpoint_update(killed)
    assert checkpoint_update % 4 == 0 and len(_rows(killed)) > checkpoint_update  # rows past the checkpoint
    assert main(["train", "--run-dir", str(killed), "--resume", "--no-progress"]) == 0
    assert main([*KILL_ARGS, "--run-dir", str(tmp_path / "straight")]) == 0

    steps = [int(r["global_step"]) for r in _rows(killed)]
    assert steps == [int(r["global_step"]) for r in _rows(tmp_path / "straight")]  # no duplicate, no gap
    a = torch.load(killed / "checkpoint.pt", weights_only=False)["agent"]
    b = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["agent"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_finishes_the_update_and_saves_a_checkpoint(tmp_path, signum):
    run_dir = tmp_path / "run"
    proc = _cli_process([*KILL_ARGS, "--run-dir", run_dir], tmp_path)
    _wait_for_rows(run_dir, 2, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"stopping after the update under way" in err and b"checkpoint saved" in err
    saved = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    assert saved["update"] == len(_rows(run_dir))  # nothing logged is lost
    assert saved["update"] < 40  # stopped early, not after the whole run


def test_a_second_interrupt_stops_at_once():
    from belief_rl.training import _StopRequest

    stop = _StopRequest()
    stop(signal.SIGINT, None)
    assert stop.requested
    with pytest.raises(KeyboardInterrupt):
        stop(signal.SIGINT, None)


def test_presets_give_agent_specific_settings_to_their_agent_only(tmp_path):
    from belief_rl.cli import build_parser, config_from_args

    def config(*extra):
        return config_from_args(build_parser().parse_args(["train", "--run-dir", str(tmp_path), *extra]))

    belief = config("--preset", "quick")
    assert belief.agent.policy_head == "componentwise" and belief.ppo.num_envs == 512
    rnn = config("--preset", "quick", "--agent", "rnn")
    assert rnn.agent.policy_head == "mlp" and rnn.ppo.num_envs == 512
    # Explicit flags and --set win over the preset.
    custom = config("--preset", "full", "--total-steps", "1000", "--set", "agent.policy_head=mlp",
                    "ppo.num_envs=64")
    assert (custom.total_steps, custom.agent.policy_head, custom.ppo.num_envs) == (1000, "mlp", 64)
    # On the meta-RL presets only the belief agent gets a policy memory (the RNN agent's torso is one).
    for preset in ("semicircle", "numpad", "numpad-2x2"):
        assert config("--preset", preset, "--agent", "belief").agent.policy_memory == 64
        assert config("--preset", preset, "--agent", "rnn").agent.policy_memory == 0
    # Belief dropout only on the 2×2 pad, the benchmark preset of its env only.
    assert config("--preset", "numpad-2x2", "--agent", "belief").agent.belief_dropout == 0.5
    assert config("--preset", "numpad", "--agent", "belief").agent.belief_dropout == 0.0
    assert [preset_for_env(f"belief_rl/{name}")
            for name in ("NumPad-2x2-L3-v0", "NumPad-3x3-L4-v0", "NumPad-v0")] == [
        "numpad-2x2", "numpad", "numpad"]


def test_evaluate_an_agent_without_a_belief(tmp_path, capsys):
    run_dir = tmp_path / "rnn"
    assert main(["train", "--env", "belief_rl/Bandit-K5-H10-v0", "--agent", "rnn", "--total-steps", "320",
                 "--run-dir", str(run_dir), "--no-progress", *SMALL]) == 0
    code, out, _ = run_cli(["evaluate", run_dir, "--num-tasks", "200"], capsys)
    assert code == 0 and "rnn agent" in out
    assert "belief_kl" not in json.loads((run_dir / "evaluation.json").read_text())


def test_resuming_a_finished_run_trains_nothing(trained_run, capsys):
    before = (trained_run / "metrics.csv").read_text()
    code, out, _ = run_cli(["train", "--run-dir", trained_run, "--resume"], capsys)
    assert code == 0 and "already complete" in out
    assert (trained_run / "metrics.csv").read_text() == before


def test_slim_keeps_what_evaluation_needs_and_refuses_further_training(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    full = torch.load(run / "checkpoint.pt", weights_only=True)
    code, out, _ = run_cli(["slim", run], capsys)
    assert code == 0 and "MB" in out
    slim = torch.load(run / "checkpoint.pt", weights_only=True)
    assert slim["weights_only"] and "learner" not in slim and slim["global_step"] == full["global_step"]
    assert slim["agent"].keys() == full["agent"].keys()
    assert all(torch.equal(slim["agent"][key], value) for key, value in full["agent"].items())
    scores = []
    for run_dir in (trained_run, run):  # the same weights score the same on the same held-out tasks
        assert run_cli(["evaluate", run_dir, "--num-tasks", "100", "--policy", "stochastic"], capsys)[0] == 0
        scores.append(json.loads((run_dir / "evaluation.json").read_text())["agent"]["mean"])
    assert scores[0] == scores[1]
    code, out, _ = run_cli(["train", "--run-dir", run, "--resume"], capsys)
    assert code == 0 and "already complete" in out
    assert "learner" not in torch.load(run / "checkpoint.pt", weights_only=True)  # still slim
    code, _, err = run_cli(["train", "--run-dir", run, "--resume", "--total-steps", "1280"], capsys)
    assert_one_line_error(code, err, "keeps its final weights only")
    assert json.loads((run / "config.json").read_text())["total_steps"] == 640  # nothing rewritten

    unfinished = tmp_path / "unfinished"
    shutil.copytree(trained_run, unfinished)
    config = json.loads((unfinished / "config.json").read_text())
    (unfinished / "config.json").write_text(json.dumps({**config, "total_steps": 1280}))
    code, _, err = run_cli(["slim", unfinished], capsys)
    assert_one_line_error(code, err, "only a finished run can be slimmed")


def test_training_logs_csv_and_tensorboard_events(trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows = _rows(trained_run)
    assert [int(r["update"]) for r in rows] == list(range(1, len(rows) + 1))
    assert ({"global_step", "steps_per_sec", "train_return", "eval_return", "task_nll", "policy_loss"}
            <= rows[0].keys())
    events = EventAccumulator(str(trained_run / "tensorboard"))
    events.Reload()
    assert {"train_return", "task_nll", "steps_per_sec"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train_return")] == [int(r["global_step"]) for r in rows]


def test_baselines_prints_the_table_and_writes_json(tmp_path, capsys):
    code, out, _ = run_cli(["baselines", "--env", "belief_rl/Bandit-K5-H10-v0", "--num-tasks", "300",
                            "--output", tmp_path / "table.json"], capsys)
    assert code == 0 and "gittins" in out and "random" in out
    table = json.loads((tmp_path / "table.json").read_text())
    assert (table["num_tasks"] == 300
            and table["strategies"]["oracle"]["mean"] > table["strategies"]["random"]["mean"])


def test_overrides_parse_optional_union_and_tuple_fields():
    from belief_rl.config import apply_override

    config = {}
    for assignment in ("svg0.target_entropy=-2.5", "agent.policy_hidden=64,32", "ppo.num_envs=1e3",
                       "env_kwargs.num_tasks=100", "agent.memory_skip=true"):
        apply_override(config, assignment)
    assert config == {"svg0": {"target_entropy": -2.5},
                      "agent": {"policy_hidden": (64, 32), "memory_skip": True},
                      "ppo": {"num_envs": 1000}, "env_kwargs": {"num_tasks": 100}}
    apply_override(config, "svg0.target_entropy=none")
    assert config["svg0"]["target_entropy"] is None


def test_version_list_and_config_show(capsys):
    from belief_rl.version import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"belief-rl {__version__}"
    assert main(["list", "envs"]) == 0
    out = capsys.readouterr().out
    assert "belief_rl/Bandit-v0" in out and "numpad-2x2" in out
    assert main(["list", "presets"]) == 0 and "semicircle-fixed-goal" in capsys.readouterr().out
    assert main(["list", "agents"]) == 0 and "aux_head" in capsys.readouterr().out
    assert main(["config", "show", "--env", "belief_rl/NumPad-2x2-L3-v0", "--set", "agent.ib_beta=0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "preset numpad-2x2" in lines[0]
    assert any(line.startswith("agent.belief_dropout = 0.5") for line in lines)  # from the family's preset
    assert any(line.startswith("agent.ib_beta = 0.5") and "bottleneck" in line for line in lines)  # help text
    assert any(line.startswith('algorithm = "svg0"') for line in lines)


def test_train_without_preset_uses_the_env_familys(tmp_path, capsys):
    from belief_rl.runs import read_config

    assert main(["train", "--env", "belief_rl/Bandit-K5-H10-v0", "--total-steps", "100", "--run-dir",
                 str(tmp_path / "run"), "--no-progress", *SMALL]) == 0
    # the bandit family's preset, not the default 4
    assert read_config(tmp_path / "run").ppo.update_epochs == 2
    assert main(["train", "--env", "belief_rl/Bandit-K5-H10-v0", "--total-steps", "100", "--preset", "none",
                 "--run-dir", str(tmp_path / "plain"), "--no-progress", *SMALL]) == 0
    assert read_config(tmp_path / "plain").ppo.update_epochs == 4


def test_resume_refuses_a_new_algorithm(trained_run, capsys):
    code, _, err = run_cli(["train", "--run-dir", trained_run, "--resume", "--algorithm", "svg0"], capsys)
    assert_one_line_error(code, err, "only --total-steps may change")
