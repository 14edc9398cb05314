"""Scripted reference policies for Semicircle-v0 (point) and SemicircleBall-v0 (ball).

* :class:`SemicircleOracle` knows the goal and heads straight for it: the ceiling.
* :class:`SemicircleExplorer` sees only what an agent sees (observation, reward,
  boundary). In the first episode it sweeps the semicircle until the reward
  starts, infers the goal from where it did, and stays there; in later episodes it
  goes straight to the inferred goal. This is the behaviour a Bayes-optimal agent
  approaches, so its return is the bar for a belief agent.

Both are batched over sub-envs in numpy and steer through a controller: the point
env moves by the clipped displacement itself, the ball through a PD law.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from belief_rl.references.scripted import ScriptedPolicy, reference_returns

__all__ = [
    "BallController",
    "PointController",
    "SemicircleExplorer",
    "SemicircleOracle",
    "StraightController",
    "controller_for",
    "semicircle_reference_returns",
]


class PointController:
    """Steers a point env: the action is the displacement to the target, clipped to ``max_step``."""

    def __init__(self, max_step: float = 0.1) -> None:
        if not max_step > 0:
            raise ValueError(f"max_step must be > 0, got {max_step}")
        #: Largest displacement per step along each axis.
        self.speed = float(max_step)
        #: How many steps' reach ahead of the body a moving target must lie for full speed.
        self.lookahead = 1.0

    def action(self, obs: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Actions ``[n, 2]`` moving the positions ``obs[:, :2]`` toward ``target`` ``[n, 2]``."""
        return np.clip(target - obs[:, :2], -self.speed, self.speed).astype(np.float32)

    def reaches(self, obs: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Whether the next action lands (or settles) on ``target``, bool ``[n]``."""
        return np.max(np.abs(target - obs[:, :2]), axis=1) <= self.speed


class StraightController(PointController):
    """Steers a point env straight at the target: the displacement scaled so no axis exceeds ``max_step``.

    It arrives as soon as :class:`PointController` does (the larger axis moves at
    full speed either way) but along the straight line, so its action is a
    continuous function of the position; clipping each axis makes a kink where one
    axis is done. Demonstrations use it: a prior fit to a kinked field, and a policy
    that follows that prior, miss the kink and leave the demonstrated path. It
    enters a goal disc up to a step later than the clipped diagonal, so the
    reference oracle keeps the clipped law.
    """

    def action(self, obs: np.ndarray, target: np.ndarray) -> np.ndarray:
        displacement = target - obs[:, :2]
        largest = np.max(np.abs(displacement), axis=1, keepdims=True)
        scale = np.minimum(1.0, self.speed / np.maximum(largest, 1e-12))
        # The clip only absorbs float rounding on the bound.
        return np.clip(displacement * scale, -self.speed, self.speed).astype(np.float32)


class BallController(PointController):
    """Steers the ball env with a PD law on the observed position and velocity.

    ``gain * error - damping * velocity`` (per control step) is the velocity asked
    for, scaled to the motors' full-throttle ``speed``. The default gains settle on a
    target 1.0 away within ~10 steps without overshoot (tuned on SemicircleBall-v0).
    """

    def __init__(self, speed: float = 0.1, gain: float = 1.0, damping: float = 1.0,
                 tolerance: float = 0.05) -> None:
        super().__init__(speed)
        self.gain, self.damping, self.tolerance = gain, damping, tolerance
        # At full speed the damping term cancels gain * speed of the error, so the
        # target must lead by (1 + damping / gain) steps for the law to ask for more.
        self.lookahead = 1.0 + damping / gain

    def action(self, obs: np.ndarray, target: np.ndarray) -> np.ndarray:
        command = self.gain * (target - obs[:, :2]) - self.damping * obs[:, 2:4]
        return np.clip(command / self.speed, -1.0, 1.0).astype(np.float32)

    def reaches(self, obs: np.ndarray, target: np.ndarray) -> np.ndarray:
        # The ball only settles asymptotically; "close enough" hands over to the
        # sweep, which steers along the arc itself.
        return np.max(np.abs(target - obs[:, :2]), axis=1) <= self.tolerance


def controller_for(env: gym.vector.VectorEnv | gym.Env) -> PointController:
    """The controller for a Semicircle env: point envs expose ``max_step``, ball envs do not."""
    unwrapped = env.unwrapped
    if hasattr(unwrapped, "max_step"):
        return PointController(unwrapped.max_step)
    from belief_rl.envs.ball import STEP_SPEED  # MuJoCo only for the ball envs

    return BallController(STEP_SPEED)


class SemicircleOracle(ScriptedPolicy):
    """Reads the goal from ``info["task"]`` and steers straight to it every step.

    On the point env the action is ``clip(goal - pos, ±max_step)``.
    """

    uses_task = True

    def __init__(self, controller: PointController | None = None) -> None:
        self.controller = controller if controller is not None else PointController()
        self._goals = np.zeros((0, 2))

    @classmethod
    def for_env(cls, env: gym.vector.VectorEnv) -> SemicircleOracle:
        """An oracle with the controller of ``env``."""
        return cls(controller_for(env))

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        self._goals = np.array(info["task"], dtype=np.float64)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.controller.action(obs, self._goals)

    def observe(self, obs: np.ndarray, reward: np.ndarray, done: np.ndarray, info: dict[str, Any]) -> None:
        self._goals = np.array(info["task"], dtype=np.float64)


# Explorer phases.
_APPROACH, _SWEEP, _HOME = 0, 1, 2


class SemicircleExplorer(ScriptedPolicy):
    """Sweeps the semicircle for the goal, then returns to it; never reads the task.

    Per sub-env: head for the arc at the angle where the sweep stands (angle 0, i.e.
    ``(radius, 0)``, at first), then sweep along the arc toward angle π. A point on
    the arc is rewarded iff it lies within ``δ = 2 asin(goal_radius / (2 radius))``
    of the goal's angle, so the first rewarded sweep position puts the goal ``δ``
    further on: the explorer takes the midpoint of the last unrewarded and first
    rewarded angles plus ``δ``, goes there and stays. If the sweep starts inside the
    goal disc it looks for where the reward stops instead (minus ``δ``). An
    unsuccessful sweep reverses at either end of the arc, and carries over into the
    next episode. From the second episode on it goes straight to the inferred goal.

    Rewards of a boundary step are ignored: they score a position never observed.
    The policy is a deterministic function of the observations, rewards and boundaries.
    """

    uses_task = False

    def __init__(self, radius: float = 1.0, goal_radius: float = 0.2,
                 controller: PointController | None = None) -> None:
        if not (radius > 0 and goal_radius > 0):
            raise ValueError(f"radius and goal_radius must be > 0, got {radius} and {goal_radius}")
        self.radius = float(radius)
        self.goal_radius = float(goal_radius)
        self.controller = controller if controller is not None else PointController()
        self._half_width = 2.0 * math.asin(min(1.0, goal_radius / (2.0 * radius)))  # δ
        self.reset(np.zeros((0, 2)), {})

    @classmethod
    def for_env(cls, env: gym.vector.VectorEnv) -> SemicircleExplorer:
        """An explorer with the geometry and controller of ``env``."""
        unwrapped = env.unwrapped
        return cls(unwrapped.radius, unwrapped.goal_radius, controller_for(env))

    def _arc(self, angle: np.ndarray) -> np.ndarray:
        return self.radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)

    @staticmethod
    def _angle(pos: np.ndarray) -> np.ndarray:
        angle = np.arctan2(pos[:, 1], pos[:, 0])
        # Points a hair below the x-axis near (-radius, 0) belong to angle π, not -π.
        return np.where(angle < -np.pi / 2, angle + 2 * np.pi, angle)

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        n = len(obs)
        self._phase = np.full(n, _APPROACH)
        self._known = np.zeros(n, dtype=bool)
        self._goal = np.zeros((n, 2))
        self._sweep_angle = np.zeros(n)  # where the sweep stands (resumes after a boundary)
        self._direction = np.ones(n)  # +1 toward angle π, -1 toward 0
        self._prev_angle = np.zeros(n)  # the previous sweep position's angle
        self._inside = np.zeros(n, dtype=bool)  # sweeping inside the disc: looking for its exit
        self._arriving = np.zeros(n, dtype=bool)  # the action just taken reaches the arc
        self._at_end = np.zeros(n, dtype=bool)  # the action just taken reaches the sweep's end

    def act(self, obs: np.ndarray) -> np.ndarray:
        pos = obs[:, :2]
        angle = np.clip(self._angle(pos), 0.0, np.pi)
        # A step along the tangent whose larger axis component is the controller's reach.
        reach = self.controller.lookahead * self.controller.speed
        step = reach / (self.radius * np.maximum(np.abs(np.sin(angle)), np.abs(np.cos(angle))))
        end = np.where(self._direction > 0, np.pi, 0.0)
        next_angle = np.clip(angle + self._direction * step, 0.0, np.pi)
        target = np.where(
            (self._phase == _HOME)[:, None], self._goal,
            np.where((self._phase == _APPROACH)[:, None], self._arc(self._sweep_angle),
                     self._arc(next_angle)),
        )
        self._arriving = (self._phase == _APPROACH) & self.controller.reaches(obs, target)
        self._at_end = ((self._phase == _SWEEP) & (next_angle == end)
                        & self.controller.reaches(obs, self._arc(end)))
        return self.controller.action(obs, target)

    def observe(self, obs: np.ndarray, reward: np.ndarray, done: np.ndarray, info: dict[str, Any]) -> None:
        boundary = np.asarray(info["boundary"], dtype=bool)
        angle = self._angle(obs[:, :2])
        hit = np.asarray(reward) > 0

        arrived = self._arriving & ~boundary
        sweeping = (self._phase == _SWEEP) & ~boundary
        self._phase[arrived] = _SWEEP
        self._inside[arrived] = hit[arrived]

        # The sweep crossed the disc's edge: entering it (goal δ ahead) or leaving it (δ behind).
        found = sweeping & (hit != self._inside)
        crossing = 0.5 * (self._prev_angle + angle)
        sign = np.where(self._inside, -1.0, 1.0)
        goal_angle = np.clip(crossing + sign * self._direction * self._half_width, 0.0, np.pi)
        self._goal[found] = self._arc(goal_angle[found])
        self._known |= found
        self._phase[found] = _HOME

        moving = arrived | (sweeping & ~found)
        self._prev_angle[moving] = angle[moving]
        self._sweep_angle[moving] = np.clip(angle[moving], 0.0, np.pi)
        self._direction[moving & self._at_end] *= -1.0

        # A new inner episode starts at the origin.
        self._phase[boundary] = np.where(self._known[boundary], _HOME, _APPROACH)


def semicircle_reference_returns(
    env_id: str, num_tasks: int, seed: int, env_kwargs: dict[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """Mean meta-episode return of the oracle and the explorer on the same ``num_tasks`` goals.

    Both play one batch of ``num_tasks`` sub-envs of ``env_id`` reset with ``seed``,
    so sub-env ``i`` has the same goal (seed ``seed + i``) for both.

    Returns:
        ``{"oracle": {...}, "explorer": {...}}``, each ``{"mean", "stderr", "num_tasks"}``.
    """
    def policies(env: gym.vector.VectorEnv) -> dict[str, ScriptedPolicy]:
        return {"oracle": SemicircleOracle.for_env(env), "explorer": SemicircleExplorer.for_env(env)}

    return reference_returns(env_id, num_tasks, seed, policies, env_kwargs)
