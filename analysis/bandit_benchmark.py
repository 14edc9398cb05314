"""Bandit-v0 benchmark: belief, AuxHead and RNN agents vs the classical strategies.

Trains each agent with recurrent PPO (the ``full`` preset unless overridden),
evaluates its stochastic and its greedy policy on held-out tasks next to the classical strategies (same
tasks, same reward noise), and writes ``benchmark.json`` plus ``benchmark.png``
(learning curves and the final table) into ``--out``. Runs are resumable: a
finished run is reused and an interrupted one resumes from its checkpoint, and the
summary covers every finished run of the listed agents found in ``--out``.

    python analysis/bandit_benchmark.py --agents belief aux_head rnn --seeds 0 --out results/bandit
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
from matplotlib.colors import to_rgba  # noqa: E402

from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.config import apply_override  # noqa: E402
from belief_rl.evaluation import POLICIES, evaluate_run, evaluate_strategies, summarize  # noqa: E402
from belief_rl.experiments import (  # noqa: E402
    learning_curve,
    machine_description,
    mean_of_curves,
    read_metrics,
    train_or_resume,
)  # noqa: E402
from belief_rl.plotting import draw_references, plot_mean_curve, save_figure  # noqa: E402
from belief_rl.presets import apply_preset  # noqa: E402

COLORS = {"belief": "tab:red", "aux_head": "tab:blue", "rnn": "tab:green"}


def train_and_evaluate(agent: str, seed: int, args: argparse.Namespace) -> None:
    """Train (or resume) one run and evaluate it, unless it is already evaluated."""
    run_dir = args.out / "runs" / f"{agent}_seed{seed}"
    if is_evaluated(run_dir, args):
        return
    config = apply_preset({"env_id": args.env, "seed": seed, "agent": {"kind": agent}, "ppo": {}},
                          args.preset, agent)
    for assignment in args.set:
        apply_override(config, assignment)
    print(f"== {agent} seed {seed}: training in {run_dir}", flush=True)
    train_or_resume(run_dir, config, progress=not args.no_progress)
    evaluate_run(run_dir, args.num_tasks, args.eval_seed)


def is_evaluated(run_dir: Path, args: argparse.Namespace) -> bool:
    """Whether the run's evaluation.json scores both policies on this benchmark's tasks."""
    path = run_dir / "evaluation.json"
    if not path.exists():
        return False
    evaluation = json.loads(path.read_text())
    same_tasks = evaluation["num_tasks"] == args.num_tasks and evaluation["eval_seed"] == args.eval_seed
    return same_tasks and set(POLICIES) <= evaluation.get("policies", {}).keys()


def seed_summary(runs: list[dict], prefix: str) -> dict[str, float]:
    """Mean of the per-seed means ± the standard error over seeds (over tasks when there is one seed)."""
    if len(runs) == 1:
        return {"mean": runs[0][f"{prefix}mean"], "stderr": runs[0][f"{prefix}stderr"]}
    return summarize(np.array([run[f"{prefix}mean"] for run in runs]))


def recorded_runs(args: argparse.Namespace) -> dict[tuple[str, int], dict]:
    """Runs of the listed agents that an earlier ``benchmark.json`` in ``--out`` records with the same env,
    preset, overrides and evaluation tasks, and whose run directories are gone (runs are not committed).

    They count in the summary as recorded, so seeds can be added in a later session without retraining the
    earlier ones.
    """
    path = args.out / "benchmark.json"
    if not path.exists():
        return {}
    previous = json.loads(path.read_text())
    wanted = {"env_id": args.env, "preset": args.preset, "overrides": args.set, "num_tasks": args.num_tasks,
              "eval_seed": args.eval_seed}
    if any(previous.get(key) != value for key, value in wanted.items()):
        return {}
    return {(agent, run["seed"]): run for agent, runs in previous["agents"].items() if agent in args.agents
            for run in runs if not (Path(run["run_dir"]) / "evaluation.json").exists()}


def run_entry(run_dir: Path) -> dict:
    """One evaluated run's row of the summary, learning curve included."""
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    rows = read_metrics(run_dir)
    stochastic, greedy = evaluation["policies"]["stochastic"], evaluation["policies"]["greedy"]
    steps, returns = learning_curve(run_dir)
    return {"seed": evaluation["agent"]["seed"], "run_dir": str(run_dir),
            "mean": stochastic["mean"], "stderr": stochastic["stderr"],
            "greedy_mean": greedy["mean"], "greedy_stderr": greedy["stderr"],
            "belief_kl": evaluation.get("belief_kl", {}).get("mean"),
            "train_wall_time_s": float(rows[-1]["wall_time"]), "env_steps": int(rows[-1]["global_step"]),
            "steps_per_sec": int(rows[-1]["global_step"]) / float(rows[-1]["wall_time"]),
            "curve": {"steps": steps.tolist(), "returns": returns.tolist()}}


