"""Bandit-v0: a Bernoulli multi-armed bandit where one task is one meta-episode.

A task is a vector ``p`` of ``K`` arm success probabilities, fixed for
``horizon`` pulls. The agent observes only the time fraction ``t / H``; the
task is revealed in ``info["task"]`` for task-inference losses and oracles.

Rewards use common random numbers: at reset the env draws one uniform
``u[t]`` per pull and pays ``1`` at pull ``t`` iff ``u[t] < p[a]``. Two
strategies run on the same seed therefore face the same luck, which makes
comparisons between them low-variance, and lets :class:`BanditVectorEnv`
reproduce :class:`BanditEnv` exactly. The order of draws at reset (task first,
then ``u``) is part of that contract.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from belief_rl.envs.task_specs import BetaTask, bandit_task_set
from belief_rl.envs.vector_base import (
    TaskVectorEnv,
    broadcast_task,
    check_num_envs,
    check_task_shape,
    validate_task_set_args,
)


def _validate_args(
    num_arms: int, horizon: int, num_tasks: int | None, split: str, num_validation_tasks: int
) -> None:
    if num_arms < 2:
        raise ValueError(f"num_arms must be >= 2, got {num_arms}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    validate_task_set_args(num_tasks, split, num_validation_tasks)


def _task_pool(
    num_arms: int, num_tasks: int | None, task_seed: int, split: str, num_validation_tasks: int
) -> np.ndarray | None:
    """The finite pool to draw tasks from, or None for the continuous prior."""
    if num_tasks is None:
        return None
    return bandit_task_set(num_arms, num_tasks, num_validation_tasks, task_seed).tasks(split)


def _draw_task(rng: np.random.Generator, num_arms: int, pool: np.ndarray | None) -> np.ndarray:
    if pool is None:
        return rng.uniform(0.0, 1.0, num_arms)
    return pool[rng.integers(len(pool))].copy()


def _check_task(task: Any, shape: tuple[int, ...]) -> np.ndarray:
    p = check_task_shape(task, shape)
    if not np.all((p >= 0.0) & (p <= 1.0)):  # also rejects NaN
        raise ValueError("options['task'] must hold probabilities in [0, 1]")
    return p


class BanditEnv(gymnasium.Env[np.ndarray, int]):
    """One Bernoulli bandit task per meta-episode of ``horizon`` pulls.

    Args:
        num_arms: Number of arms ``K`` (>= 2).
        horizon: Pulls per meta-episode ``H`` (>= 1); the episode terminates after it.
        num_tasks: ``None`` draws ``p ~ U(0, 1)^K`` afresh at every reset; an int
            draws uniformly from a finite train set of that many tasks.
        task_seed: Seed of the finite task set (ignored when ``num_tasks`` is None).
        split: ``"train"`` or ``"validation"``: which split of the finite set to use.
        num_validation_tasks: Size of the validation split of the finite set.

    Observation: ``[t / H]`` as float32, ``t`` = pulls made so far.
    Action: the arm to pull. Reward: 1.0 or 0.0.
    ``info["task"]``: the arm probabilities ``p`` (float64, shape ``[K]``).
    ``reset(options={"task": p})`` fixes the task of the next meta-episode.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        num_arms: int = 20,
        horizon: int = 100,
        num_tasks: int | None = None,
        task_seed: int = 0,
        split: str = "train",
        num_validation_tasks: int = 1000,
    ) -> None:
        _validate_args(num_arms, horizon, num_tasks, split, num_validation_tasks)
        self.num_arms = num_arms
        self.horizon = horizon
        self.num_tasks = num_tasks
        self.split = split
        self.task_spec = BetaTask(num_arms)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(num_arms)
        self._pool = _task_pool(num_arms, num_tasks, task_seed, split, num_validation_tasks)
        self._p: np.ndarray | None = None
        self._u: np.ndarray | None = None
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self._t / self.horizon], dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a meta-episode: draw (or take from ``options["task"]``) a task, then the noise."""
        super().reset(seed=seed)
        if options is not None and "task" in options:
            self._p = _check_task(options["task"], (self.num_arms,))
        else:
            self._p = _draw_task(self.np_random, self.num_arms, self._pool)
        self._u = self.np_random.uniform(0.0, 1.0, self.horizon)
        self._t = 0
        return self._obs(), {"task": self._p.copy()}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Pull ``action``; the meta-episode terminates after ``horizon`` pulls."""
        if self._u is None:
            raise RuntimeError("call reset() before step()")
        if self._t >= self.horizon:
            raise RuntimeError("the meta-episode has terminated; call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}; expected an int in [0, {self.num_arms})")
        reward = 1.0 if self._u[self._t] < self._p[int(action)] else 0.0
        self._t += 1
        terminated = self._t == self.horizon
        return self._obs(), reward, terminated, False, {"task": self._p.copy()}


