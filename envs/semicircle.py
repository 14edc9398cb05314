"""Semicircle-v0 and SemicircleBall-v0: find a goal on a semicircle, then return to it.

A task is a goal ``radius * (cos θ, sin θ)`` with ``θ ~ U(0, π)``. A meta-episode
(the gymnasium episode) is ``num_episodes`` inner episodes of ``episode_length``
steps with the same goal; the body starts every inner episode at rest at the
origin. Every step pays 1.0 if the body ends it within ``goal_radius`` of the goal
(distance ``<=``), else 0.0, so an agent must explore in the first inner episode
and exploit what it learnt in the later ones.

Two bodies share all of this (goals, rewards, episode bookkeeping, task sets):

* Semicircle-v0 (:class:`SemicircleEnv`): a point whose position moves by the
  action, clipped to ``[-max_step, max_step]^2``. Observation: the position.
* SemicircleBall-v0 (:class:`SemicircleBallEnv`): a MuJoCo ball rolling on a
  walled plane (:mod:`envs.ball`), pushed by motors with actions in ``[-1, 1]^2``;
  full throttle reaches ~0.1 length units per step. Observation: position and
  velocity (length units per control step).

Both bodies live in the square ``[-half_extent, half_extent]^2`` with
``half_extent = radius + 0.5`` (the goal discs lie well inside it): the point's
position is clipped to it, the ball is held in by walls.

Inner-episode boundaries are internal: the step that ends inner episode ``k <
num_episodes`` returns its reward (for the position reached, which is not
observed) and the reset observation of inner episode ``k + 1``, with
``info["boundary"] = True``. ``reset`` also reports ``boundary = True``, so the
flag marks the first observation of every inner episode. The meta-episode
terminates after ``num_episodes * episode_length`` steps.

``info["task"]`` is the goal ``(x, y)``, float64 (TaskSpec ``GaussianTask(2)``, bounded by the box
``[-radius, radius] x [0, radius]``).
The vector envs are natively batched and follow the contract of
:mod:`envs.bandit`: ``NEXT_STEP`` autoreset, and sub-env ``i`` of a vector env
reset with seed ``s`` replays the single env seeded with ``s + i``. The only
randomness is the goal, drawn first at reset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from belief_rl.envs.task_specs import GaussianTask, semicircle_task_set
from belief_rl.envs.vector_base import (
    TaskVectorEnv,
    broadcast_task,
    check_actions,
    check_num_envs,
    check_task_shape,
    validate_task_set_args,
)

#: Margin between the semicircle and the walls (or the point's clipping box).
_ARENA_MARGIN = 0.5
#: Bound of the ball's observed speed per axis, in length units per control step
#: (10x the calibrated full-throttle speed; observations are clipped to it).
_MAX_BALL_SPEED = 1.0


# --------------------------------------------------------------------------------------
# Validation and task draws
# --------------------------------------------------------------------------------------


def _check_positive(name: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value}")


def _validate_args(
    radius: float,
    goal_radius: float,
    episode_length: int,
    num_episodes: int,
    num_tasks: int | None,
    split: str,
    num_validation_tasks: int,
) -> None:
    _check_positive("radius", radius)
    _check_positive("goal_radius", goal_radius)
    if episode_length < 1:
        raise ValueError(f"episode_length must be >= 1, got {episode_length}")
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    validate_task_set_args(num_tasks, split, num_validation_tasks)


def _draw_goal(rng: np.random.Generator, radius: float, pool: np.ndarray | None) -> np.ndarray:
    if pool is None:
        theta = rng.uniform(0.0, np.pi)
        return radius * np.array([np.cos(theta), np.sin(theta)])
    return pool[rng.integers(len(pool))].copy()


def _check_goals(goals: Any, shape: tuple[int, ...]) -> np.ndarray:
    g = check_task_shape(goals, shape)
    if not np.all(np.isfinite(g)):
        raise ValueError("options['task'] must be finite")
    return g


def _check_actions(actions: Any, num_envs: int) -> np.ndarray:
    """Actions as float64 ``[num_envs, 2]``; out-of-range values are left for the body to clip."""
    # Actions are elements of a float32 space: casting to it first makes float32 and
    # float64 callers (and the single and batched envs) see identical transitions.
    return check_actions(actions, (num_envs, 2), np.float32)


# --------------------------------------------------------------------------------------
# Bodies: what the actions move (a batch of them, the single env being a batch of one)
# --------------------------------------------------------------------------------------


class _Body(Protocol):
    """A batch of bodies: what the envs need from the point and the ball."""

    action_space: spaces.Box
    observation_space: spaces.Box

    def reset(self, indices: np.ndarray) -> None: ...  # to the origin, at rest
    def step(self, actions: np.ndarray) -> None: ...  # float64 [n, 2], not yet clipped
    def positions(self) -> np.ndarray: ...  # float64 [n, 2]
    def observations(self) -> np.ndarray: ...  # float32 [n, obs_dim]


#: ``make_body(num_envs, half_extent)``.
_BodyFactory = Callable[[int, float], _Body]


class _PointBody:
    """Points whose positions move by the clipped action, kept inside the arena square."""

    def __init__(self, num_envs: int, max_step: float, half_extent: float) -> None:
        self.max_step = max_step
        self.half_extent = half_extent
        self.action_space = spaces.Box(-max_step, max_step, shape=(2,), dtype=np.float32)
        self.observation_space = spaces.Box(-half_extent, half_extent, shape=(2,), dtype=np.float32)
        self._pos = np.zeros((num_envs, 2))

    def reset(self, indices: np.ndarray) -> None:
        self._pos[indices] = 0.0

    def step(self, actions: np.ndarray) -> None:
        # Clip to the float32 bounds of the space, so that an action on the bound is a
        # fixed point of the clipping and moves the point by exactly that action.
        step = np.clip(actions, self.action_space.low, self.action_space.high)
        self._pos = np.clip(self._pos + step, -self.half_extent, self.half_extent)

    def positions(self) -> np.ndarray:
        return self._pos

    def observations(self) -> np.ndarray:
        return self._pos.astype(np.float32)


class _BallBody:
    """MuJoCo balls (:class:`envs.ball.BallPhysics`) in a walled arena."""

    def __init__(self, num_envs: int, half_extent: float) -> None:
        from belief_rl.envs.ball import BallPhysics, ball_arena_xml  # MuJoCo only for the ball envs

        self.half_extent = half_extent
        self.physics = BallPhysics(num_envs, ball_arena_xml(half_extent))
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        high = np.array([half_extent, half_extent, _MAX_BALL_SPEED, _MAX_BALL_SPEED], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)

    def reset(self, indices: np.ndarray) -> None:
        self.physics.reset(indices, np.zeros((len(indices), 2)))

    def step(self, actions: np.ndarray) -> None:
        self.physics.step(actions)  # clips to [-1, 1] itself

    def positions(self) -> np.ndarray:
        return self.physics.positions()

    def observations(self) -> np.ndarray:
        # Velocity per control step, on the scale of the per-step displacement; the
        # clip only guards the space's bounds (the motors top out at ~0.1).
        velocity = np.clip(self.physics.velocities() * self.physics.control_dt,
                           -_MAX_BALL_SPEED, _MAX_BALL_SPEED)
        return np.concatenate([self.positions(), velocity], axis=1).astype(np.float32)


# --------------------------------------------------------------------------------------
# The shared meta-episode logic
# --------------------------------------------------------------------------------------


class _SemicircleCore:
    """Goals, rewards, inner-episode bookkeeping and task sets over a batch of bodies.

    Mixed into the single envs (a batch of one) and the vector envs, so that both
    run exactly the same arithmetic.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def _setup(
        self,
        num_envs: int,
        make_body: _BodyFactory,
        *,
        radius: float = 1.0,
        goal_radius: float = 0.2,
        episode_length: int = 100,
        num_episodes: int = 3,
        num_tasks: int | None = None,
        task_seed: int = 0,
        split: str = "train",
        num_validation_tasks: int = 1000,
        goal_angle: float | None = None,
    ) -> None:
        # The one signature (and defaults) of the arguments every Semicircle env takes;
        # the public constructors forward them here as ``**task_args``.
        _validate_args(radius, goal_radius, episode_length, num_episodes, num_tasks, split,
                       num_validation_tasks)
        if goal_angle is not None:
            if not (np.isfinite(goal_angle) and 0.0 <= goal_angle <= np.pi):
                raise ValueError(f"goal_angle must lie in [0, pi], got {goal_angle}")
            if num_tasks is not None:
                raise ValueError("goal_angle fixes the task: it cannot be combined with num_tasks")
        self.radius = float(radius)
        self.goal_radius = float(goal_radius)
        self.half_extent = self.radius + _ARENA_MARGIN
        self.episode_length = episode_length
        self.num_episodes = num_episodes
        self.num_tasks = num_tasks
        self.split = split
        self.task_spec = GaussianTask(2, low=(-self.radius, 0.0), high=(self.radius, self.radius))
        self.goal_angle = goal_angle
        if goal_angle is not None:  # a single-task env: every reset draws from a pool of one goal
            self._pool = self.radius * np.array([[np.cos(goal_angle), np.sin(goal_angle)]])
        elif num_tasks is not None:
            self._pool = semicircle_task_set(num_tasks, num_validation_tasks, task_seed,
                                             self.radius).tasks(split)
        else:
            self._pool = None
        self._body = make_body(num_envs, self.half_extent)
        self._goals = np.zeros((num_envs, 2))
        self._t = np.zeros(num_envs, dtype=np.int64)

    @property
    def horizon(self) -> int:
        """Steps per meta-episode, ``num_episodes * episode_length``."""
        return self.num_episodes * self.episode_length

    def _draw_goal(self, rng: np.random.Generator) -> np.ndarray:
        return _draw_goal(rng, self.radius, self._pool)

    def _start(self, indices: np.ndarray, goals: np.ndarray) -> None:
        """Begin meta-episodes in sub-envs ``indices`` with ``goals`` ``[len(indices), 2]``."""
        self._goals[indices] = goals
        self._t[indices] = 0
        self._body.reset(indices)

    def _advance(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score the step the bodies just took; returns rewards, terminations, boundaries.

        Inactive sub-envs (being reset) get reward 0 and keep ``t``.
        """
        distance = np.linalg.norm(self._body.positions() - self._goals, axis=1)
        rewards = ((distance <= self.goal_radius) & active).astype(np.float64)
        self._t += active
        episode_end = active & (self._t % self.episode_length == 0)
        terminated = active & (self._t == self.horizon)
        boundary = episode_end & ~terminated
        if boundary.any():
            self._body.reset(np.flatnonzero(boundary))
        return rewards, terminated, boundary


# --------------------------------------------------------------------------------------
# Single and vector envs, generic in the body
# --------------------------------------------------------------------------------------


class _SemicircleEnvBase(_SemicircleCore, gymnasium.Env[np.ndarray, np.ndarray]):
    """A single Semicircle env: a batch of one body behind the gymnasium.Env API."""

    def _init_env(self, make_body: _BodyFactory, **task_args: Any) -> None:
        self._setup(1, make_body, **task_args)
        self.observation_space = self._body.observation_space
        self.action_space = self._body.action_space
        self._started = False

    def _info(self, boundary: bool) -> dict[str, Any]:
        return {"task": self._goals[0].copy(), "boundary": boundary}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a meta-episode with a drawn goal, or ``options["task"]`` (shape ``(2,)``)."""
        super().reset(seed=seed)
        if options is not None and "task" in options:
            goal = _check_goals(options["task"], (2,))
        else:
            goal = self._draw_goal(self.np_random)
        self._start(np.array([0]), goal[None])
        self._started = True
        return self._body.observations()[0], self._info(True)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move the body; ends the meta-episode after ``num_episodes * episode_length`` steps."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self._t[0] >= self.horizon:
            raise RuntimeError("the meta-episode has terminated; call reset() before step()")
        actions = _check_actions(np.asarray(action)[None], 1)
        self._body.step(actions)
        rewards, terminated, boundary = self._advance(np.ones(1, dtype=bool))
        obs = self._body.observations()[0]
        return obs, float(rewards[0]), bool(terminated[0]), False, self._info(bool(boundary[0]))


class _SemicircleVectorEnvBase(_SemicircleCore, TaskVectorEnv):
    """``num_envs`` independent Semicircle envs stepped as numpy arrays.

    Autoreset follows gymnasium's ``NEXT_STEP`` mode: the step after a sub-env
    terminated resets it (ignoring its action) and returns its reset observation
    with reward 0 and ``boundary`` True. An autoreset draws a new goal from the
    env's task distribution; ``options["task"]`` applies to the explicit reset only.
    """

    metadata: dict[str, Any] = {
        "render_modes": [],
        "autoreset_mode": gymnasium.vector.AutoresetMode.NEXT_STEP,
    }

    def _init_env(self, num_envs: int, make_body: _BodyFactory, **task_args: Any) -> None:
        check_num_envs(num_envs)
        self._setup(num_envs, make_body, **task_args)
        self.num_envs = num_envs
        self.single_observation_space = self._body.observation_space
        self.single_action_space = self._body.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._started = False
        self._needs_reset = np.zeros(num_envs, dtype=bool)

    @property
    def tasks(self) -> np.ndarray:
        """A copy of the current goals, float64 ``[num_envs, 2]``."""
        return self._goals.copy()

    def _info(self, boundary: np.ndarray) -> dict[str, Any]:
        return {"task": self._goals.copy(), "boundary": boundary}

    def _reset_subenvs(self, indices: np.ndarray, goals: np.ndarray | None) -> None:
        # The one loop over sub-envs: each draws from its own generator, in the
        # single env's order, which is what keeps single and batched in step.
        if goals is None:
            goals = np.array([self._draw_goal(self._rngs[i]) for i in indices]).reshape(-1, 2)
        self._start(indices, goals)
        self._needs_reset[indices] = False

    def _check_tasks(self, task: Any) -> np.ndarray:
        return _check_goals(broadcast_task(task, self.num_envs, (2,)), (self.num_envs, 2))

    def _reset_result(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._started = True
        return self._body.observations(), self._info(np.ones(self.num_envs, dtype=bool))

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Move every body; sub-envs that terminated last step are reset instead."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = _check_actions(actions, self.num_envs)
        resetting = self._needs_reset.copy()
        # Every body moves (one batched call); the resetting ones are then put back
        # at the origin at rest, which discards their move entirely.
        self._body.step(actions)
        if resetting.any():
            self._reset_subenvs(np.flatnonzero(resetting), None)
        rewards, terminations, boundary = self._advance(~resetting)
        truncations = np.zeros(self.num_envs, dtype=bool)
        self._needs_reset = terminations | truncations
        return (self._body.observations(), rewards, terminations, truncations,
                self._info(boundary | resetting))


# --------------------------------------------------------------------------------------
# The registered envs
# --------------------------------------------------------------------------------------


def _point_body(max_step: float) -> _BodyFactory:
    _check_positive("max_step", max_step)
    return lambda num_envs, half_extent: _PointBody(num_envs, float(max_step), half_extent)


class SemicircleEnv(_SemicircleEnvBase):
    """Semicircle-v0: a point robot finds a goal on a semicircle over several episodes.

    Args (keyword-only; all envs of this module share them but ``max_step``):
        radius: Radius of the semicircle of goals (1.0).
        goal_radius: A step pays 1.0 when it ends within this distance of the goal (0.2).
        max_step: Actions are clipped to ``[-max_step, max_step]^2`` (0.1).
        episode_length: Steps per inner episode (100).
        num_episodes: Inner episodes per meta-episode, all with the same goal (3).
        num_tasks: ``None`` (default) draws ``θ ~ U(0, π)`` afresh at every reset; an
            int draws uniformly from a finite set of that many goals.
        task_seed: Seed of the finite task set (0; ignored when ``num_tasks`` is None).
        split: ``"train"`` (default) or ``"validation"``: which split of the finite set to use.
        num_validation_tasks: Size of the validation split of the finite set (1000).
        goal_angle: If set, every meta-episode has the goal at this angle (in ``[0, π]``): a
            single-task env, e.g. for behavioral priors fit to an expert that knows the goal.

    Observation: the position, float32 ``(2,)``, inside ``[-half_extent, half_extent]^2``
    (``half_extent = radius + 0.5``; the position is clipped to it). Action: the
    displacement, float32 ``(2,)``, clipped (NaN raises ValueError). Reward: 1.0 or 0.0.
    ``info``: ``"task"`` the goal (float64 ``(2,)``), ``"boundary"`` True on the first
    observation of each inner episode. ``reset(options={"task": goal})`` fixes the goal.
    """

    def __init__(self, *, max_step: float = 0.1, **task_args: Any) -> None:
        self.max_step = float(max_step)
        self._init_env(_point_body(max_step), **task_args)


class SemicircleVectorEnv(_SemicircleVectorEnvBase):
    """``num_envs`` :class:`SemicircleEnv` s, natively batched (one numpy step for all).

    Sub-env ``i`` of ``reset(seed=s)`` replays ``SemicircleEnv().reset(seed=s + i)``,
    across autoresets too. Observations float32 ``[n, 2]``; rewards float64 ``[n]``;
    ``info["task"]`` float64 ``[n, 2]``; ``info["boundary"]`` bool ``[n]``.
    Constructor arguments are those of :class:`SemicircleEnv` plus ``num_envs``.
    """

    def __init__(self, num_envs: int, *, max_step: float = 0.1, **task_args: Any) -> None:
        self.max_step = float(max_step)
        self._init_env(num_envs, _point_body(max_step), **task_args)


class SemicircleBallEnv(_SemicircleEnvBase):
    """SemicircleBall-v0: the goals and rewards of :class:`SemicircleEnv` for a MuJoCo ball.

    Arguments are those of :class:`SemicircleEnv` without ``max_step`` (the motors
    are calibrated to ~0.1 length units per step at full throttle), plus
    ``render_mode`` (None or ``"rgb_array"``: a top-down view with the goal disc
    outlined) and the image size ``width`` x ``height``.

    Observation: float32 ``(4,)``: ball position, then velocity in length units per
    control step. Action: motor commands in ``[-1, 1]^2``, clipped.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 20}  # 1 / control period

    def __init__(
        self, *, render_mode: str | None = None, width: int = 256, height: int = 256, **task_args: Any
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r}; expected None or 'rgb_array'")
        self.render_mode = render_mode
        self.width, self.height = width, height
        self._init_env(_BallBody, **task_args)
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self._body.physics.control_dt)}

    def render(self) -> np.ndarray | None:
        """Top-down ``uint8 [height, width, 3]`` image with the goal disc outlined in green."""
        if self.render_mode is None:
            return None
        physics = self._body.physics
        image = physics.render(0, self.width, self.height)
        # Project the floor onto pixels with the top camera's own geometry.
        camera = physics.model.camera("top")
        half_view = camera.pos[2] * np.tan(np.radians(camera.fovy[0]) / 2)  # at z = 0, vertical
        scale = self.height / (2 * half_view)  # pixels per length unit
        rows, cols = np.mgrid[: self.height, : self.width]
        x = (cols + 0.5 - self.width / 2) / scale + camera.pos[0]
        y = (self.height / 2 - rows - 0.5) / scale + camera.pos[1]
        distance = np.hypot(x - self._goals[0, 0], y - self._goals[0, 1])
        ring = np.abs(distance - self.goal_radius) <= 1.5 / scale
        image[ring] = (40, 170, 60)
        return image

    def close(self) -> None:
        self._body.physics.close()
        super().close()


class SemicircleBallVectorEnv(_SemicircleVectorEnvBase):
    """``num_envs`` :class:`SemicircleBallEnv` s, one ``MjData`` each, stepped in one call.

    Same contract as :class:`SemicircleVectorEnv`: sub-env ``i`` of ``reset(seed=s)``
    replays ``SemicircleBallEnv().reset(seed=s + i)`` bit for bit. Observations
    float32 ``[n, 4]``. Constructor arguments are those of :class:`SemicircleBallEnv`
    (without rendering) plus ``num_envs``.
    """

    def __init__(self, num_envs: int, **task_args: Any) -> None:
        self._init_env(num_envs, _BallBody, **task_args)