def plot(results: dict, path: Path) -> None:
    fig, (curves, bars) = plt.subplots(1, 2, figsize=(13, 4.5))
    for agent, runs in results["agents"].items():
        # Entries recorded before curves were kept in the JSON have none.
        with_curves = [(np.array(run["curve"]["steps"]), np.array(run["curve"]["returns"]))
                       for run in runs if "curve" in run]
        if with_curves:
            plot_mean_curve(curves, mean_of_curves(with_curves), agent, COLORS.get(agent))
    draw_references(curves, results["strategies"],
                    {"gittins": "--", "bayes_ucb": ":", "greedy": "-.", "random": "-"})
    curves.set_xlabel("environment steps")
    curves.set_ylabel("held-out return (2,000 tasks)")
    curves.set_title(f"{results['env_id']}: learning curves")
    curves.legend(fontsize=8, loc="lower right")

    rows = [(f"{agent} agent", s["mean"], s["stderr"]) for agent, s in results["agent_summary"].items()]
    rows += [(f"{agent} agent, greedy", s["greedy"]["mean"], s["greedy"]["stderr"])
             for agent, s in results["agent_summary"].items()]
    rows += [(name, s["mean"], s["stderr"]) for name, s in results["strategies"].items()]
    rows.sort(key=lambda row: row[1])
    bars.barh([r[0] for r in rows], [r[1] for r in rows], xerr=[r[2] for r in rows], capsize=3,
              color=[to_rgba(COLORS.get(r[0].split(" agent")[0], "tab:gray"),
                             0.5 if r[0].endswith("greedy") else 1.0) for r in rows])
    for i, (_, mean, _) in enumerate(rows):
        bars.text(mean + 0.5, i, f"{mean:.2f}", va="center", fontsize=8)
    bars.set_xlabel(f"mean return on {results['num_tasks']:,} held-out tasks (± s.e.)")
    bars.set_title("final performance")
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="belief_rl/Bandit-v0")
    parser.add_argument("--agents", nargs="+", default=["belief", "aux_head", "rnn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--preset", default="full")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides for every run (KEY=VALUE)")
    parser.add_argument("--num-tasks", type=int, default=10_000)
    parser.add_argument("--eval-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/bandit"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(2)
    start = time.perf_counter()
    recorded = recorded_runs(args)
    for agent in args.agents:
        for seed in args.seeds:
            if (agent, seed) not in recorded:
                train_and_evaluate(agent, seed, args)
    # The summary covers every finished run of the listed agents in --out (and the recorded ones whose
    # directories are gone), so seeds can be added later (e.g. --agents belief --seeds 1) without retraining
    # the others.
    agents: dict[str, list[dict]] = {}
    for (agent, _), run in recorded.items():
        agents.setdefault(agent, []).append({**run, "recorded": True})
    for agent in args.agents:
        for run_dir in sorted((args.out / "runs").glob(f"{agent}_seed*")):
            if is_evaluated(run_dir, args):
                agents.setdefault(agent, []).append(run_entry(run_dir))
    for runs in agents.values():
        runs.sort(key=lambda run: run["seed"])
    agent_summary = {}
    for agent, runs in agents.items():
        agent_summary[agent] = {**seed_summary(runs, ""), "greedy": seed_summary(runs, "greedy_"),
                                "num_seeds": len(runs)}
    results = {
        "env_id": args.env, "num_tasks": args.num_tasks, "eval_seed": args.eval_seed, "preset": args.preset,
        "overrides": args.set, "machine": machine_description(),
        "agents": agents, "agent_summary": agent_summary,
        "strategies": evaluate_strategies(args.env, {}, args.num_tasks, args.eval_seed),
        "benchmark_wall_time_s": round(time.perf_counter() - start, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "benchmark.json", json.dumps(results, indent=2).encode())
    plot(results, args.out / "benchmark.png")
    for agent, summary in agent_summary.items():
        runs = agents[agent]
        print(f"{agent:>9}: {summary['mean']:.2f} ± {summary['stderr']:.2f} stochastic, "
              f"{summary['greedy']['mean']:.2f} ± {summary['greedy']['stderr']:.2f} greedy  "
              f"({len(runs)} seed(s), {np.mean([r['train_wall_time_s'] for r in runs]) / 60:.1f} min, "
              f"{np.mean([r['steps_per_sec'] for r in runs]):,.0f} steps/s)")
    for name, s in sorted(results["strategies"].items(), key=lambda kv: -kv[1]["mean"]):
        print(f"{name:>9}: {s['mean']:.2f} ± {s['stderr']:.2f}")
    print(f"wrote {args.out / 'benchmark.json'} and {args.out / 'benchmark.png'}")


if __name__ == "__main__":
    main()
