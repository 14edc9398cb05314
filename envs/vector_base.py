"""Argument checks and per-sub-env seeding shared by the natively batched envs.

Bandit, Semicircle and NumPad follow one contract (see :mod:`envs.bandit`): a
finite task set split into train and validation, and vector envs whose sub-env
``i`` reset with seed ``s`` replays the single env seeded with ``s + i``. The
pieces of that contract that do not depend on the env live here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils import seeding

SPLITS = ("train", "validation")

#: What ``VectorEnv.reset`` accepts as ``seed``.
VectorSeed = int | Sequence[int | None] | None


def validate_task_set_args(num_tasks: int | None, split: str, num_validation_tasks: int | None) -> None:
    """Check the finite-task-set arguments common to every env.

    ``num_validation_tasks`` None stands for a default the env resolves later
    (NumPad); the checks on it are then left to a second call with the resolved value.
    """
    if num_tasks is not None and num_tasks < 1:
        raise ValueError(f"num_tasks must be None or >= 1, got {num_tasks}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'validation'")
    if num_validation_tasks is None:
        return
    if num_validation_tasks < 0:
        raise ValueError(f"num_validation_tasks must be >= 0, got {num_validation_tasks}")
    if num_tasks is not None and split == "validation" and num_validation_tasks < 1:
        raise ValueError("split='validation' with a finite task set needs num_validation_tasks >= 1")


def check_num_envs(num_envs: int) -> None:
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")


def seed_generators(rngs: list[np.random.Generator | None], seed: VectorSeed) -> int | None:
    """Reseed the sub-envs' generators in place, as ``VectorEnv.reset(seed=seed)`` asks.

    An int ``s`` seeds sub-env ``i`` with ``s + i`` (so it replays a single env
    seeded with ``s + i``); a sequence gives one seed (or None) per sub-env; None
    keeps each generator, seeding it from fresh entropy on first use.

    Returns:
        The seed for the vector env's own generator (``VectorEnv.reset(seed=...)``):
        ``seed`` if it is an int, else None (which leaves that generator alone).
    """
    own_seed = None
    if seed is None:
        seeds: list[int | None] = [None] * len(rngs)
    elif isinstance(seed, (int, np.integer)):
        own_seed = int(seed)
        seeds = [own_seed + i for i in range(len(rngs))]
    else:
        seeds = list(seed)
        if len(seeds) != len(rngs):
            raise ValueError(f"expected {len(rngs)} seeds, got {len(seeds)}")
    for i, s in enumerate(seeds):
        if s is not None or rngs[i] is None:
            rngs[i], _ = seeding.np_random(s)
    return own_seed


def check_task_shape(task: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``options["task"]`` as a fresh float64 array of ``shape``, or a ValueError."""
    t = np.array(task, dtype=np.float64)
    if t.shape != shape:
        raise ValueError(f"options['task'] must have shape {shape}, got {t.shape}")
    return t


def broadcast_task(task: Any, num_envs: int, task_shape: tuple[int, ...]) -> np.ndarray:
    """A vector env's float64 ``options["task"]``: one task of ``task_shape`` is given to every sub-env.

    Any other shape is returned as it is, for the caller's shape check to report.
    """
    t = np.asarray(task, dtype=np.float64)
    if t.shape == task_shape:
        t = np.broadcast_to(t, (num_envs, *task_shape))
    return t


def check_actions(actions: Any, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """Continuous actions as float64 of ``shape``, first cast to the action space's ``dtype``.

    Out-of-range values are left for the env to clip; NaN and non-numbers raise ValueError.
    """
    try:
        a = np.asarray(actions, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"actions must be numeric, got {actions!r}") from None
    if a.shape != shape:
        raise ValueError(f"actions must have shape {shape}, got {a.shape}")
    if np.isnan(a).any():
        raise ValueError("actions must not be NaN")
    return a.astype(np.float64)


class TaskVectorEnv(gymnasium.vector.VectorEnv):
    """The reset every natively batched env shares: check the given tasks, reseed, reset every sub-env.

    Subclasses keep one generator per sub-env in ``_rngs`` and implement ``_check_tasks`` (``options["task"]``
    as a ``[num_envs, ...]`` array, or a ValueError), ``_reset_subenvs`` (used by autoreset too) and
    ``_reset_result`` (the observations and info of a fresh meta-episode).
    """

    _rngs: list[np.random.Generator | None]

    def reset(self, *, seed: VectorSeed = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env.

        Args:
            seed: As in :func:`seed_generators`: an int ``s`` seeds sub-env ``i`` with ``s + i``; a sequence
                gives one seed (or None) per sub-env; None keeps each sub-env's generator.
            options: ``{"task": array}`` of shape ``[num_envs, *task shape]`` (or one task, for all
                sub-envs) fixes the tasks of this meta-episode.
        """
        tasks = None
        if options is not None and "task" in options:
            tasks = self._check_tasks(options["task"])
        # After the task check, so that a rejected reset leaves the generators alone.
        super().reset(seed=seed_generators(self._rngs, seed))
        self._reset_subenvs(np.arange(self.num_envs), tasks)
        return self._reset_result()

    def _check_tasks(self, task: Any) -> np.ndarray:
        raise NotImplementedError

    def _reset_subenvs(self, indices: np.ndarray, tasks: np.ndarray | None) -> None:
        raise NotImplementedError

    def _reset_result(self) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError
