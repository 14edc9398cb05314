"""Demonstrations → prior → KL-regularized training, from the command line, and its one-line errors."""

import csv

import numpy as np
import pytest

from belief_rl import envs
from belief_rl.priors import DemoError, Demonstrations, load_prior
from belief_rl.priors.collect import collect_demonstrations
from belief_rl.references.scripted import run_scripted
from belief_rl.references.semicircle import SemicircleOracle
from tests.test_cli import assert_one_line_error, run_cli

ENV = "belief_rl/Semicircle-Small-v0"
SMALL_SVG = ["--set", "agent.hidden_size=16", "agent.embed_dim=16", "agent.latent_dim=4",
             "agent.policy_hidden=16", "svg0.num_envs=4", "svg0.batch_size=4", "svg0.updates_per_rollout=2",
             "svg0.warmup_episodes=4", "eval_tasks=8", "eval_every=1", "num_threads=1"]


def test_scripted_demonstrations_record_what_the_expert_did():
    demos = collect_demonstrations(ENV, "oracle", episodes=3, seed=5)
    env = envs.make_vector_env(ENV, 3)
    expected = run_scripted(SemicircleOracle.for_env(env), env, seed=5)
    per_meta_episode = demos.rewards.reshape(3, -1).sum(1)
    np.testing.assert_allclose(per_meta_episode, expected)
    # Semicircle-Small: 2 episodes of 20 steps per meta-episode.
    assert len(demos.rewards) == 3 * 40 and demos.num_episodes == 3 * 2
    np.testing.assert_array_equal(np.flatnonzero(demos.episode_starts), np.arange(0, 120, 20))
    # Each episode starts at the origin (the Semicircle start) and actions respect the bounds.
    np.testing.assert_allclose(demos.observations[demos.episode_starts], 0.0, atol=1e-6)
    assert np.all(np.abs(demos.actions) <= env.single_action_space.high + 1e-6)


def test_noisy_expert_adds_gaussian_noise_to_the_pre_squash_action():
    import torch

    from belief_rl.priors import to_raw_actions
    from belief_rl.references.reacher import ReacherExpert

    demos = collect_demonstrations("belief_rl/Reacher-v5", "oracle", episodes=8, seed=3, action_noise=0.2)
    low, high = torch.as_tensor(demos.action_low), torch.as_tensor(demos.action_high)
    # The Reacher expert is a function of the observation: its own action at each recorded state.
    expert = ReacherExpert().act(demos.observations)
    noise = (to_raw_actions(torch.as_tensor(demos.actions), low, high)
             - to_raw_actions(torch.as_tensor(expert, dtype=torch.float32), low, high)).numpy()
    noise = noise[np.abs(expert).max(1) < 0.9]  # saturated torques stay saturated after the clip
    assert len(noise) > 200
    assert abs(noise.mean()) < 0.02 and noise.std() == pytest.approx(0.2, rel=0.05)
    again = collect_demonstrations("belief_rl/Reacher-v5", "oracle", episodes=8, seed=3, action_noise=0.2)
    np.testing.assert_array_equal(demos.actions, again.actions)  # seeded
    with pytest.raises(DemoError, match="action-noise"):
        collect_demonstrations(ENV, "oracle", episodes=1, action_noise=-1.0)


def test_execution_noise_records_the_expert_action_at_the_perturbed_states():
    fixed_goal = "belief_rl/Semicircle-FixedGoal-v0"
    clean = collect_demonstrations(fixed_goal, "oracle", episodes=2, seed=3)
    demos = collect_demonstrations(fixed_goal, "oracle", episodes=2, seed=3, execution_noise=0.5)
    angle = 2 * np.pi / 3
    goal = np.array([np.cos(angle), np.sin(angle)])
    # The label is the (straight-steering) oracle's own action at every recorded state: the displacement to
    # the goal scaled so that its larger component is at most max_step.
    displacement = goal - demos.observations
    scale = np.minimum(1.0, 0.1 / np.abs(displacement).max(1, keepdims=True))
    np.testing.assert_allclose(demos.actions, displacement * scale, atol=1e-6)
    # ...but the executed action was perturbed: the next state is not state + label, and the states spread.
    inside = ~demos.episode_starts[1:]
    moved = (demos.observations[1:] - demos.observations[:-1])[inside]
    assert np.abs(moved - demos.actions[:-1][inside]).mean() > 0.02
    assert demos.observations.std(0).sum() > clean.observations.std(0).sum()
    again = collect_demonstrations(fixed_goal, "oracle", episodes=2, seed=3, execution_noise=0.5)
    np.testing.assert_array_equal(demos.observations, again.observations)  # seeded
    with pytest.raises(DemoError, match="execution-noise"):
        collect_demonstrations(ENV, "oracle", episodes=1, execution_noise=float("nan"))


