"""Multi-task ball arenas for learned behavior priors: go to one of K targets, or push a box onto one.

Ordinary multi-task RL (after the locomotion and manipulation tasks of Tirumala et al., "Exploiting
hierarchy for learning and transfer in KL-regularized RL"): each episode places the MuJoCo ball
(:mod:`envs.ball`), K targets (and a box) at random in a walled 2 × 2 arena and picks one target; the task
is part of the observation. An episode is one meta-episode of fixed length, so these envs meet the
belief_rl contract like the meta-RL ones (``info["task"]`` is the chosen target's index).

* **Targets** (``BallTargets-K{1,3}-v0``, 100 steps): reward 1 for every step the ball's centre is within
  :data:`TARGET_RADIUS` of the chosen target.
* **Box** (``BallBox-K{1,3}-v0``, 150 steps): reward 1 for every step the box's centre is within
  :data:`TARGET_RADIUS` of the chosen target.

``info["success"]`` says, at every step, whether the reward condition holds now; an episode counts as a
success when it holds at the last step (the agent got there and stayed).

**Shaping** (``shaping=c > 0``, off by default) adds c·(Φ(s') − Φ(s)) to every step's reward, where Φ is minus
the distance still to cover: from the ball to the chosen target, or from the ball to the box plus from the box
to the chosen target. It pays for progress only: an episode's shaping terms sum to c·(Φ(s_T) − Φ(s_0)), so
nothing is earned by standing still or going round in circles. (The discounted form c·(γΦ(s') − Φ(s)) of Ng
et al. 1999 pays c·(1 − γ)·distance for every step spent far away, and in a pilot on the box task an agent
learned to do exactly that.) The box's sparse reward is out of reach of random pushes; the term points the
way. ``info["success"]`` is unchanged, so success rates stay comparable.

**Observation groups.** The observation is the concatenation of named groups, declared in
``observation_groups`` (name → ``(start, stop)``) so that a configuration can route each group to the
modules that may see it (information asymmetry):

========== ======================================================================= ============
group      contents                                                                size
========== ======================================================================= ============
proprio    the ball's velocity, length units per control step                      2
position   the ball's position in the arena, divided by the half side              2
targets    every target's position relative to the ball                            2 K
box        (box envs) the box relative to the ball, and its velocity per step       4
box_goal   (box envs) every target's position relative to the box                   2 K
task       one-hot of the chosen target                                            K
========== ======================================================================= ============
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from belief_rl.envs.task_specs import CategoricalTask
from belief_rl.envs.vector_base import TaskVectorEnv, check_actions, check_num_envs

HALF_EXTENT = 1.0
#: Reward radius around the chosen target (ball or box centre).
TARGET_RADIUS = 0.2
BOX_HALF_SIZE = 0.1
#: Objects are placed this far inside the walls.
_MARGIN = 0.2
#: Smallest distance between two targets, and between the ball or box and any target at the start.
_TARGET_SPACING = 0.5
_START_CLEARANCE = 0.4
#: The box starts this far from the ball and from the walls' inner faces (so it can be pushed any way).
_BOX_CLEARANCE = 0.35
_MAX_SPEED = 0.2


def observation_groups(num_targets: int, box: bool) -> dict[str, tuple[int, int]]:
    """Name → ``(start, stop)`` of every group in the observation of a ball-tasks env."""
    sizes = [("proprio", 2), ("position", 2), ("targets", 2 * num_targets)]
    if box:
        sizes += [("box", 4), ("box_goal", 2 * num_targets)]
    sizes.append(("task", num_targets))
    groups, start = {}, 0
    for name, size in sizes:
        groups[name] = (start, start + size)
        start += size
    return groups


class _BallTasksCore:
    """Layout draws, rewards and observations for a batch of arenas (a single env is a batch of one)."""

    def _setup(self, num_envs: int, num_targets: int, box: bool, episode_length: int, shaping: float) -> None:
        from belief_rl.envs.ball import BallPhysics, ball_arena_xml  # MuJoCo only when a ball env is built

        if num_targets < 1:
            raise ValueError(f"num_targets must be >= 1, got {num_targets}")
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        if not (np.isfinite(shaping) and shaping >= 0):
            raise ValueError(f"shaping must be a finite number >= 0, got {shaping}")
        self.num_targets, self.has_box, self.episode_length = num_targets, box, episode_length
        self.shaping = float(shaping)
        self.physics = BallPhysics(num_envs, ball_arena_xml(HALF_EXTENT, box_half_size=BOX_HALF_SIZE if box
                                                            else None))
        self.task_spec = CategoricalTask(num_targets)
        self.observation_groups = observation_groups(num_targets, box)
        bound = {"proprio": _MAX_SPEED, "position": 1.0, "targets": 2 * HALF_EXTENT, "box": 2 * HALF_EXTENT,
                 "box_goal": 2 * HALF_EXTENT, "task": 1.0}
        high = np.concatenate([np.full(stop - start, bound[name], dtype=np.float32)
                               for name, (start, stop) in self.observation_groups.items()])
        if box:  # the box's own velocity, inside its group
            start = self.observation_groups["box"][0]
            high[start + 2:start + 4] = _MAX_SPEED
        self._obs_space = spaces.Box(-high, high, dtype=np.float32)
        self._action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._targets = np.zeros((num_envs, num_targets, 2))
        self._task = np.zeros(num_envs, dtype=np.int64)
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._potential = np.zeros(num_envs)

    # -- layouts ---------------------------------------------------------------------------------
    def _draw_layout(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
        """``(targets [K, 2], ball [2], box [2] or None, task)`` by rejection sampling."""
        low, high = -HALF_EXTENT + _MARGIN, HALF_EXTENT - _MARGIN
        while True:
            targets = rng.uniform(low, high, size=(self.num_targets, 2))
            gaps = np.linalg.norm(targets[:, None] - targets[None], axis=-1) + np.eye(self.num_targets) * 9
            if gaps.min() >= _TARGET_SPACING:
                break
        while True:
            ball = rng.uniform(low, high, size=2)
            if np.linalg.norm(targets - ball, axis=-1).min() >= _START_CLEARANCE:
                break
        box = None
        if self.has_box:
            box_low, box_high = -HALF_EXTENT + _BOX_CLEARANCE, HALF_EXTENT - _BOX_CLEARANCE
            while True:
                box = rng.uniform(box_low, box_high, size=2)
                if (np.linalg.norm(box - ball) >= _BOX_CLEARANCE
                        and np.linalg.norm(targets - box, axis=-1).min() >= _START_CLEARANCE):
                    break
        return targets, ball, box, int(rng.integers(self.num_targets))

    def _start(self, indices: np.ndarray, rngs: list[np.random.Generator], tasks: np.ndarray | None) -> None:
        layouts = [self._draw_layout(rngs[i]) for i in indices]
        self._targets[indices] = np.stack([layout[0] for layout in layouts])
        self._task[indices] = [layout[3] for layout in layouts] if tasks is None else tasks
        balls = np.stack([layout[1] for layout in layouts])
        boxes = np.stack([layout[2] for layout in layouts]) if self.has_box else None
        self.physics.reset(indices, balls, boxes)
        self._t[indices] = 0
        if self.shaping > 0:  # resets happen every episode: no distances for unshaped arenas
            self._potential[indices] = self._potentials()[indices]

    # -- dynamics --------------------------------------------------------------------------------
    def _chosen_target(self) -> np.ndarray:
        return self._targets[np.arange(len(self._task)), self._task]

    def _success(self) -> np.ndarray:
        """Whether the ball (or box) is on the chosen target now."""
        mover = self.physics.box_positions() if self.has_box else self.physics.positions()
        return np.linalg.norm(mover - self._chosen_target(), axis=-1) <= TARGET_RADIUS

    def _potentials(self) -> np.ndarray:
        """Φ of every arena: minus the distance the ball (and the box) still have to cover."""
        ball = self.physics.positions()
        if not self.has_box:
            return -np.linalg.norm(self._chosen_target() - ball, axis=-1)
        box = self.physics.box_positions()
        return -(np.linalg.norm(box - ball, axis=-1) + np.linalg.norm(self._chosen_target() - box, axis=-1))

    def _rewards(self, resetting: np.ndarray) -> np.ndarray:
        """1 while on the chosen target, plus the shaping term; 0 on the step that resets an arena."""
        rewards = self._success().astype(np.float64)
        if self.shaping > 0:
            potential = self._potentials()
            rewards += self.shaping * (potential - self._potential)
            self._potential = potential
        return np.where(resetting, 0.0, rewards)

    def _observations(self) -> np.ndarray:
        dt = self.physics.control_dt
        ball = self.physics.positions()
        parts = [np.clip(self.physics.velocities() * dt, -_MAX_SPEED, _MAX_SPEED), ball / HALF_EXTENT,
                 (self._targets - ball[:, None]).reshape(len(ball), -1)]
        if self.has_box:
            box = self.physics.box_positions()
            parts += [box - ball, np.clip(self.physics.box_velocities() * dt, -_MAX_SPEED, _MAX_SPEED),
                      (self._targets - box[:, None]).reshape(len(ball), -1)]
        parts.append(np.eye(self.num_targets)[self._task])
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _info(self, boundary: np.ndarray) -> dict[str, Any]:
        return {"task": self._task.copy(), "boundary": boundary, "success": self._success()}


class BallTasksVectorEnv(_BallTasksCore, TaskVectorEnv):
    """``num_envs`` ball arenas stepped as one MuJoCo batch.

    Autoreset follows gymnasium's ``NEXT_STEP`` mode: the step after an episode ended resets that arena
    (ignoring its action) and returns its first observation with reward 0. ``options["task"]`` (one index,
    or one per sub-env) fixes the chosen targets of the explicit reset; the layouts are still drawn.
    """

    metadata: dict[str, Any] = {"render_modes": [],
                                "autoreset_mode": gymnasium.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, *, num_targets: int = 3, box: bool = False,
                 episode_length: int = 100, shaping: float = 0.0) -> None:
        check_num_envs(num_envs)
        self._setup(num_envs, num_targets, box, episode_length, shaping)
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = self._obs_space, self._action_space
        self.observation_space = batch_space(self._obs_space, num_envs)
        self.action_space = batch_space(self._action_space, num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False

    def _check_tasks(self, task: Any) -> np.ndarray:
        tasks = np.broadcast_to(np.asarray(task), (self.num_envs,))
        if not np.issubdtype(tasks.dtype, np.integer) or tasks.min() < 0 or tasks.max() >= self.num_targets:
            raise ValueError(f"options['task'] must be target indices in [0, {self.num_targets}), "
                             f"got {task!r}")
        return tasks.astype(np.int64)

    def _reset_subenvs(self, indices: np.ndarray, tasks: np.ndarray | None) -> None:
        self._start(indices, self._rngs, None if tasks is None else tasks[indices])
        self._needs_reset[indices] = False

    def _reset_result(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._started = True
        return self._observations(), self._info(np.ones(self.num_envs, dtype=bool))

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = check_actions(actions, (self.num_envs, 2))
        resetting = self._needs_reset.copy()
        self.physics.step(actions)
        if resetting.any():
            self._reset_subenvs(np.flatnonzero(resetting), None)
        self._t[~resetting] += 1
        rewards = self._rewards(resetting)
        terminations = ~resetting & (self._t >= self.episode_length)
        self._needs_reset = terminations
        return (self._observations(), rewards, terminations, np.zeros(self.num_envs, dtype=bool),
                self._info(resetting))


class BallTasksEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """One ball arena: :class:`BallTasksVectorEnv` with a single sub-env, so both run the same code."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, *, num_targets: int = 3, box: bool = False, episode_length: int = 100,
                 shaping: float = 0.0) -> None:
        self._vector = BallTasksVectorEnv(1, num_targets=num_targets, box=box, episode_length=episode_length,
                                          shaping=shaping)
        self.observation_space = self._vector.single_observation_space
        self.action_space = self._vector.single_action_space
        self.task_spec = self._vector.task_spec
        self.observation_groups = self._vector.observation_groups

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        obs, info = self._vector.reset(seed=seed, options=options)
        return obs[0], _first(info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self._vector.step(np.asarray(action)[None])
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), _first(info)


def _first(info: dict[str, Any]) -> dict[str, Any]:
    return {key: value[0] for key, value in info.items()}
