"""Scripted references for the multi-task ball arenas (:mod:`envs.ball_tasks`): an expert and a random policy.

The task is part of the observation there, so the expert needs nothing an agent lacks: it reads the
chosen target from the ``task`` group and steers by proportional-derivative control on the observation
groups. In the box arenas it first rolls to a point behind the box (on the far side from the target), then
pushes through the box towards the target.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from belief_rl.references.scripted import ScriptedPolicy, UniformRandomPolicy, reference_returns

# Gains on the per-step displacement scale (full throttle moves the ball ~0.1 per step).
_KP, _KD = 4.0, 2.0
# Where the ball lines up behind the box, and how well aligned it must be before pushing.
_BEHIND = 0.25
_ALIGNED = 0.1
# The box counts as delivered this close to the target's centre (the reward radius is 0.2).
_SETTLED = 0.08


class BallTasksExpert(ScriptedPolicy):
    """PD steering to the chosen target, or behind the box and then through it."""

    def __init__(self, groups: dict[str, tuple[int, int]]) -> None:
        self.groups = groups
        self.num_targets = groups["task"][1] - groups["task"][0]

    @classmethod
    def for_env(cls, env: gym.vector.VectorEnv) -> BallTasksExpert:
        return cls(env.unwrapped.observation_groups)

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        """Stateless: nothing to reset."""

    def _group(self, obs: np.ndarray, name: str) -> np.ndarray:
        start, stop = self.groups[name]
        return obs[:, start:stop]

    def _chosen(self, obs: np.ndarray, name: str) -> np.ndarray:
        """The chosen target's 2-d entry of a per-target group."""
        task = self._group(obs, "task").argmax(-1)
        return self._group(obs, name).reshape(len(obs), self.num_targets, 2)[np.arange(len(obs)), task]

    def act(self, obs: np.ndarray) -> np.ndarray:
        velocity = self._group(obs, "proprio")
        if "box" not in self.groups:
            error = self._chosen(obs, "targets")
        else:
            box = self._group(obs, "box")[:, :2]  # box − ball
            push = self._chosen(obs, "box_goal")  # target − box
            direction = push / np.maximum(np.linalg.norm(push, axis=-1, keepdims=True), 1e-6)
            behind = box - _BEHIND * direction  # where the ball should stand, relative to the ball
            # Aligned when the ball sits on the line through the box towards the target, behind it.
            along = -(box * direction).sum(-1)
            across = np.abs(box[:, 0] * direction[:, 1] - box[:, 1] * direction[:, 0])
            aligned = (along < 0) & (across < _ALIGNED) & (np.linalg.norm(behind, axis=-1) < 2 * _BEHIND)
            # Going round the box: aim at the behind-point; pushing: aim through the box at the target.
            error = np.where(aligned[:, None], box + push, behind)
            # On the target: stop pushing (brake) rather than roll the box through it.
            error = np.where((np.linalg.norm(push, axis=-1) < _SETTLED)[:, None], 0.0, error)
        return np.clip(_KP * error - _KD * velocity, -1.0, 1.0).astype(np.float32)


def ball_tasks_reference_returns(env_id: str, num_tasks: int, seed: int,
                                 env_kwargs: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Mean ± s.e. return of the expert and of random pushes on ``num_tasks`` episodes."""
    return reference_returns(env_id, num_tasks, seed,
                             lambda env: {"expert": BallTasksExpert.for_env(env),
                                          "random": UniformRandomPolicy.for_env(env, seed)}, env_kwargs)