@pytest.mark.slow
def test_demos_prior_and_kl_regularized_training_end_to_end(tmp_path, capsys):
    demos_path, gp_path, bc_path = tmp_path / "demos.npz", tmp_path / "gp.pt", tmp_path / "bc.pt"
    code, out, _ = run_cli(["demos", "collect", "--env", ENV, "--policy", "oracle", "--episodes", 6,
                            "--output", demos_path], capsys)
    assert code == 0 and "transitions" in out
    assert Demonstrations.load(demos_path).env_id == ENV
    code, out, _ = run_cli(["prior", "fit", demos_path, "--kind", "gp", "--iterations", 20,
                            "--output", gp_path], capsys)
    assert code == 0 and "exact" in out
    code, _, _ = run_cli(["prior", "fit", demos_path, "--kind", "parametric", "--epochs", 3,
                          "--output", bc_path], capsys)
    assert code == 0
    prior, metadata = load_prior(gp_path, env_id=ENV)
    assert metadata["num_points"] == len(Demonstrations.load(demos_path).observations)
    run_dir = tmp_path / "run"
    code, _, err = run_cli(["train", "--env", ENV, "--agent", "rnn", "--algorithm", "svg0",
                            "--prior", gp_path, "--total-steps", 400, "--run-dir", run_dir, "--no-progress",
                            *SMALL_SVG], capsys)
    assert code == 0, err
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    penalties = [float(r["penalty"]) for r in rows if r.get("penalty") not in (None, "", "nan")]
    assert penalties and all(p >= 0 for p in penalties)  # a KL, unlike the entropy penalty log π
    # Resuming reloads the prior from the stored config.
    code, _, err = run_cli(["train", "--run-dir", run_dir, "--resume", "--total-steps", 600, "--no-progress"],
                           capsys)
    assert code == 0, err


@pytest.mark.parametrize("args, fragment", [
    (["demos", "collect", "--env", ENV, "--policy", "nobody", "--episodes", 2, "--output", "{tmp}/d.npz"],
     "unknown demonstration policy 'nobody'"),
    (["demos", "collect", "--env", ENV, "--policy", "oracle", "--episodes", 0, "--output", "{tmp}/d.npz"],
     "--episodes must be positive"),
    (["demos", "collect", "--env", ENV, "--policy", "oracle", "--episodes", 2, "--execution-noise", -0.5,
      "--output", "{tmp}/d.npz"], "--execution-noise must be >= 0"),
    (["demos", "collect", "--env", "belief_rl/Nope-v0", "--policy", "oracle", "--episodes", 2,
      "--output", "{tmp}/d.npz"], "Nope"),
    (["prior", "fit", "{tmp}/missing.npz", "--kind", "gp", "--output", "{tmp}/p.pt"],
     "no demonstration file"),
    (["prior", "fit", "{tmp}/x.npz", "--kind", "bayes", "--output", "{tmp}/p.pt"], "invalid choice"),
    (["train", "--env", ENV, "--agent", "rnn", "--algorithm", "svg0", "--prior", "{tmp}/missing.pt",
      "--run-dir", "{tmp}/run"], "no prior file"),
    (["train", "--env", ENV, "--agent", "rnn", "--preset", "none", "--prior", "{tmp}/missing.pt",
      "--run-dir", "{tmp}/run"], "needs --algorithm svg0"),
])
def test_bad_demo_and_prior_input_gets_one_line_error(tmp_path, capsys, args, fragment):
    code, _, err = run_cli([str(a).replace("{tmp}", str(tmp_path)) for a in args], capsys)
    assert_one_line_error(code, err, fragment)


