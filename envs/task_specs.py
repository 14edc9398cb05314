"""Task specifications and finite task sets.

The environment owns the task: it samples one at ``reset()`` and reveals it in
``info["task"]`` (meta-training only). A :class:`TaskSpec` says how that array is
encoded so that ``belief_rl.task_heads`` can build a matching likelihood head. This
module is numpy-only so the environments do not depend on torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    """Base class: how ``info["task"]`` is encoded (one row per environment)."""

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one task array in ``info["task"]``."""
        raise NotImplementedError


@dataclass(frozen=True)
class BetaTask(TaskSpec):
    """``dim`` independent probabilities in (0, 1), e.g. bandit arm means."""

    dim: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.dim,)


@dataclass(frozen=True)
class CategoricalTask(TaskSpec):
    """One class index in ``[0, num_classes)``, e.g. a task id."""

    num_classes: int

    @property
    def shape(self) -> tuple[int, ...]:
        return ()


@dataclass(frozen=True)
class MultiCategoricalTask(TaskSpec):
    """``length`` class indices in ``[0, num_classes)``, e.g. a pad sequence."""

    num_classes: int
    length: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.length,)


@dataclass(frozen=True)
class GaussianTask(TaskSpec):
    """A real vector of size ``dim``, e.g. a goal position.

    ``low`` / ``high``, if known, bound every task (a box), which lets a learner
    model the belief as a histogram over the box instead of a Gaussian.
    """

    dim: int
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if (self.low is None) != (self.high is None):
            raise ValueError("GaussianTask needs both low and high, or neither")
        if self.low is not None and self.high is not None:
            if len(self.low) != self.dim or len(self.high) != self.dim:
                raise ValueError(f"GaussianTask bounds need {self.dim} entries, "
                                 f"got {self.low} and {self.high}")
            if not all(lo < hi for lo, hi in zip(self.low, self.high)):
                raise ValueError(f"GaussianTask needs low < high, got {self.low} and {self.high}")

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.dim,)


@dataclass(frozen=True, eq=False)  # eq on ndarray fields would be ambiguous
class TaskSet:
    """A finite pool of tasks split into disjoint train and validation sets.

    The first axis of each array indexes tasks; the remaining axes are one task
    as its env's :class:`TaskSpec` encodes it. The arrays are made read-only so
    a shared pool cannot be altered by one consumer behind another's back.
    """

    train: np.ndarray
    validation: np.ndarray

    def __post_init__(self) -> None:
        for name in ("train", "validation"):
            array = np.array(getattr(self, name))  # private copy, then freeze it
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    def tasks(self, split: str) -> np.ndarray:
        """The tasks of ``split`` (``"train"`` or ``"validation"``), first axis = task index."""
        if split == "train":
            return self.train
        if split == "validation":
            return self.validation
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'validation'")


def bandit_task_set(num_arms: int, num_train: int, num_validation: int, seed: int) -> TaskSet:
    """Draw a finite set of Bernoulli-bandit tasks ``p ~ U(0, 1)^num_arms``.

    One pool of ``num_validation + num_train`` tasks is drawn from
    ``np.random.default_rng(seed)`` and split by index, so the splits are
    disjoint. Validation comes first in the pool so that, for a fixed seed, the
    validation set does not depend on ``num_train`` and the train sets for
    growing ``num_train`` are nested: a generalization-gap sweep over
    ``num_train`` then measures every point against the same validation tasks.
    """
    if num_arms < 1:
        raise ValueError(f"num_arms must be >= 1, got {num_arms}")
    if num_train < 0 or num_validation < 0:
        raise ValueError(
            f"num_train and num_validation must be >= 0, got {num_train} and {num_validation}"
        )
    pool = np.random.default_rng(seed).uniform(0.0, 1.0, (num_validation + num_train, num_arms))
    return TaskSet(train=pool[num_validation:], validation=pool[:num_validation])


def semicircle_task_set(num_train: int, num_validation: int, seed: int, radius: float = 1.0) -> TaskSet:
    """Draw a finite set of Semicircle goals ``radius * (cos θ, sin θ)``, ``θ ~ U(0, π)``.

    Tasks are goal positions, float64 ``[n, 2]``. As in :func:`bandit_task_set`, one
    pool of angles is drawn from ``np.random.default_rng(seed)`` with validation first,
    so validation does not depend on ``num_train`` and growing train sets are nested.
    """
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be finite and > 0, got {radius}")
    if num_train < 0 or num_validation < 0:
        raise ValueError(
            f"num_train and num_validation must be >= 0, got {num_train} and {num_validation}"
        )
    angles = np.random.default_rng(seed).uniform(0.0, np.pi, num_validation + num_train)
    pool = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return TaskSet(train=pool[num_validation:], validation=pool[:num_validation])
