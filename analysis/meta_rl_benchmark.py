"""Continuous-control meta-RL benchmark: belief, AuxHead and RNN agents trained with SVG(0).

For each environment, trains every agent for every seed (the environment's
preset: see ``belief_rl.presets``), then draws learning curves of the held-out
return (mean ± s.e. over seeds) with the scripted oracle and explorer returns as
horizontal lines, and reports how many environment steps each agent needs to
reach fixed fractions of the explorer's return; each finished run is also
evaluated once on ``--num-tasks`` other held-out tasks (its
``evaluation.json``). Writes ``benchmark.json`` and ``benchmark.png`` into
``--out``. Runs are resumable (re-running the command continues interrupted runs
and reuses finished ones), and the summary covers every run of the listed agents
and seeds found in ``--out``. Run directories are not committed, so an env with
no finished runs there keeps its summary from the existing ``benchmark.json``,
and so does an agent with none (its curve was evaluated on the same monitor
tasks; "steps to reach" is recomputed over all).

    python analysis/meta_rl_benchmark.py --envs belief_rl/Semicircle-v0 belief_rl/NumPad-2x2-L3-v0 \\
        --agents belief aux_head rnn --seeds 0 1 2 --out results/meta_rl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.config import apply_override  # noqa: E402
from belief_rl.evaluation import evaluate_references, evaluate_run  # noqa: E402
from belief_rl.experiments import (  # noqa: E402
    committed_env_summaries,
    machine_description,
    mean_curve,
    merge_env_summaries,
    read_metrics,
    steps_to_reach,
    train_or_resume,
)
from belief_rl.families import preset_for_env  # noqa: E402
from belief_rl.plotting import META_RL_REFERENCE_STYLES, draw_references, plot_mean_curve, save_figure  # noqa: E402
from belief_rl.presets import apply_preset  # noqa: E402
from belief_rl.runs import read_config  # noqa: E402
from belief_rl.stats import mean_stderr  # noqa: E402
from belief_rl.training import MONITOR_EVAL_SEED  # noqa: E402

COLORS = {"belief": "tab:red", "aux_head": "tab:blue", "rnn": "tab:green"}
# Fractions of the explorer's return at which "steps to reach" is reported.
LEVELS = (0.25, 0.5, 0.8, 0.9)


def run_dir_for(out: Path, env_id: str, agent: str, seed: int) -> Path:
    return out / "runs" / env_id.removeprefix("belief_rl/") / f"{agent}_seed{seed}"


def train_one(env_id: str, agent: str, seed: int, args: argparse.Namespace) -> None:
    config = {"env_id": env_id, "seed": seed, "agent": {"kind": agent}}
    config = apply_preset(config, args.preset or preset_for_env(env_id), agent)
    for assignment in args.set:
        apply_override(config, assignment)
    run_dir = run_dir_for(args.out, env_id, agent, seed)
    print(f"== {env_id} {agent} seed {seed}: {run_dir}", flush=True)
    train_or_resume(run_dir, config, progress=not args.no_progress)


def final_evaluation(run_dir: Path, args: argparse.Namespace) -> dict:
    """The run's ``evaluation.json`` on ``--num-tasks`` held-out tasks (evaluation seed 0), computed once."""
    path = run_dir / "evaluation.json"
    if path.exists():
        results = json.loads(path.read_text())
        if results["num_tasks"] == args.num_tasks:
            return results
    return evaluate_run(run_dir, args.num_tasks, eval_seed=0, policies=("stochastic",))


def summarize_env(env_id: str, args: argparse.Namespace, previous: dict) -> dict:
    """Learning curves, throughput and steps-to-reach of every finished run of ``env_id`` in ``--out``.

    Agents of the ``previous`` summary with no finished runs in ``--out`` keep their entries.
    """
    agents = {}
    env_kwargs: dict = {}
    eval_tasks = None
    for agent in args.agents:
        runs = []
        for seed in args.seeds:
            run_dir = run_dir_for(args.out, env_id, agent, seed)
            if not (run_dir / "metrics.csv").exists():
                continue
            config = read_config(run_dir)
            rows = read_metrics(run_dir)
            if int(rows[-1]["global_step"]) < config.total_steps:
                continue  # unfinished
            env_kwargs, eval_tasks = config.env_kwargs, config.eval_tasks
            wall = float(rows[-1]["wall_time"])
            final = final_evaluation(run_dir, args)
            runs.append({"seed": seed, "run_dir": str(run_dir), "env_steps": int(rows[-1]["global_step"]),
                         "updates": int(rows[-1]["update"]), "train_wall_time_s": wall,
                         "env_steps_per_sec": int(rows[-1]["global_step"]) / wall,
                         "final_eval_return": final["agent"]["mean"],
                         "final_eval_stderr": final["agent"]["stderr"]})
        if runs:
            curve = mean_curve([Path(r["run_dir"]) for r in runs])
            agents[agent] = {"runs": runs, "curve": curve}
    if not agents:
        return {}
    kept = {agent: summary for agent, summary in previous.get("agents", {}).items() if agent not in agents}
    agents = {agent: (agents | kept)[agent] for agent in sorted(agents | kept, key=_agent_order)}
    # The learning curves were evaluated on the monitor tasks; the references play the same tasks.
    references = evaluate_references(env_id, env_kwargs, eval_tasks, MONITOR_EVAL_SEED)
    # Final returns are on other held-out tasks (evaluation seed 0), so are their references.
    final_references = evaluate_references(env_id, env_kwargs, args.num_tasks, 0)
    explorer = references["explorer"]["mean"]
    # A return every agent reached: the lowest of the agents' best mean-curve values, so that
    # "fewer steps to the same return" compares agents even far below the explorer.
    common = min(max(summary["curve"]["mean"]) for summary in agents.values())
    for summary in agents.values():
        summary["steps_to_reach"] = {
            f"{level:.0%} of explorer": steps_to_reach(summary["curve"], level * explorer) for level in LEVELS
        }
        summary["steps_to_reach"][f"common level {common:.1f}"] = steps_to_reach(summary["curve"], common)
        final_mean, final_stderr = mean_stderr([r["final_eval_return"] for r in summary["runs"]])
        summary["final"] = {
            "mean": float(final_mean), "num_seeds": len(summary["runs"]),
            "stderr": float(final_stderr) if len(summary["runs"]) > 1 else None,
            "fraction_of_explorer": float(final_mean / final_references["explorer"]["mean"]),
        }
    return {"agents": agents, "references": references, "curve_eval_tasks": eval_tasks,
            "curve_eval_seed": MONITOR_EVAL_SEED, "final_references": final_references,
            "final_eval_tasks": args.num_tasks, "final_eval_seed": 0}


def _agent_order(agent: str) -> tuple[int, str]:
    """Agents in the order of ``COLORS`` (belief, AuxHead, RNN), then any others by name."""
    names = list(COLORS)
    return (names.index(agent) if agent in names else len(names), agent)


def plot(results: dict, path: Path) -> None:
    envs_ = [env for env, summary in results["envs"].items() if summary]
    fig, axes = plt.subplots(1, max(len(envs_), 1), figsize=(6.5 * max(len(envs_), 1), 4.5), squeeze=False)
    for ax, env_id in zip(axes[0], envs_):
        summary = results["envs"][env_id]
        for agent, data in summary["agents"].items():
            plot_mean_curve(ax, data["curve"], agent, COLORS.get(agent))
        draw_references(ax, summary["references"], META_RL_REFERENCE_STYLES)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(f"held-out meta-episode return ({summary['curve_eval_tasks']} tasks)")
        ax.set_title(f"{env_id} (SVG(0), mean ± s.e. over seeds)")
        ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+",
                        default=["belief_rl/Semicircle-v0", "belief_rl/NumPad-2x2-L3-v0"])
    parser.add_argument("--agents", nargs="+", default=["belief", "aux_head", "rnn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--preset", default=None, help="preset for every env (default: each env's own)")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides for every run (KEY=VALUE)")
    parser.add_argument("--num-tasks", type=int, default=1000, help="held-out tasks of the final evaluation")
    parser.add_argument("--out", type=Path, default=Path("results/meta_rl"))
    parser.add_argument("--summary-only", action="store_true", help="train nothing; summarize finished runs")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(2)
    start = time.perf_counter()
    if not args.summary_only:
        # Seed-major order: a partial benchmark already compares every agent on the first seeds.
        for env_id in args.envs:
            for seed in args.seeds:
                for agent in args.agents:
                    train_one(env_id, agent, seed, args)
    committed = committed_env_summaries(args.out / "benchmark.json")
    summaries = {env_id: summarize_env(env_id, args, committed.get(env_id, {})) for env_id in args.envs}
    results = {"machine": machine_description(), "preset": args.preset, "overrides": args.set,
               "envs": merge_env_summaries(args.out / "benchmark.json", summaries),
               "benchmark_wall_time_s": round(time.perf_counter() - start, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "benchmark.json", json.dumps(results, indent=2).encode())
    plot(results, args.out / "benchmark.png")
    for env_id, summary in results["envs"].items():
        if not summary:
            print(f"{env_id}: no finished runs")
            continue
        refs = summary["final_references"]
        print(f"{env_id} ({args.num_tasks} held-out tasks): oracle {refs['oracle']['mean']:.1f}, "
              f"explorer {refs['explorer']['mean']:.1f}")
        for agent, data in summary["agents"].items():
            final, runs = data["final"], data["runs"]
            se = f" ± {final['stderr']:.1f}" if final["stderr"] is not None else ""
            train_minutes = np.mean([r["train_wall_time_s"] for r in runs]) / 60
            print(f"  {agent:>9}: {final['mean']:.1f}{se} ({final['fraction_of_explorer']:.0%} of explorer, "
                  f"{final['num_seeds']} seed(s), {train_minutes:.1f} min, "
                  f"{np.mean([r['env_steps_per_sec'] for r in runs]):,.0f} steps/s); steps to reach: "
                  + ", ".join(f"{k} {v:,.0f}" if v is not None else f"{k} never"
                              for k, v in data["steps_to_reach"].items()))
    print(f"wrote {args.out / 'benchmark.json'} and {args.out / 'benchmark.png'}")


if __name__ == "__main__":
    main()