def test_prior_for_another_env_is_rejected_before_training(tmp_path, capsys):
    demos = collect_demonstrations(ENV, "oracle", episodes=2)
    demos.save(tmp_path / "d.npz")
    assert run_cli(["prior", "fit", tmp_path / "d.npz", "--kind", "parametric", "--epochs", 1,
                    "--output", tmp_path / "p.pt"], capsys)[0] == 0
    code, _, err = run_cli(["train", "--env", "belief_rl/Semicircle-v0", "--agent", "rnn",
                            "--algorithm", "svg0", "--prior", tmp_path / "p.pt",
                            "--run-dir", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, "was fit on 'belief_rl/Semicircle-Small-v0'")


def test_prior_learning_curves_script_writes_curves_for_every_method_and_keeps_other_envs(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "curves"
    small = ["total_steps=320", "eval_every=1", "eval_tasks=8", "num_threads=1", "svg0.num_envs=8",
             "svg0.warmup_episodes=8", "svg0.batch_size=4", "svg0.updates_per_rollout=1",
             "agent.hidden_size=16", "agent.embed_dim=16", "agent.latent_dim=4", "agent.policy_hidden=16"]
    script = [sys.executable, str(root / "analysis" / "prior_learning_curves.py"), "--seeds", "0", "1",
              "--out", str(out)]
    completed = subprocess.run(
        [*script, "--envs", ENV, "--demo-episodes", "4", "--demo-execution-noise", "0.3",
         "--gp-iterations", "5", "--eval-tasks", "16", "--no-progress", "--set", *small],
        capture_output=True, text=True, timeout=300, cwd=root)
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads((out / "learning_curves.json").read_text())
    entry = results["envs"][ENV]
    assert entry["demo_execution_noise"] == 0.3 and entry["demonstrations"] == 4 * 40
    assert set(entry["methods"]) == {"entropy", "parametric", "gp"}
    assert entry["expert_return"] == entry["references"]["oracle"]["mean"]
    assert all(m["num_seeds"] == 2 and np.isfinite(m["curve"]["mean"]).all()
               for m in entry["methods"].values())
    assert all(set(m["seed_steps_to_expert"]) == {f"{name}_seed0", f"{name}_seed1"}
               for name, m in entry["methods"].items())
    assert entry["overrides"] == small
    gp_config = json.loads((out / "runs" / "Semicircle-Small-v0" / "gp_seed0" / "config.json").read_text())
    assert gp_config["svg0"]["prior"].endswith("Semicircle-Small-v0_gp.pt")
    assert np.isfinite(entry["bc"]["parametric"]["mean"])
    assert (out / "learning_curves.png").stat().st_size > 10_000

    # Summarizing an env whose runs are elsewhere (e.g. a previous session's) keeps its committed entry.
    results["envs"] = {"belief_rl/Other-v0": entry}
    (out / "learning_curves.json").write_text(json.dumps(results))
    (out / "prepared_Other-v0.json").write_text((out / "prepared_Semicircle-Small-v0.json").read_text())
    completed = subprocess.run([*script, "--envs", "belief_rl/Other-v0", ENV, "--phase", "summarize"],
                               capture_output=True, text=True, timeout=300, cwd=root)
    assert completed.returncode == 0, completed.stderr[-2000:]
    envs = json.loads((out / "learning_curves.json").read_text())["envs"]
    assert envs["belief_rl/Other-v0"] == entry and envs[ENV]["methods"]


def test_demonstrations_from_a_trained_run_record_its_rollout(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, _, err = run_cli(["train", "--env", ENV, "--agent", "rnn", "--algorithm", "svg0",
                            "--total-steps", 320, "--run-dir", run_dir, "--no-progress", *SMALL_SVG], capsys)
    assert code == 0, err
    demos = collect_demonstrations(ENV, str(run_dir), episodes=3, seed=1)
    assert demos.observations.shape == (3 * 40, 2) and demos.num_episodes == 3 * 2
    np.testing.assert_allclose(demos.observations[demos.episode_starts], 0.0, atol=1e-6)
    again = collect_demonstrations(ENV, str(run_dir), episodes=3, seed=1)
    np.testing.assert_array_equal(demos.actions, again.actions)  # seeded
    with pytest.raises(DemoError, match="trained on .belief_rl/Semicircle-Small-v0., not"):
        collect_demonstrations("belief_rl/Semicircle-v0", str(run_dir), episodes=1)