class BanditVectorEnv(TaskVectorEnv):
    """``num_envs`` independent :class:`BanditEnv` s stepped as numpy arrays.

    Sub-env ``i`` owns its own generator and draws at reset exactly what a
    :class:`BanditEnv` seeded with the same seed would, so
    ``BanditVectorEnv(n).reset(seed=s)`` replays ``BanditEnv().reset(seed=s + i)``
    in sub-env ``i`` under the same actions, across autoresets too.

    Autoreset follows gymnasium's ``NEXT_STEP`` mode: the step after a sub-env
    terminated resets it (ignoring its action) and returns its reset
    observation with reward 0. An autoreset draws a new task from the env's task
    distribution; ``options["task"]`` applies to the explicit reset only.

    Observations: float32 ``[n, 1]``; rewards: float64 ``[n]``; terminations and
    truncations: bool ``[n]``; ``info["task"]``: float64 ``[n, K]``.
    Constructor arguments are those of :class:`BanditEnv` plus ``num_envs``.
    """

    metadata: dict[str, Any] = {
        "render_modes": [],
        "autoreset_mode": gymnasium.vector.AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int,
        num_arms: int = 20,
        horizon: int = 100,
        num_tasks: int | None = None,
        task_seed: int = 0,
        split: str = "train",
        num_validation_tasks: int = 1000,
    ) -> None:
        check_num_envs(num_envs)
        _validate_args(num_arms, horizon, num_tasks, split, num_validation_tasks)
        self.num_envs = num_envs
        self.num_arms = num_arms
        self.horizon = horizon
        self.num_tasks = num_tasks
        self.split = split
        self.task_spec = BetaTask(num_arms)
        self.single_observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.single_action_space = spaces.Discrete(num_arms)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._pool = _task_pool(num_arms, num_tasks, task_seed, split, num_validation_tasks)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._p = np.zeros((num_envs, num_arms), dtype=np.float64)
        self._u: np.ndarray | None = None
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._rows = np.arange(num_envs)

    @property
    def tasks(self) -> np.ndarray:
        """A copy of the current tasks, float64 ``[num_envs, num_arms]``."""
        return self._p.copy()

    def _obs(self) -> np.ndarray:
        return (self._t / self.horizon).astype(np.float32)[:, None]

    def _reset_subenvs(self, indices: np.ndarray, tasks: np.ndarray | None) -> None:
        if self._u is None:
            self._u = np.empty((self.num_envs, self.horizon), dtype=np.float64)
        # The one loop over sub-envs: each draws from its own generator, in
        # BanditEnv.reset's order, which is what keeps single and batched in step.
        for i in indices:
            rng = self._rngs[i]
            if tasks is None:
                self._p[i] = _draw_task(rng, self.num_arms, self._pool)
            else:
                self._p[i] = tasks[i]
            self._u[i] = rng.uniform(0.0, 1.0, self.horizon)
        self._t[indices] = 0
        self._needs_reset[indices] = False

    def _check_tasks(self, task: Any) -> np.ndarray:
        p = broadcast_task(task, self.num_envs, (self.num_arms,))
        return _check_task(p, (self.num_envs, self.num_arms))

    def _reset_result(self) -> tuple[np.ndarray, dict[str, Any]]:
        return self._obs(), {"task": self._p.copy()}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Pull one arm per sub-env; sub-envs that terminated last step are reset instead."""
        if self._u is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions must be integers of shape ({self.num_envs},), "
                f"got {actions.dtype} {actions.shape}"
            )
        if np.any((actions < 0) | (actions >= self.num_arms)):
            raise ValueError(f"actions must lie in [0, {self.num_arms})")

        resetting = self._needs_reset.copy()
        if resetting.any():
            self._reset_subenvs(np.flatnonzero(resetting), None)
        active = ~resetting
        # Resetting sub-envs have t = 0, so the gather below stays in bounds;
        # `active` then zeroes their reward and leaves their t at 0.
        hit = self._u[self._rows, self._t] < self._p[self._rows, actions]
        rewards = (hit & active).astype(np.float64)
        self._t += active
        terminations = active & (self._t == self.horizon)
        truncations = np.zeros(self.num_envs, dtype=bool)
        self._needs_reset = terminations | truncations
        return self._obs(), rewards, terminations, truncations, {"task": self._p.copy()}
