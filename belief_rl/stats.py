"""Mean ± standard error, the one summary every table and JSON of the package reports."""

from __future__ import annotations

import numpy as np


def mean_stderr(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean along ``axis`` (NaN where fewer than two values)."""
    values = np.asarray(values, dtype=np.float64)
    count = values.shape[axis]
    mean = values.mean(axis)
    if count < 2:
        return mean, np.full_like(mean, np.nan)
    return mean, values.std(axis, ddof=1) / np.sqrt(count)


def summarize(values: np.ndarray) -> dict[str, float]:
    """``{"mean", "stderr", "num_tasks"}`` of per-task returns (``stderr`` NaN for a single task)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    mean, stderr = mean_stderr(values)
    return {"mean": float(mean), "stderr": float(stderr), "num_tasks": int(values.size)}
