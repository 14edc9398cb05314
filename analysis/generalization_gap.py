"""The generalization gap: return on the training tasks vs on held-out tasks, as the number of training tasks
and the information bottleneck's strength β vary (after Humplik et al. 2019, "Meta reinforcement learning as
task inference").

Runs the sweep in ``--spec`` on Ray Tune (``belief-rl sweep`` underneath: finished trials are skipped, killed
ones resume), then evaluates every finished trial with its stochastic policy on tasks of its own training set
and on held-out tasks of the disjoint validation split (cached in each run directory), and writes into
``--out``:

- ``generalization_gap.json``: every trial's numbers and, per (agent, β, training-set size), mean ± s.e. over
  seeds of the training return, the held-out return and their difference (the gap), the mean of the periodic
  held-out evaluations over training (``curve_mean``: the area under the learning curve per evaluation, a
  measure of sample efficiency), and the bottleneck's KL; and each β > 0 paired with β = 0 seed by seed (the
  change in gap, in held-out return and in ``curve_mean``);
- ``generalization_gap.png``: training and held-out return vs the number of training tasks (log x), the gap,
  and held-out learning curves per β at chosen training-set sizes (sample efficiency).

    python analysis/generalization_gap.py --spec analysis/sweeps/generalization_gap_bandit.toml \\
        --out results/generalization_gap/bandit
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.errors import BeliefRLError  # noqa: E402
from belief_rl.evaluation import evaluate_agent  # noqa: E402
from belief_rl.experiments import learning_curve, mean_curve, read_metrics, sweep_machine_description  # noqa: E402
from belief_rl.plotting import plot_mean_curve, save_figure  # noqa: E402
from belief_rl.runs import load_agent  # noqa: E402
from belief_rl.stats import mean_stderr  # noqa: E402
from belief_rl.sweep import SweepSpec, run_sweep  # noqa: E402
from belief_rl.sweep.results import finished_trials, read_invocations, trained_steps, trial_dir  # noqa: E402

CACHE_NAME = "generalization.json"
UNLIMITED = "unlimited"
#: The per-trial numbers averaged over seeds, and (all but the training return) paired with β = 0.
CELL_KEYS = ("train_return", "held_out_return", "gap", "curve_mean")
PAIRED_KEYS = ("gap", "held_out_return", "curve_mean")


def evaluate_trial(run_dir: Path, num_tasks: int, eval_seed: int) -> dict[str, Any]:
    """A trained run's mean return on its training tasks and on held-out tasks (stochastic policy), its
    setting, and its bottleneck KL at the end of training; cached in the run directory."""
    cache = run_dir / CACHE_NAME
    if cache.exists():
        cached = json.loads(cache.read_text())
        # A trial extended since (a larger step budget) is evaluated again.
        key = (num_tasks, eval_seed, trained_steps(run_dir)[0])
        if (cached["num_tasks"], cached["eval_seed"], cached["trained_steps"]) == key:
            return cached
    agent, config, payload = load_agent(run_dir)
    returns = {split: evaluate_agent(agent, config.env_id, config.env_kwargs, num_tasks, eval_seed,
                                     training_tasks=split == "train").returns
               for split in ("train", "held_out")}
    tail = read_metrics(run_dir)[-10:]
    kl = [float(row["bottleneck_kl"]) for row in tail if row.get("bottleneck_kl") not in (None, "", "nan")]
    result = {"run_dir": str(run_dir), "num_tasks": num_tasks, "eval_seed": eval_seed,
              "agent": config.agent.kind, "ib_beta": config.agent.ib_beta,
              "train_tasks": config.env_kwargs.get("num_tasks"), "seed": config.seed,
              "trained_steps": int(payload["global_step"]), "train_wall_time_s": float(tail[-1]["wall_time"]),
              "train_return": float(returns["train"].mean()),
              "held_out_return": float(returns["held_out"].mean()),
              "bottleneck_kl": float(np.mean(kl)) if kl else None}
    result["gap"] = result["train_return"] - result["held_out_return"]
    atomic_write_bytes(cache, json.dumps(result, indent=2).encode())
    return result


def setting_label(agent: str, beta: float) -> str:
    return f"{agent} β={beta:g}" if agent == "belief" else agent


def aggregate(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± s.e. over seeds per (agent, β, training-set size)."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for trial in trials:
        groups[(trial["agent"], trial["ib_beta"], trial["train_tasks"])].append(trial)
    cells = []
    for (agent, beta, size), members in sorted(groups.items(), key=lambda item: (
            item[0][0], item[0][1], math.inf if item[0][2] is None else item[0][2])):
        cell: dict[str, Any] = {"agent": agent, "ib_beta": beta, "train_tasks": size if size else UNLIMITED,
                                "seeds": sorted(m["seed"] for m in members)}
        for key in CELL_KEYS:
            mean, stderr = mean_stderr(np.array([m[key] for m in members]))
            cell[key] = {"mean": float(mean), "stderr": float(stderr)}
        kls = [m["bottleneck_kl"] for m in members if m["bottleneck_kl"] is not None]
        cell["bottleneck_kl"] = float(np.mean(kls)) if kls else None
        cells.append(cell)
    return cells



def paired_differences(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each bottleneck strength against β = 0, seed by seed: the change in gap, in held-out return and in the
    learning curve's mean, mean ± s.e. over the seeds both trained. A seed draws the same training tasks at
    every β, so pairing removes the spread that comes from which tasks were drawn."""
    by_key = {(t["agent"], t["ib_beta"], t["train_tasks"], t["seed"]): t for t in trials}
    groups: dict[tuple, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for (agent, beta, size, seed), trial in by_key.items():
        baseline = by_key.get((agent, 0.0, size, seed))
        if beta != 0.0 and baseline is not None:
            groups[(agent, beta, size)].append((trial, baseline))
    rows = []
    for (agent, beta, size), pairs in sorted(groups.items(), key=lambda item: (
            item[0][0], item[0][1], math.inf if item[0][2] is None else item[0][2])):
        row: dict[str, Any] = {"agent": agent, "ib_beta": beta, "train_tasks": size if size else UNLIMITED,
                               "seeds": sorted(trial["seed"] for trial, _ in pairs)}
        for key in PAIRED_KEYS:
            mean, stderr = mean_stderr(np.array([trial[key] - baseline[key] for trial, baseline in pairs]))
            row[key] = {"mean": float(mean), "stderr": float(stderr)}
        rows.append(row)
    return rows


def _x_positions(sizes: list[Any]) -> dict[Any, float]:
    """Log-spaced x for finite sizes; "unlimited" one decade past the largest."""
    finite = sorted(s for s in sizes if s != UNLIMITED)
    positions = {s: float(s) for s in finite}
    if UNLIMITED in sizes:
        positions[UNLIMITED] = (finite[-1] if finite else 1.0) * 10.0
    return positions


def plot(cells: list[dict[str, Any]], curves: dict[Any, dict[str, dict]], title: str, path: Path) -> None:
    """Returns vs training-set size, the gap, and one learning-curve panel per entry of ``curves``."""
    settings = list(dict.fromkeys(setting_label(c["agent"], c["ib_beta"]) for c in cells))
    colors = dict(zip(settings, plt.get_cmap("tab10").colors))
    positions = _x_positions(list(dict.fromkeys(c["train_tasks"] for c in cells)))
    num_panels = 2 + len(curves)
    columns = num_panels if num_panels <= 3 else math.ceil(num_panels / 2)
    rows = math.ceil(num_panels / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.7 * columns, 4.8 * rows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[num_panels:]:
        ax.set_visible(False)
    for label in settings:
        rows = [c for c in cells if setting_label(c["agent"], c["ib_beta"]) == label]
        x = [positions[c["train_tasks"]] for c in rows]
        for key, style, name in (("train_return", "--", "train"), ("held_out_return", "-", "held-out")):
            mean = np.array([c[key]["mean"] for c in rows])
            se = np.nan_to_num(np.array([c[key]["stderr"] for c in rows]))
            axes[0].errorbar(x, mean, yerr=se, fmt="o" + style, color=colors[label], capsize=3,
                             label=f"{label} ({name})", alpha=0.9 if name == "held-out" else 0.6)
        gap = np.array([c["gap"]["mean"] for c in rows])
        axes[1].errorbar(x, gap, yerr=np.nan_to_num([c["gap"]["stderr"] for c in rows]), fmt="o-",
                         color=colors[label], capsize=3, label=label)
    for ax in axes[:2]:
        ax.set_xscale("log")
        ax.set_xticks(list(positions.values()), [str(s) for s in positions])
        ax.minorticks_off()
        ax.set_xlabel("training tasks")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean return (stochastic policy)")
    axes[0].set_title("training vs held-out tasks")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].axhline(0.0, color="gray", linewidth=0.8)
    axes[1].set_ylabel("train − held-out return")
    axes[1].set_title("generalization gap (mean ± s.e. over seeds)")
    axes[1].legend(fontsize=8)
    for ax, (size, by_setting) in zip(axes[2:], curves.items()):
        for label, curve in by_setting.items():
            plot_mean_curve(ax, curve, label, colors.get(label))
        ax.set_xlabel("environment steps")
        ax.set_ylabel("held-out return during training")
        ax.set_title(f"sample efficiency at {size} training tasks")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    save_figure(fig, path)


def curve_sizes(requested: list[str] | None, cells: list[dict[str, Any]]) -> list[Any]:
    """The training-set sizes to draw learning curves at: ``requested`` ("none" or "unlimited" for fresh
    tasks), else the smallest finite size and unlimited, whichever the grid has."""
    sizes = list(dict.fromkeys(c["train_tasks"] for c in cells))
    if requested is None:
        finite = [s for s in sizes if s != UNLIMITED]
        return ([min(finite)] if finite else []) + ([UNLIMITED] if UNLIMITED in sizes else [])
    chosen = [UNLIMITED if s in (UNLIMITED, "none") else int(s) for s in requested]
    missing = [s for s in chosen if s not in sizes]
    if missing:
        raise ValueError(f"--curve-sizes {missing} are not among the grid's sizes {sizes}")
    return chosen


def learning_curves(trials: list[dict[str, Any]], size: Any) -> dict[str, dict]:
    """Per setting, the mean ± s.e. held-out learning curve of the trials trained on ``size`` tasks."""
    curves = {}
    for label in dict.fromkeys(setting_label(t["agent"], t["ib_beta"]) for t in trials):
        dirs = [Path(t["run_dir"]) for t in trials if setting_label(t["agent"], t["ib_beta"]) == label
                and (t["train_tasks"] or UNLIMITED) == size]
        if dirs:
            curves[label] = mean_curve(dirs)
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, required=True, help="sweep spec (see analysis/sweeps/)")
    parser.add_argument("--out", type=Path, required=True,
                        help="results directory (the sweep goes to OUT/sweep)")
    parser.add_argument("--address", default=None, help="a running Ray cluster (default: local)")
    parser.add_argument("--max-concurrent", type=int, default=None)
    parser.add_argument("--eval-tasks", type=int, default=2000,
                        help="meta-episodes per evaluation, on training and on held-out tasks")
    parser.add_argument("--eval-seed", type=int, default=0)
    parser.add_argument("--curve-sizes", nargs="+", default=None,
                        help="training-set sizes with a learning-curve panel, e.g. 10 none "
                             "(default: the smallest and unlimited)")
    parser.add_argument("--no-train", action="store_true", help="analyze the finished trials only")
    args = parser.parse_args()

    spec = SweepSpec.from_file(args.spec)
    sweep_dir = args.out / "sweep"
    if not args.no_train:
        run_sweep(spec, sweep_dir, address=args.address, max_concurrent=args.max_concurrent)
    run_dirs = [trial_dir(sweep_dir, trial) for trial in spec.trials()]
    try:
        finished = [trial_dir(sweep_dir, trial) for trial in finished_trials(spec, sweep_dir)]
    except BeliefRLError as exc:
        parser.error(str(exc))
    print(f"evaluating {len(finished)} of {len(run_dirs)} trials on {args.eval_tasks:,} training and "
          f"held-out tasks", flush=True)
    trials, start = [], time.monotonic()
    for done, run_dir in enumerate(finished, 1):
        trial = evaluate_trial(run_dir, args.eval_tasks, args.eval_seed)
        # Read afresh (not cached): cheap, and the same for every trial of a sweep's evaluation schedule.
        trial["curve_mean"] = float(np.mean(learning_curve(run_dir)[1]))
        trials.append(trial)
        elapsed = time.monotonic() - start
        eta = elapsed / done * (len(finished) - done)
        print(f"  [{done}/{len(finished)}] {run_dir.name}: train {trial['train_return']:.2f}, held-out "
              f"{trial['held_out_return']:.2f} | {elapsed:,.0f} s, ETA {eta:,.0f} s", flush=True)
    cells = aggregate(trials)
    try:
        sizes = curve_sizes(args.curve_sizes, cells)
    except ValueError as exc:
        parser.error(str(exc))
    curves = {size: learning_curves(trials, size) for size in sizes}

    env_id = spec.env or "belief_rl/Bandit-v0"
    results = {"env_id": env_id, "spec": spec.to_dict(), "eval_tasks": args.eval_tasks,
               "eval_seed": args.eval_seed, "policy": "stochastic",
               "machine": sweep_machine_description(spec.threads_per_trial),
               "num_trials": len(run_dirs), "num_finished": len(finished),
               "sweep_wall_time_s": round(sum(i["wall_time_s"] for i in read_invocations(sweep_dir)), 1),
               "trial_wall_time_s": sum(t["train_wall_time_s"] for t in trials),
               "cells": cells, "paired_vs_beta_0": paired_differences(trials),
               "curves": {str(size): by_setting for size, by_setting in curves.items()},
               "trials": trials}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "generalization_gap.json", json.dumps(results, indent=2).encode())
    if cells:
        plot(cells, curves, f"{env_id}: generalization gap vs training tasks and bottleneck β",
             args.out / "generalization_gap.png")
    print(f"{'setting':16} {'tasks':>9} {'train':>14} {'held-out':>14} {'gap':>14} {'curve mean':>14} "
          f"{'KL':>7}")
    for c in cells:
        kl = f"{c['bottleneck_kl']:7.2f}" if c["bottleneck_kl"] is not None else f"{'-':>7}"
        print(f"{setting_label(c['agent'], c['ib_beta']):16} {c['train_tasks']!s:>9} "
              + " ".join(f"{c[k]['mean']:7.2f} ± {c[k]['stderr']:4.2f}" for k in CELL_KEYS) + f" {kl}")
    if results["paired_vs_beta_0"]:
        print("paired with β = 0 seed by seed:")
        print(f"{'setting':16} {'tasks':>9} {'Δ gap':>14} {'Δ held-out':>14} {'Δ curve mean':>14}")
    for row in results["paired_vs_beta_0"]:
        print(f"{setting_label(row['agent'], row['ib_beta']):16} {row['train_tasks']!s:>9} " + " ".join(
            f"{row[k]['mean']:+7.2f} ± {row[k]['stderr']:4.2f}" for k in PAIRED_KEYS))
    print(f"wrote {args.out / 'generalization_gap.json'} and {args.out / 'generalization_gap.png'}")


if __name__ == "__main__":
    main()
