"""Gymnasium's MuJoCo ``Reacher-v5`` in the belief_rl protocol: the standard task for behavioral priors.

A two-link arm reaches a random target within 50 steps (gymnasium's definition,
unchanged: reward = −distance − control cost). It is not a meta-RL task (the
target is part of the observation), so a "meta-episode" is one 50-step episode.
The subclass only adds what belief_rl agents and learners expect: ``info["task"]``
(the target position, TaskSpec ``Gaussian(2)``), ``info["boundary"]`` and a
``task_spec`` on the (vector) env.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.envs.mujoco import reacher_v5

from belief_rl.envs.task_specs import GaussianTask

EPISODE_STEPS = 50  # gymnasium's registration of Reacher-v5
TASK_SPEC = GaussianTask(2)
_TARGET = slice(4, 6)  # where Reacher-v5's observation holds the target position


class ReacherEnv(reacher_v5.ReacherEnv):
    """``Reacher-v5`` (50-step episodes) with ``info["task"]`` (target xy) and ``info["boundary"]``.

    A subclass rather than a wrapper, so ``unwrapped`` carries ``task_spec``; the
    50-step limit that gymnasium's registration adds as a TimeLimit is kept here.
    """

    task_spec = TASK_SPEC

    def __init__(self, max_episode_steps: int = EPISODE_STEPS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_episode_steps = max_episode_steps
        self._elapsed = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        self._elapsed = 0
        return obs, {**info, "task": obs[_TARGET].copy(), "boundary": True}

    def step(self, action: np.ndarray):
        obs, reward, terminated, truncated, info = super().step(action)
        self._elapsed += 1
        truncated = truncated or self._elapsed >= self.max_episode_steps
        return obs, reward, terminated, truncated, {**info, "task": obs[_TARGET].copy(), "boundary": False}


class ReacherVectorEnv(gymnasium.vector.SyncVectorEnv):
    """``num_envs`` :class:`ReacherEnv` s stepped in one process (sub-env ``i`` seeded ``seed + i``)."""

    task_spec = TASK_SPEC

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        super().__init__([lambda: ReacherEnv(**kwargs) for _ in range(num_envs)])
