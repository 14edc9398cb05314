"""Helpers for benchmark scripts: resumable runs and learning curves across seeds."""

from __future__ import annotations

import csv
import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from belief_rl.config import TrainConfig
from belief_rl.runs import CONFIG_NAME
from belief_rl.stats import mean_stderr
from belief_rl.training import Trainer


def train_or_resume(run_dir: Path, config: dict[str, Any], progress: bool = True) -> Trainer:
    """Train the run in ``run_dir`` to completion: resume it (with its stored config) if it exists, else start
    ``config`` (a nested dict of :class:`TrainConfig` fields)."""
    run_dir = Path(run_dir)
    if (run_dir / CONFIG_NAME).exists():
        trainer = Trainer.resume(run_dir)
    else:
        trainer = Trainer.create(TrainConfig(**config), run_dir)
    if trainer.global_step < trainer.config.total_steps:
        trainer.train(progress=progress)
    return trainer


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's ``metrics.csv``."""
    with (Path(run_dir) / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def learning_curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(environment steps, held-out return)`` at the updates that evaluated."""
    rows = [r for r in read_metrics(run_dir) if r["eval_return"] not in ("", "nan")]
    return (np.array([float(r["global_step"]) for r in rows]),
            np.array([float(r["eval_return"]) for r in rows]))


def mean_curve(run_dirs: list[Path]) -> dict[str, list[float]]:
    """Learning curves of several seeds, cut to their common length: steps, mean and s.e. over seeds."""
    return mean_of_curves([learning_curve(run_dir) for run_dir in run_dirs])


def mean_of_curves(curves: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, list[float]]:
    """``(steps, returns)`` curves of several seeds, cut to their common length: steps, mean and s.e."""
    length = min(len(steps) for steps, _ in curves)
    values = np.stack([returns[:length] for _, returns in curves])
    mean, stderr = mean_stderr(values)
    return {"steps": curves[0][0][:length].tolist(), "mean": mean.tolist(), "stderr": stderr.tolist(),
            "num_seeds": len(values)}


def steps_to_reach(curve: dict[str, list[float]], level: float) -> float | None:
    """Environment steps at which a mean learning curve first reaches ``level`` (None if it never does)."""
    for steps, value in zip(curve["steps"], curve["mean"]):
        if value >= level:
            return steps
    return None


def machine_description(threads: str | None = None) -> str:
    """CPU architecture, core count, torch version and threads (default: this process's), for result files."""
    threads = threads or _thread_count(torch.get_num_threads())
    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {threads}"


def sweep_machine_description(threads_per_trial: int | None) -> str:
    """:func:`machine_description` with the threads each sweep trial trained with (None: as many as fill the
    CPUs), since a sweep's analysis trains nothing itself."""
    if threads_per_trial is None:
        return machine_description("threads per trial filling the CPUs")
    return machine_description(f"{_thread_count(threads_per_trial)} per trial")


def _thread_count(count: int) -> str:
    return f"{count} thread{'s' if count != 1 else ''}"


def committed_env_summaries(path: Path) -> dict[str, dict]:
    """The ``"envs"`` of a results JSON written earlier (empty if there is none)."""
    return json.loads(path.read_text())["envs"] if path.exists() else {}


def merge_env_summaries(previous_path: Path, summaries: dict[str, dict]) -> dict[str, dict]:
    """``summaries`` laid over the ``"envs"`` of the JSON at ``previous_path``: an empty summary
    keeps the old one.

    Run directories are not committed, so summarizing one env's runs must not erase another env's results.
    """
    previous = committed_env_summaries(previous_path)
    merged = {env_id: summary for env_id, summary in previous.items() if summary}
    merged.update({env_id: summary for env_id, summary in summaries.items()
                   if summary or env_id not in merged})
    return merged
