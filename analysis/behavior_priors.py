"""Learned behavior priors on the multi-task ball arenas (after Tirumala et al., Figs. 3 and 5): learning from
scratch with and without a learned default policy, and transfer of a trained prior to a harder task.

Runs the given sweep specs in order on Ray Tune (``belief-rl sweep`` underneath: finished trials are skipped,
killed ones resume), so a transfer spec can name the trials of a pretraining spec that runs before it. Then,
for the last spec, groups its trials by setting and writes into ``--out``:

- ``behavior_priors.json``: per setting and seed, the environment steps until the periodic evaluation's
  success rate first reaches ``--success`` (80% by default), the final return and success rate, and the final
  KL(π ‖ π0) (the two-level bound for hierarchical agents); per setting, mean ± s.e. over seeds;
- ``behavior_priors.png``: success rate and return during training per setting, mean ± s.e. over seeds.

    python analysis/behavior_priors.py --spec analysis/sweeps/behavior_priors_t1.toml \\
        --out results/behavior_priors/t1
    python analysis/behavior_priors.py --spec analysis/sweeps/behavior_priors_t2_pretrain.toml \\
        analysis/sweeps/behavior_priors_t2.toml --out results/behavior_priors/t2
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.errors import BeliefRLError  # noqa: E402
from belief_rl.experiments import machine_description, read_metrics  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402
from belief_rl.stats import mean_stderr  # noqa: E402
from belief_rl.sweep import SweepSpec, run_sweep  # noqa: E402
from belief_rl.sweep.results import finished_trials, read_invocations, trial_dir  # noqa: E402

KL_KEYS = ("prior_kl", "prior_kl_high", "prior_kl_low")


def _number(row: dict[str, Any], key: str) -> float:
    value = row.get(key)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def trial_result(run_dir: Path, success_level: float) -> dict[str, Any]:
    """One run's curve, steps to ``success_level`` and final numbers, from its metrics."""
    rows = read_metrics(run_dir)
    evals = [row for row in rows if not math.isnan(_number(row, "eval_return"))]
    steps = [int(_number(row, "global_step")) for row in evals]
    success = [_number(row, "eval_success") for row in evals]
    reached = next((step for step, rate in zip(steps, success) if rate >= success_level), None)
    tail = rows[-10:]
    kl = sum(np.nanmean([_number(row, key) for row in tail]) for key in KL_KEYS
             if any(key in row for row in tail))
    returns = [_number(r, "eval_return") for r in evals]
    return {"run_dir": str(run_dir), "steps": steps, "eval_return": returns,
            "eval_success": success, "steps_to_success": reached, "total_steps": steps[-1] if steps else 0,
            "final_return": float(np.mean(returns[-3:])) if evals else None,
            "final_success": float(np.mean(success[-3:])) if evals else None,
            "final_kl": float(kl) if any(key in rows[-1] for key in KL_KEYS) else None,
            "wall_time_s": _number(rows[-1], "wall_time") if rows else None}


def summarize_setting(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± s.e. over seeds; steps to success over the seeds that got there (how many did is reported)."""
    reached = [r["steps_to_success"] for r in results if r["steps_to_success"] is not None]
    summary: dict[str, Any] = {"seeds": len(results), "seeds_reaching": len(reached)}
    for key, values in (("steps_to_success", reached),
                        ("final_return", [r["final_return"] for r in results]),
                        ("final_success", [r["final_success"] for r in results]),
                        ("final_kl", [r["final_kl"] for r in results if r["final_kl"] is not None])):
        if values:
            mean, stderr = mean_stderr(np.array(values, dtype=float))
            summary[key] = {"mean": float(mean), "stderr": float(stderr)}
    return summary


def plot(settings: dict[str, list[dict[str, Any]]], success_level: float, title: str, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for color, (label, results) in zip(plt.get_cmap("tab10").colors, settings.items()):
        length = min(len(r["steps"]) for r in results)
        if length == 0:
            continue
        steps = np.array(results[0]["steps"][:length])
        for ax, key in zip(axes, ("eval_success", "eval_return")):
            values = np.array([r[key][:length] for r in results])
            mean = values.mean(0)
            stderr = values.std(0, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.zeros(length)
            ax.plot(steps, mean, color=color, label=f"{label} ({len(values)} seeds)")
            ax.fill_between(steps, mean - stderr, mean + stderr, color=color, alpha=0.2)
    axes[0].axhline(success_level, color="gray", linestyle=":", linewidth=1)
    axes[0].set_ylabel("success rate (held-out episodes)")
    axes[1].set_ylabel("return")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    save_figure(fig, path)


def _wall_time(sweep_dir: Path) -> float:
    """A sweep's wall time over all its invocations."""
    return round(sum(i["wall_time_s"] for i in read_invocations(sweep_dir)), 1)


def setting_label(settings: dict[str, str]) -> str:
    """A trial's variant label, or a short one made from its own settings."""
    if "label" in settings:
        return settings["label"]
    return ", ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in settings.items()) or "base"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, nargs="+", required=True,
                        help="sweep specs, run in order; the last one is analyzed")
    parser.add_argument("--out", type=Path, required=True, help="results directory (sweeps go to OUT/<name>)")
    parser.add_argument("--success", type=float, default=0.8, help="success rate that counts as solved")
    parser.add_argument("--max-concurrent", type=int, default=None,
                        help="trials at once (default: as many as fill the CPUs)")
    parser.add_argument("--no-train", action="store_true", help="analyze the finished trials only")
    args = parser.parse_args()

    specs = [SweepSpec.from_file(path) for path in args.spec]
    if not args.no_train:
        for spec in specs:
            run_sweep(spec, args.out / spec.name, max_concurrent=args.max_concurrent)
    spec = specs[-1]
    sweep_dir = args.out / spec.name
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        finished = finished_trials(spec, sweep_dir)
    except BeliefRLError as exc:
        parser.error(str(exc))
    for trial in finished:
        groups[setting_label(trial.settings())].append(
            {"seed": trial.seed, **trial_result(trial_dir(sweep_dir, trial), args.success)})
    results = {"specs": [s.to_dict() for s in specs], "success_level": args.success,
               "machine": machine_description(),
               "sweep_wall_time_s": {s.name: _wall_time(args.out / s.name) for s in specs},
               "settings": {label: {"summary": summarize_setting(trials), "trials": trials}
                            for label, trials in groups.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "behavior_priors.json", json.dumps(results, indent=2).encode())
    if groups:
        plot(groups, args.success, f"{spec.env}: learned behavior priors", args.out / "behavior_priors.png")
    print(f"{'setting':60} {'seeds':>5} {'steps to ' + format(args.success, '.0%'):>20} {'return':>14} "
          f"{'KL(π‖π0)':>12}")
    for label, trials in groups.items():
        s = summarize_setting(trials)
        steps = (f"{s['steps_to_success']['mean']:9,.0f} ± {s['steps_to_success']['stderr']:7,.0f}"
                 if "steps_to_success" in s else "not reached")
        kl = f"{s['final_kl']['mean']:6.2f} ± {s['final_kl']['stderr']:4.2f}" if "final_kl" in s else "-"
        print(f"{label:60} {s['seeds_reaching']}/{s['seeds']:<3} {steps:>20} "
              f"{s['final_return']['mean']:6.1f} ± {s['final_return']['stderr']:4.1f} {kl:>12}")
    print(f"wrote {args.out / 'behavior_priors.json'} and {args.out / 'behavior_priors.png'}")


if __name__ == "__main__":
    main()
