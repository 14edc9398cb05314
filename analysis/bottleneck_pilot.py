"""Where the information bottleneck binds: short belief-agent runs over a grid of β, to choose the β values
of the generalization-gap study (analysis/generalization_gap.py).

Runs the sweep in ``--spec`` on Ray Tune (``belief-rl sweep`` underneath: finished trials are skipped, killed
ones resume), then reads every finished trial's training metrics and writes into ``--out``:

- ``bottleneck_pilot.json``: per β (and seed), every update's bottleneck KL (nats per step, summed over the
  latent dimensions), task NLL, training return and held-out return, and a summary over the last ``--tail``
  updates;
- ``bottleneck_pilot.png``: the KL (log y), the task NLL and the periodic held-out return against environment
  steps per β.

The bottleneck binds at a β where the KL falls well below its β = 0 value while the task NLL still falls; it
is too strong where the KL collapses towards 0 and the NLL stays at its untrained value.

    python analysis/bottleneck_pilot.py --spec analysis/sweeps/bottleneck_pilot_semicircle.toml \\
        --out results/generalization_gap/semicircle/beta_pilot
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
from belief_rl.experiments import machine_description, read_metrics  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402
from belief_rl.runs import read_config  # noqa: E402
from belief_rl.sweep import SweepSpec, run_sweep  # noqa: E402
from belief_rl.sweep.results import read_invocations, trial_dir  # noqa: E402

COLUMNS = ("bottleneck_kl", "task_nll", "train_return", "eval_return")


def _number(value: str | None) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def trial_rows(run_dir: Path) -> list[dict[str, Any]]:
    """Every update's step and :data:`COLUMNS` (None where a column has no value)."""
    return [{"step": int(row["global_step"]), **{key: _number(row.get(key)) for key in COLUMNS}}
            for row in read_metrics(run_dir)]


def tail_summary(rows: list[dict[str, Any]], tail: int) -> dict[str, Any]:
    """Means of each column over the last ``tail`` updates that report it, and the last step."""
    summary: dict[str, Any] = {"step": rows[-1]["step"] if rows else 0}
    for key in COLUMNS:
        values = [row[key] for row in rows if row[key] is not None][-tail:]
        summary[key] = float(np.mean(values)) if values else None
    return summary


def plot(runs: dict[float, list[dict[str, Any]]], title: str, path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(len(runs), 1)))
    for color, (beta, trials) in zip(colors, sorted(runs.items())):
        for index, trial in enumerate(trials):
            label = f"β={beta:g}" if index == 0 else None
            rows = trial["rows"]
            for ax, key in zip(axes, ("bottleneck_kl", "task_nll", "eval_return")):
                points = [(row["step"], row[key]) for row in rows if row[key] is not None]
                if points:
                    steps, values = zip(*points)
                    ax.plot(steps, values, color=color, label=label, alpha=0.9)
    axes[0].set_yscale("log")
    for ax, name in zip(axes, ("bottleneck KL (nats per step)", "task NLL", "held-out return (periodic)")):
        ax.set_xlabel("environment steps")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, required=True, help="sweep spec over agent.ib_beta")
    parser.add_argument("--out", type=Path, required=True,
                        help="results directory (the sweep goes to OUT/sweep)")
    parser.add_argument("--max-concurrent", type=int, default=None)
    parser.add_argument("--tail", type=int, default=5, help="updates averaged in the summary")
    parser.add_argument("--no-train", action="store_true", help="analyze the existing trials only")
    args = parser.parse_args()

    spec = SweepSpec.from_file(args.spec)
    sweep_dir = args.out / "sweep"
    if not args.no_train:
        run_sweep(spec, sweep_dir, max_concurrent=args.max_concurrent)
    runs: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for trial in spec.trials():
        run_dir = trial_dir(sweep_dir, trial)
        if not (run_dir / "metrics.csv").exists():
            continue
        config = read_config(run_dir)
        rows = trial_rows(run_dir)
        runs[config.agent.ib_beta].append({"seed": config.seed, "run_dir": str(run_dir), "rows": rows,
                                           "summary": tail_summary(rows, args.tail)})
    env_id = spec.env or "belief_rl/Bandit-v0"
    results = {"env_id": env_id, "spec": spec.to_dict(), "machine": machine_description(), "tail": args.tail,
               "sweep_wall_time_s": round(sum(i["wall_time_s"] for i in read_invocations(sweep_dir)), 1),
               "runs": {f"{beta:g}": trials for beta, trials in sorted(runs.items())}}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "bottleneck_pilot.json", json.dumps(results, indent=2).encode())
    if runs:
        plot(runs, f"{env_id}: the belief bottleneck against β", args.out / "bottleneck_pilot.png")
    print(f"{'β':>8} {'seed':>4} {'steps':>10} {'KL':>9} {'task NLL':>9} {'train':>8} {'held-out':>9}")
    for beta, trials in sorted(runs.items()):
        for trial in trials:
            s = trial["summary"]
            cells = " ".join(f"{s[key]:{width}.2f}" if s[key] is not None else f"{'-':>{width}}"
                             for key, width in zip(COLUMNS, (9, 9, 8, 9)))
            print(f"{beta:8g} {trial['seed']:4d} {s['step']:10,d} {cells}")
    print(f"wrote {args.out / 'bottleneck_pilot.json'} and {args.out / 'bottleneck_pilot.png'}")


if __name__ == "__main__":
    main()
