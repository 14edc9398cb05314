"""A sweep's state and summary table, read from its run directories alone (no Ray needed).

The summary is rebuilt from the runs every time, so it is the same whether the trials ran in this
invocation, an earlier one, or on another machine of a cluster that shares the sweep directory.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any

from belief_rl.checkpoint import CHECKPOINT_NAME, CheckpointError, atomic_write_bytes, load_checkpoint
from belief_rl.errors import BeliefRLError
from belief_rl.experiments import read_metrics
from belief_rl.runs import CONFIG_NAME, config_differences, read_config
from belief_rl.sweep.spec import SweepSpec, Trial

TRIALS_DIR = "trials"
SUMMARY_JSON, SUMMARY_CSV = "summary.json", "summary.csv"
INVOCATIONS_JSON = "invocations.json"

FINISHED, UNFINISHED, NOT_STARTED, FAILED = "finished", "unfinished", "not started", "failed"


class TrialMismatchError(CheckpointError):
    """A trial's run directory holds a run trained with other settings than the spec now gives it."""


def trial_dir(sweep_dir: Path, trial: Trial) -> Path:
    """Where a trial's run directory lives."""
    return Path(sweep_dir) / TRIALS_DIR / trial.name


def trained_steps(run_dir: Path) -> tuple[int, int] | None:
    """``(steps in the last checkpoint, the run's step budget)``, or None for a run that has not
    checkpointed yet. A run is finished when the first reaches the second."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).exists() or not (run_dir / CHECKPOINT_NAME).exists():
        return None
    payload = load_checkpoint(run_dir / CHECKPOINT_NAME)
    return int(payload["global_step"]), read_config(run_dir).total_steps


def trial_progress(spec: SweepSpec, sweep_dir: Path, trial: Trial) -> tuple[int, int] | None:
    """``(steps in the trial's last checkpoint, the spec's step budget)``, or None for a trial that has not
    checkpointed yet. The trial is finished when the first reaches the second.

    The budget is the spec's, not the run's: a spec that raises ``total_steps`` extends finished trials, one
    that lowers it finishes them early. Raises ValueError for the trial's invalid settings,
    :class:`CheckpointError` for a corrupt run directory and :class:`TrialMismatchError` for one trained with
    other settings (the spec was edited since).
    """
    config = spec.config(trial)
    run_dir = trial_dir(sweep_dir, trial)
    if (run_dir / CONFIG_NAME).exists():
        differences = config_differences(read_config(run_dir), config)
        if differences:
            raise TrialMismatchError(
                f"{run_dir} was trained with other settings than the spec gives trial {trial.name} (they "
                f"differ in {', '.join(differences)}): restore the spec, or move the run directory away")
    steps = trained_steps(run_dir)
    return None if steps is None else (steps[0], config.total_steps)


def is_finished(spec: SweepSpec, sweep_dir: Path, trial: Trial) -> bool:
    """Whether the trial's last checkpoint has the spec's whole step budget behind it (see
    :func:`trial_progress` for what it raises)."""
    steps = trial_progress(spec, sweep_dir, trial)
    return steps is not None and steps[0] >= steps[1]


def finished_trials(spec: SweepSpec, sweep_dir: Path) -> list[Trial]:
    """The spec's trials that have finished, in the spec's order. Trials with invalid settings never ran and
    are left out; a corrupt run directory or one trained with other settings raises (see
    :func:`trial_progress`), so that an analysis never mixes in results of another spec."""
    finished = []
    for trial in spec.trials():
        try:
            done = is_finished(spec, sweep_dir, trial)
        except ValueError:
            continue
        if done:
            finished.append(trial)
    return finished


def trial_row(spec: SweepSpec, sweep_dir: Path, trial: Trial, error: str | None = None) -> dict[str, Any]:
    """One line of the summary: the trial's settings, status, final and best metrics, wall time."""
    run_dir = trial_dir(sweep_dir, trial)
    row: dict[str, Any] = {"trial": trial.name, "seed": trial.seed, "settings": trial.settings(),
                           "run_dir": str(run_dir), "status": NOT_STARTED, "global_step": 0,
                           "total_steps": None, "final_eval_return": None, "best_eval_return": None,
                           "final_train_return": None, "wall_time_s": None, "steps_per_sec": None,
                           "error": error}
    try:
        steps = trial_progress(spec, sweep_dir, trial)
    except (ValueError, BeliefRLError) as exc:  # reported, not fatal: the other trials still get their rows
        steps, row["error"] = None, error or str(exc)
    if steps is not None:
        row["global_step"], row["total_steps"] = steps
        row["status"] = FINISHED if steps[0] >= steps[1] else UNFINISHED
        metrics = [r for r in read_metrics(run_dir) if int(float(r["global_step"])) <= steps[0]]
        evals = [float(r["eval_return"]) for r in metrics if r["eval_return"] not in ("", "nan")]
        if metrics:
            last = metrics[-1]
            row["final_train_return"] = float(last["train_return"])
            row["wall_time_s"] = float(last["wall_time"])
            row["steps_per_sec"] = steps[0] / row["wall_time_s"] if row["wall_time_s"] > 0 else None
        if evals:
            row["final_eval_return"], row["best_eval_return"] = evals[-1], max(evals)
    if row["error"] is not None and row["status"] != FINISHED:
        row["status"] = FAILED
    return row


class InvocationLog:
    """``invocations.json`` in a sweep directory: when each ``run_sweep`` call started, how many trials it ran
    and how long it has run so far (refreshed while it runs, so a killed invocation keeps its time). A sweep
    resumed across several invocations has as wall time the sum of theirs."""

    def __init__(self, sweep_dir: Path, trials_to_run: int) -> None:
        self.path = Path(sweep_dir) / INVOCATIONS_JSON
        self.entries = read_invocations(sweep_dir)
        self.entry = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "trials_to_run": trials_to_run,
                      "wall_time_s": 0.0}
        self.entries.append(self.entry)
        self.started = time.monotonic()
        self.touch()

    def touch(self) -> None:
        """Record the time this invocation has run so far."""
        self.entry["wall_time_s"] = round(time.monotonic() - self.started, 1)
        atomic_write_bytes(self.path, json.dumps(self.entries, indent=2).encode())


def read_invocations(sweep_dir: Path) -> list[dict[str, Any]]:
    """The invocation log of a sweep directory (empty if none or unreadable)."""
    try:
        entries = json.loads((Path(sweep_dir) / INVOCATIONS_JSON).read_text())
    except (OSError, ValueError):
        return []
    return entries if isinstance(entries, list) else []


def write_summary(spec: SweepSpec, sweep_dir: Path, errors: dict[str, str], machine: str) -> dict[str, Any]:
    """Write ``summary.json`` and ``summary.csv`` (one row per trial) into the sweep directory; return the
    JSON document. ``errors`` maps trial names to the one-line reason they failed. The sweep's wall time is
    the sum over the invocations that ran it (see :class:`InvocationLog`)."""
    sweep_dir = Path(sweep_dir)
    rows = [trial_row(spec, sweep_dir, trial, errors.get(trial.name)) for trial in spec.trials()]
    counts = {status: sum(row["status"] == status for row in rows)
              for status in (FINISHED, UNFINISHED, NOT_STARTED, FAILED)}
    invocations = read_invocations(sweep_dir)
    summary = {"name": spec.name, "spec": spec.to_dict(), "machine": machine, "counts": counts,
               "sweep_wall_time_s": round(sum(float(i.get("wall_time_s", 0.0)) for i in invocations), 1),
               "invocations": invocations,
               "trial_wall_time_s": sum(row["wall_time_s"] or 0.0 for row in rows), "trials": rows}
    atomic_write_bytes(sweep_dir / SUMMARY_JSON, json.dumps(summary, indent=2).encode())
    atomic_write_bytes(sweep_dir / SUMMARY_CSV, _csv(rows).encode())
    return summary


def _csv(rows: list[dict[str, Any]]) -> str:
    """The rows with one column per varied setting (in the spec's order)."""
    setting_keys = list(dict.fromkeys(key for row in rows for key in row["settings"]))
    fields = ["trial", *setting_keys, "seed", "status", "global_step", "total_steps", "final_eval_return",
              "best_eval_return", "final_train_return", "wall_time_s", "steps_per_sec", "error"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        flat = {key: _cell(value) for key, value in row.items() if key in fields}
        writer.writerow({**flat, **row["settings"]})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 4)
    return "" if value is None else value


def format_summary(summary: dict[str, Any]) -> str:
    """A terminal table: one line per trial."""
    counts = ", ".join(f"{n} {status}" for status, n in summary["counts"].items() if n)
    lines = [f"sweep {summary['name']}: {counts}"]
    width = max((len(row["trial"]) for row in summary["trials"]), default=5)
    lines.append(f"{'trial':{width}}  {'status':11} {'steps':>10} {'eval':>8} {'best':>8} {'minutes':>8}")
    for row in summary["trials"]:
        final, best = (f"{row[k]:8.2f}" if row[k] is not None else f"{'-':>8}"
                       for k in ("final_eval_return", "best_eval_return"))
        minutes = f"{row['wall_time_s'] / 60:8.1f}" if row["wall_time_s"] is not None else f"{'-':>8}"
        lines.append(f"{row['trial']:{width}}  {row['status']:11} {row['global_step']:>10,} {final} {best} "
                     f"{minutes}")
        if row["error"]:
            lines.append(f"{'':{width}}  error: {row['error']}")
    return "\n".join(lines)
