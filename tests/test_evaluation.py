"""Held-out task selection, seed layout, and the bandit benchmark script end to end."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from belief_rl.evaluation import evaluate_run, evaluate_strategies, held_out_kwargs
from belief_rl.seeding import evaluation_base_seed, evaluation_seeds, training_seed

ROOT = Path(__file__).resolve().parents[1]


def test_held_out_kwargs_select_the_validation_split_of_finite_task_sets():
    assert held_out_kwargs({"num_tasks": 10, "task_seed": 3}) == {"num_tasks": 10, "task_seed": 3,
                                                                  "split": "validation"}
    assert held_out_kwargs({}) == {}  # fresh tasks: the evaluation seeds keep them apart


def test_training_and_evaluation_seed_blocks_are_disjoint():
    num_envs, updates = 512, 5000
    train = {training_seed(s, u, num_envs) + i
             for s in (0, 1, 7) for u in (0, updates - 1) for i in (0, num_envs - 1)}
    chunks = evaluation_seeds(0, 12_000, 5000)
    assert chunks == [(evaluation_base_seed(0), 5000), (evaluation_base_seed(0) + 5000, 5000),
                      (evaluation_base_seed(0) + 10_000, 2000)]
    evaluation = {seed + i for seed, size in chunks for i in (0, size - 1)}
    assert max(train) < min(evaluation)
    assert evaluation_base_seed(1) - evaluation_base_seed(0) > 12_000  # eval seeds do not overlap each other


def test_a_generalization_gap_evaluation_plays_training_tasks_and_disjoint_held_out_tasks(monkeypatch):
    """What analysis/generalization_gap.py measures: ``training_tasks=True`` plays tasks of the run's own
    training set, the default plays the validation split of the same pool, and the two never share a task."""
    import belief_rl.evaluation as evaluation
    from belief_rl.config import TrainConfig
    from belief_rl.envs.task_specs import bandit_task_set
    from belief_rl.runs import build_agent

    kwargs = {"num_tasks": 10, "task_seed": 4, "num_validation_tasks": 30}
    config = TrainConfig(env_id="belief_rl/Bandit-K5-H10-v0", env_kwargs=kwargs,
                         agent={"hidden_size": 8, "embed_dim": 8, "latent_dim": 4, "policy_hidden": [8]})
    agent = build_agent(config)
    played: list[np.ndarray] = []
    rollout = evaluation.seeded_rollout
    monkeypatch.setattr(evaluation, "seeded_rollout",
                        lambda *args, **kw: played.append(out := rollout(*args, **kw)) or out)

    def tasks(training: bool) -> set[tuple]:
        played.clear()
        evaluation.evaluate_agent(agent, config.env_id, kwargs, 200, training_tasks=training)
        return {tuple(np.round(t, 12)) for r in played for t in r.batch.task[0].numpy()}

    pool = bandit_task_set(5, 10, 30, seed=4)
    train, held_out = tasks(True), tasks(False)
    assert train == {tuple(np.round(t, 12)) for t in pool.train}  # 200 plays cover the 10 training tasks
    assert held_out <= {tuple(np.round(t, 12)) for t in pool.validation} and len(held_out) > 20
    assert not train & held_out


def test_strategies_on_finite_task_sets_play_validation_tasks():
    kwargs = {"num_tasks": 5, "task_seed": 0, "num_validation_tasks": 50}
    result = evaluate_strategies("belief_rl/Bandit-K5-H10-v0", kwargs, 200, names=["oracle", "random"])
    assert result["oracle"]["mean"] > result["random"]["mean"]


def test_bandit_benchmark_script_writes_json_and_plot_for_all_agents(tmp_path):
    small = ["total_steps=640", "eval_every=1", "eval_tasks=64", "num_threads=1", "ppo.num_envs=32",
             "ppo.num_minibatches=2", "agent.hidden_size=16", "agent.embed_dim=16", "agent.latent_dim=8"]
    out = tmp_path / "bench"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "analysis" / "bandit_benchmark.py"),
         "--env", "belief_rl/Bandit-K5-H10-v0", "--agents", "belief", "aux_head", "rnn", "--seeds", "0",
         "--num-tasks", "200", "--out", str(out), "--no-progress", "--set", *small],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads((out / "benchmark.json").read_text())
    assert set(results["agent_summary"]) == {"belief", "aux_head", "rnn"}
    assert results["agents"]["rnn"][0]["belief_kl"] is None
    assert results["agents"]["belief"][0]["belief_kl"] > 0
    assert np.isfinite([s["mean"] for s in results["agent_summary"].values()]).all()
    assert "gittins" in results["strategies"] and (out / "benchmark.png").stat().st_size > 10_000


# A tiny SVG(0) run: one gradient step per iteration on 4 of 8 meta-episodes, small networks.
TINY_SVG = ["eval_every=1", "num_threads=1", "svg0.num_envs=8", "svg0.warmup_episodes=8", "svg0.batch_size=4",
            "svg0.updates_per_rollout=1", "agent.hidden_size=16", "agent.embed_dim=16", "agent.latent_dim=4",
            "agent.policy_hidden=16"]


def test_meta_rl_benchmark_script_writes_curves_and_references(tmp_path):
    small = ["total_steps=1280", "eval_tasks=8", *TINY_SVG]
    out = tmp_path / "bench"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "analysis" / "meta_rl_benchmark.py"),
         "--envs", "belief_rl/Semicircle-Small-v0", "--agents", "belief", "rnn", "--seeds", "0", "1",
         "--num-tasks", "16", "--out", str(out), "--no-progress", "--set", *small],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads((out / "benchmark.json").read_text())["envs"]["belief_rl/Semicircle-Small-v0"]
    assert set(summary["agents"]) == {"belief", "rnn"}
    assert set(summary["references"]) == {"oracle", "explorer"}
    curve = summary["agents"]["belief"]["curve"]
    assert curve["num_seeds"] == 2 and curve["steps"] == [320.0, 640.0, 960.0, 1280.0]
    assert np.isfinite(curve["mean"]).all() and np.isfinite(curve["stderr"]).all()
    assert (out / "benchmark.png").stat().st_size > 10_000

    # Summarizing another env (no runs here) keeps this env's summary: run directories are not committed.
    completed = subprocess.run(
        [sys.executable, str(ROOT / "analysis" / "meta_rl_benchmark.py"), "--envs", "belief_rl/Semicircle-v0",
         "--agents", "belief", "--seeds", "0", "--out", str(out), "--summary-only"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    envs = json.loads((out / "benchmark.json").read_text())["envs"]
    assert envs["belief_rl/Semicircle-Small-v0"]["agents"]["belief"]["curve"] == curve
    assert envs["belief_rl/Semicircle-v0"] == {}

    # So does an agent whose runs are gone, next to an agent summarized afresh.
    rnn_curve = summary["agents"]["rnn"]["curve"]
    for seed in (0, 1):
        shutil.rmtree(out / "runs" / "Semicircle-Small-v0" / f"rnn_seed{seed}")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "analysis" / "meta_rl_benchmark.py"),
         "--envs", "belief_rl/Semicircle-Small-v0", "--agents", "belief", "rnn", "--seeds", "0", "1",
         "--num-tasks", "16", "--out", str(out), "--summary-only"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    envs = json.loads((out / "benchmark.json").read_text())["envs"]
    agents = envs["belief_rl/Semicircle-Small-v0"]["agents"]
    assert list(agents) == ["belief", "rnn"] and agents["rnn"]["curve"] == rnn_curve
    assert agents["belief"]["curve"] == curve and "final" in agents["rnn"]


def test_numpad_analysis_scripts(tmp_path):
    """Press counts (rewards come only from correct presses, so they must add up to the return) and a fresh
    belief network trained on a run's replay."""
    run_dir = tmp_path / "run"
    small = ["total_steps=4000", "eval_tasks=4", *TINY_SVG]
    train = subprocess.run([sys.executable, "-m", "belief_rl.cli", "train",
                            "--env", "belief_rl/NumPad-2x2-L3-v0", "--agent", "belief", "--algorithm", "svg0",
                            "--run-dir", str(run_dir), "--no-progress", "--set", *small],
                           capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert train.returncode == 0, train.stderr[-2000:]
    out = tmp_path / "presses"
    completed = subprocess.run([sys.executable, str(ROOT / "analysis" / "numpad_presses.py"), str(run_dir),
                                "--num-tasks", "16", "--out", str(out)],
                               capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((out / "numpad_presses.json").read_text())["runs"][str(run_dir)]
    assert len(result["correct_presses_per_position"]) == 3
    assert result["return"] > 0 and abs(sum(result["correct_presses_per_position"]) - result["return"]) < 1e-9
    assert set(result["belief_p_true"]) == {"50", "100", "250", "499"}
    exact = np.array([result["exact_posterior_p_true"][t] for t in ("50", "100", "250", "499")])
    assert exact.shape == (4, 3) and (exact > 0).all() and (exact <= 1).all()
    assert all(0 <= p <= 1 for probs in result["belief_p_true"].values() for p in probs)
    assert (out / "numpad_presses.png").stat().st_size > 10_000

    missing = subprocess.run([sys.executable, str(ROOT / "analysis" / "numpad_presses.py"),
                              str(tmp_path / "none"), "--out", str(out)],
                             capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "not a run directory" in missing.stderr

    # A fresh belief network trained on the run's saved replay (here its own).
    script = [sys.executable, str(ROOT / "analysis" / "belief_on_replay.py"), "--config-run", str(run_dir)]
    completed = subprocess.run([*script, "--replay-run", str(run_dir), "--steps", "4", "--report-every", "2",
                                "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    history = json.loads((out / "belief_on_replay_run.json").read_text())["history"]
    assert [entry["step"] for entry in history] == [2, 4]
    assert all(len(probs) == 3 and all(0 <= p <= 1 for p in probs)
               for entry in history for probs in entry["p_true"].values())
    missing = subprocess.run([*script, "--replay-run", str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "not a run directory" in missing.stderr


def test_exact_posterior_is_certain_after_the_oracle_completes_the_sequence():
    from belief_rl import envs
    from belief_rl.posteriors import numpad_posterior
    from belief_rl.references.numpad import NumPadOracle
    from belief_rl.references.scripted import run_scripted

    env = envs.make_vector_env("belief_rl/NumPad-2x2-L3-v0", 6)
    _, info = env.reset(seed=3)
    tasks = np.asarray(info["task"]).astype(np.int64)
    steps = []
    run_scripted(NumPadOracle.for_env(env), env, 3,
                 lambda obs, action, reward, start: steps.append((obs, reward)))
    observations, rewards = (np.stack(x) for x in zip(*steps))

    def p_true(observations, rewards):  # the exact probability of each true pad, [T, n, L]
        marginals = numpad_posterior(observations, rewards, 2, 3).marginals()
        return np.take_along_axis(marginals, tasks[None, :, :, None], axis=-1)[..., 0]

    np.testing.assert_allclose(p_true(observations, rewards)[499], 1.0)
    # Before any press the posterior is the uniform prior: each position's pad is one of four by symmetry.
    idle = np.repeat(observations[:1], len(observations), axis=0)
    np.testing.assert_allclose(p_true(idle, np.zeros_like(rewards))[499], 0.25)


def test_compare_benchmarks_overlays_curves_and_rejects_bad_specs(tmp_path):
    curve = {"steps": [1.0, 2.0], "mean": [0.5, 1.5], "stderr": [0.1, 0.2], "num_seeds": 2}
    summary = {"envs": {"E": {"agents": {"belief": {"curve": curve}, "rnn": {"curve": curve}},
                              "references": {"oracle": {"mean": 2.0}, "explorer": {"mean": 1.8}}}}}
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps(summary))

    def run(*curves):
        args = [sys.executable, str(ROOT / "analysis" / "compare_benchmarks.py"), "--env", "E", "--out",
                str(tmp_path / "cmp.png")]
        for spec in curves:
            args += ["--curve", spec]
        return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)

    completed = run(f"belief={path}:belief", f"RNN, size 64={path}:rnn")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (tmp_path / "cmp.png").stat().st_size > 10_000
    for bad, message in (("no-separators", "LABEL=SUMMARY.json:AGENT"),
                         (f"x={path}:aux_head", "no 'aux_head' runs")):
        completed = run(bad)
        assert completed.returncode == 2 and message in completed.stderr
        assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("policies, message", [("greedy", "non-empty sequence"), ((), "non-empty sequence"),
                                               (("stochastic", "mode"), "unknown policy 'mode'")])
def test_evaluate_run_rejects_bad_policy_lists_before_loading(tmp_path, policies, message):
    with pytest.raises(ValueError, match=message):
        evaluate_run(tmp_path / "no-such-run", 10, policies=policies)
