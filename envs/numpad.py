"""NumPad-v0: press a hidden sequence of floor pads with a rolling MuJoCo ball.

An ``size x size`` grid of square pads (pitch 1.0: half-size 0.4, gaps 0.2) is
centred at the origin inside walls ``0.1`` beyond the outer pads; pad ``row *
size + col`` has its centre at ``x = col - (size - 1) / 2``, ``y = (size - 1) / 2
- row`` (row 0 at the top of the rendered image). The ball (:mod:`envs.ball`)
starts every meta-episode at rest at the origin: for odd ``size`` that is the
centre pad, which it must leave and re-enter to press.

A task is a sequence of ``length`` distinct pads in which consecutive pads are
neighbours (``"moore"``: 8 neighbours, ``"von_neumann"``: 4), drawn uniformly
over all valid sequences (enumerated once per ``(size, length, neighbourhood)``;
at most :data:`MAX_SEQUENCES`).

Presses and rewards (:func:`entered_pads`, :func:`apply_presses`):

* A pad is *pressed* on the control step at which the ball centre enters its
  (closed) square, i.e. the centre is on it now and was not on it after the
  previous step. Presses are detected on the float32 position the agent
  observes, so an agent can reproduce them exactly.
* Pressing the next pad of the sequence activates it and pays +1.
* Pressing an already active pad does nothing, so the ball re-entering the pad
  it just activated (e.g. after overshooting its edge) keeps the progress.
* Pressing any other pad clears all active pads (reward 0).
* When the last pad activates (+1), all pads clear, and the sequence can be
  pressed again for more reward.

One meta-episode is ``episode_length`` (500) control steps, a single inner
episode: ``info["boundary"]`` is True at reset only. Observation (float32):
ball position (2), velocity in length units per control step (2; clipped to
±1, the motors top out at ~0.1), and the active pads (``size**2``, 0/1).
Action: motor commands in ``[-1, 1]^2`` (clipped). ``info["task"]``: the
sequence, int64 ``[length]`` (TaskSpec ``MultiCategoricalTask(size**2,
length)``). The vector env follows the contract of :mod:`envs.bandit`:
``NEXT_STEP`` autoreset, and sub-env ``i`` reset with seed ``s`` replays the
single env seeded with ``s + i``; the only randomness is the task, drawn at reset.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from belief_rl.envs.ball import BallPhysics, ball_arena_xml
from belief_rl.envs.task_specs import MultiCategoricalTask, TaskSet
from belief_rl.envs.vector_base import (
    TaskVectorEnv,
    check_actions,
    check_num_envs,
    validate_task_set_args,
)

PAD_PITCH = 1.0
PAD_HALF_SIZE = 0.4
#: Free floor between the outer pads and the walls (half a gap).
BORDER = 0.1
#: Most valid sequences (or partial sequences during enumeration) that are enumerated.
MAX_SEQUENCES = 100_000
NEIGHBOURHOODS = ("moore", "von_neumann")
#: Bound of the observed velocity per axis, in length units per control step.
_MAX_SPEED = 1.0
_RENDER_SIZE = 256
_INACTIVE_RGBA = (0.55, 0.55, 0.6, 1.0)
_ACTIVE_RGBA = (0.2, 0.75, 0.3, 1.0)


# --------------------------------------------------------------------------------------
# Pad geometry, sequences and the press rules (shared with the scripted explorer)
# --------------------------------------------------------------------------------------


def pad_centres(size: int) -> np.ndarray:
    """Centres ``(x, y)`` of the pads, float64 ``[size**2, 2]``, indexed ``row * size + col``."""
    rows, cols = np.divmod(np.arange(size * size), size)
    offset = (size - 1) / 2
    return np.stack([(cols - offset) * PAD_PITCH, (offset - rows) * PAD_PITCH], axis=1)


def arena_half_extent(size: int) -> float:
    """Half the side of the walled square around a ``size x size`` grid."""
    return size * PAD_PITCH / 2 + BORDER


def pad_at(positions: np.ndarray, size: int) -> np.ndarray:
    """The pad whose closed square holds each position, or -1 in the gaps; int64 ``[n]``."""
    positions = np.asarray(positions, dtype=np.float64)
    offset = (size - 1) / 2
    col = np.rint(positions[:, 0] / PAD_PITCH + offset)
    row = np.rint(offset - positions[:, 1] / PAD_PITCH)
    inside = (
        (np.abs(positions[:, 0] - (col - offset) * PAD_PITCH) <= PAD_HALF_SIZE)
        & (np.abs(positions[:, 1] - (offset - row) * PAD_PITCH) <= PAD_HALF_SIZE)
        & (col >= 0) & (col < size) & (row >= 0) & (row < size)
    )
    return np.where(inside, row * size + col, -1).astype(np.int64)


def entered_pads(positions: np.ndarray, last_pads: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pads, pressed)``: the pad under each position and whether it was just entered.

    ``positions`` are the float32 positions the agent observes (cast exactly as in
    the observation); ``last_pads`` the pads under the previous ones.
    """
    pads = pad_at(np.asarray(positions, dtype=np.float32), size)
    return pads, (pads >= 0) & (pads != last_pads)


def press_statistics(active_counts: np.ndarray, rewards: np.ndarray, length: int) -> dict[str, np.ndarray]:
    """Press events per meta-episode decoded from what an agent observes, for trajectories ``[T, n]``.

    ``active_counts[t]`` is the number of active pads observed before action ``t`` (the progress, since the
    active pads are always a prefix of the sequence) and ``rewards[t]`` that action's reward. Returns
    ``correct [length, n]``: rewarded presses of each sequence position (the last one is a completion), and
    ``wrong_clears [n]``: presses of a wrong pad that cleared some progress.
    """
    counts, paid = np.asarray(active_counts), np.asarray(rewards) > 0
    correct = np.stack([(paid & (counts == k)).sum(axis=0) for k in range(length)])
    wrong_clears = ((counts[:-1] > 0) & (counts[1:] == 0) & ~paid[:-1]).sum(axis=0)
    return {"correct": correct, "wrong_clears": wrong_clears}


def apply_presses(
    tasks: np.ndarray, progress: np.ndarray, pads: np.ndarray, pressed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The press rules for a batch: ``(rewards float64 [n], new progress int64 [n])``.

    ``progress[i]`` counts the active pads, which are always ``tasks[i, :progress[i]]``.
    """
    n, length = tasks.shape
    rows = np.arange(n)
    next_pad = tasks[rows, progress]  # progress < length always: completion clears
    already = ((tasks == pads[:, None]) & (np.arange(length) < progress[:, None])).any(axis=1)
    correct = pressed & (pads == next_pad)
    wrong = pressed & ~correct & ~already
    progress = np.where(correct, progress + 1, np.where(wrong, 0, progress))
    progress[progress == length] = 0  # the whole sequence pressed: all pads clear
    return correct.astype(np.float64), progress.astype(np.int64)


def neighbour_table(size: int, neighbourhood: str) -> np.ndarray:
    """Neighbours of each pad, ascending, padded with -1: int64 ``[size**2, 8 or 4]``."""
    _check_neighbourhood(neighbourhood)
    offsets = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    if neighbourhood == "von_neumann":
        offsets = [(dr, dc) for dr, dc in offsets if dr == 0 or dc == 0]
    table = np.full((size * size, len(offsets)), -1, dtype=np.int64)
    for pad in range(size * size):
        row, col = divmod(pad, size)
        found = [
            (row + dr) * size + col + dc
            for dr, dc in offsets
            if 0 <= row + dr < size and 0 <= col + dc < size
        ]
        table[pad, : len(found)] = sorted(found)
    return table


@functools.lru_cache(maxsize=32)
def valid_sequences(size: int, length: int, neighbourhood: str = "moore") -> np.ndarray:
    """All valid task sequences in lexicographic order, read-only int64 ``[count, length]``.

    Raises:
        ValueError: If there are none, or more than :data:`MAX_SEQUENCES` (sequences
            or partial sequences during the enumeration).
    """
    _check_geometry(size, length)
    table = neighbour_table(size, neighbourhood)
    seqs = np.arange(size * size, dtype=np.int64)[:, None]
    for _ in range(length - 1):
        candidates = table[seqs[:, -1]]  # [m, k]
        fresh = (candidates >= 0) & ~(candidates[:, :, None] == seqs[:, None, :]).any(axis=2)
        rows, cols = np.nonzero(fresh)
        if len(rows) > MAX_SEQUENCES:
            raise ValueError(
                f"NumPad size={size} length={length} neighbourhood={neighbourhood!r} has more than "
                f"{MAX_SEQUENCES} (partial) sequences, too many to enumerate; use a smaller size or length"
            )
        seqs = np.concatenate([seqs[rows], candidates[rows, cols][:, None]], axis=1)
    if len(seqs) == 0:
        raise ValueError(f"NumPad size={size} length={length} neighbourhood={neighbourhood!r} "
                         "has no valid sequence")
    seqs.setflags(write=False)  # the cached array is shared
    return seqs


def check_sequence(task: Any, size: int, length: int, neighbourhood: str) -> np.ndarray:
    """``task`` as an int64 ``[length]`` sequence, or a ValueError saying why it is invalid."""
    seq = np.asarray(task)
    if seq.shape != (length,):
        raise ValueError(f"a task must be a sequence of {length} pads, got shape {seq.shape}")
    if seq.dtype.kind not in "iuf" or not np.all(np.mod(seq, 1) == 0):  # floats must be whole
        raise ValueError(f"a task must hold integer pad indices, got {seq.tolist()}")
    seq = seq.astype(np.int64)
    if np.any((seq < 0) | (seq >= size * size)):
        raise ValueError(f"pads must lie in [0, {size * size}), got {seq.tolist()}")
    if len(np.unique(seq)) != length:
        raise ValueError(f"the pads of a task must be distinct, got {seq.tolist()}")
    table = neighbour_table(size, neighbourhood)
    for a, b in zip(seq[:-1], seq[1:]):
        if b not in table[a]:
            raise ValueError(f"pads {a} and {b} are not {neighbourhood} neighbours in {seq.tolist()}")
    return seq


def default_num_validation_tasks(count: int) -> int:
    """The validation split size used when none is given: a quarter of the pool, at most 1000."""
    return min(1000, count // 4)


def numpad_task_set(
    size: int, length: int, neighbourhood: str, num_train: int, num_validation: int, seed: int
) -> TaskSet:
    """Disjoint train and validation sets of distinct valid sequences.

    One permutation of :func:`valid_sequences` is drawn from
    ``np.random.default_rng(seed)``; validation takes its head and train the next
    ``num_train``, so (as in :func:`belief_rl.envs.task_specs.bandit_task_set`) validation does not
    depend on ``num_train`` and growing train sets are nested.
    """
    if num_train < 0 or num_validation < 0:
        raise ValueError(f"num_train and num_validation must be >= 0, got {num_train} and {num_validation}")
    seqs = valid_sequences(size, length, neighbourhood)
    if num_train + num_validation > len(seqs):
        raise ValueError(
            f"NumPad size={size} length={length} neighbourhood={neighbourhood!r} has only {len(seqs)} "
            f"valid sequences, fewer than num_tasks + num_validation_tasks = {num_train} + {num_validation}"
        )
    order = np.random.default_rng(seed).permutation(len(seqs))
    return TaskSet(train=seqs[order[num_validation : num_validation + num_train]],
                   validation=seqs[order[:num_validation]])


def _check_neighbourhood(neighbourhood: str) -> None:
    if neighbourhood not in NEIGHBOURHOODS:
        raise ValueError(f"unknown neighbourhood {neighbourhood!r}; expected 'moore' or 'von_neumann'")


def _check_geometry(size: int, length: int) -> None:
    if size < 2:
        raise ValueError(f"size must be >= 2, got {size}")
    if not 2 <= length <= size * size:
        raise ValueError(f"length must lie in [2, size**2 = {size * size}], got {length}")


# --------------------------------------------------------------------------------------
# The shared meta-episode logic
# --------------------------------------------------------------------------------------


class _NumPadCore:
    """Balls, tasks, progress and the task pool of a batch of NumPad sub-envs.

    Both envs run on this, the single env with one sub-env, so that they share every
    line of the dynamics; the callers own the random generators. Its signature holds
    the arguments (and defaults) of both envs, which forward them as ``**kwargs``.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        size: int = 3,
        length: int = 4,
        neighbourhood: str = "moore",
        episode_length: int = 500,
        num_tasks: int | None = None,
        task_seed: int = 0,
        split: str = "train",
        num_validation_tasks: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        _check_geometry(size, length)
        _check_neighbourhood(neighbourhood)
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        validate_task_set_args(num_tasks, split, num_validation_tasks)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unknown render_mode {render_mode!r}; expected None or 'rgb_array'")
        self.size, self.length, self.neighbourhood = size, length, neighbourhood
        self.episode_length = episode_length
        self.num_pads = size * size
        self.num_tasks, self.split, self.render_mode = num_tasks, split, render_mode
        seqs = valid_sequences(size, length, neighbourhood)
        if num_tasks is None:
            self.pool = seqs
        else:
            if num_validation_tasks is None:
                num_validation_tasks = default_num_validation_tasks(len(seqs))
                # The default is 0 for fewer than 4 sequences: check it like a given one.
                validate_task_set_args(num_tasks, split, num_validation_tasks)
            self.pool = numpad_task_set(
                size, length, neighbourhood, num_tasks, num_validation_tasks, task_seed
            ).tasks(split)
        self.num_validation_tasks = num_validation_tasks

        half = arena_half_extent(size)
        pads = [(x, y, PAD_HALF_SIZE) for x, y in pad_centres(size)]
        self.physics = BallPhysics(num_envs, ball_arena_xml(half, pads))
        high = np.concatenate([[half, half, _MAX_SPEED, _MAX_SPEED],
                               np.ones(self.num_pads)]).astype(np.float32)
        low = np.concatenate([-high[:4], np.zeros(self.num_pads, dtype=np.float32)])
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.task_spec = MultiCategoricalTask(self.num_pads, length)

        self.tasks = np.zeros((num_envs, length), dtype=np.int64)
        self.progress = np.zeros(num_envs, dtype=np.int64)
        self.last_pads = np.full(num_envs, -1, dtype=np.int64)
        self.t = np.zeros(num_envs, dtype=np.int64)

    def draw_task(self, rng: np.random.Generator) -> np.ndarray:
        return self.pool[rng.integers(len(self.pool))].copy()

    def check_task(self, task: Any) -> np.ndarray:
        try:
            return check_sequence(task, self.size, self.length, self.neighbourhood)
        except ValueError as exc:
            raise ValueError(f"invalid options['task']: {exc}") from None

    def reset(self, indices: np.ndarray, tasks: np.ndarray) -> None:
        self.physics.reset(indices, np.zeros((len(indices), 2)))
        self.tasks[indices] = tasks
        self.progress[indices] = 0
        self.t[indices] = 0
        # A ball starting on a pad has not entered it.
        self.last_pads[indices] = entered_pads(self.physics.positions()[indices], -1, self.size)[0]

    def check_actions(self, actions: Any, shape: tuple[int, ...]) -> np.ndarray:
        return check_actions(actions, shape).reshape(-1, 2)

    def expose(self, env: gymnasium.Env | gymnasium.vector.VectorEnv) -> None:
        """Give ``env`` (single or vector) the core's configuration as public attributes."""
        env._core = self
        for name in ("size", "length", "neighbourhood", "episode_length", "num_pads", "num_tasks",
                     "split", "num_validation_tasks", "render_mode", "task_spec", "physics"):
            setattr(env, name, getattr(self, name))

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Advance every sub-env one control step; returns the rewards."""
        self.physics.step(actions)
        pads, pressed = entered_pads(self.physics.positions(), self.last_pads, self.size)
        rewards, self.progress = apply_presses(self.tasks, self.progress, pads, pressed)
        self.last_pads = pads
        self.t += 1
        return rewards

    def active(self) -> np.ndarray:
        """Active pads, bool ``[n, num_pads]``."""
        n = len(self.tasks)
        active = np.zeros((n, self.num_pads), dtype=bool)
        mask = np.arange(self.length) < self.progress[:, None]
        active[np.nonzero(mask)[0], self.tasks[mask]] = True
        return active

    def observations(self) -> np.ndarray:
        velocity = np.clip(self.physics.velocities() * self.physics.control_dt, -_MAX_SPEED, _MAX_SPEED)
        return np.concatenate([self.physics.positions(), velocity, self.active()], axis=1).astype(np.float32)

    def render(self, index: int) -> np.ndarray:
        rgba = np.where(self.active()[index][:, None], _ACTIVE_RGBA, _INACTIVE_RGBA)
        return self.physics.render(index, _RENDER_SIZE, _RENDER_SIZE, rgba)


_METADATA: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 20}


class NumPadEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """One NumPad task per meta-episode of ``episode_length`` control steps.

    Args (keyword-only, shared with :class:`NumPadVectorEnv`):
        size: Pads per side ``N`` (>= 2; default 3).
        length: Sequence length ``L`` in ``[2, N**2]`` (default 4).
        neighbourhood: ``"moore"`` (8 neighbours; default) or ``"von_neumann"`` (4).
        episode_length: Control steps per meta-episode; it terminates after them (500).
        num_tasks: ``None`` (default) draws uniformly from all valid sequences at every
            reset; an int draws uniformly from a finite train set of that many sequences.
        task_seed: Seed of the finite task set (0; ignored when ``num_tasks`` is None).
        split: ``"train"`` (default) or ``"validation"``: which split of the finite set to use.
        num_validation_tasks: Size of the validation split; None: a quarter of the
            valid sequences, at most 1000. ``num_tasks + num_validation_tasks`` must
            not exceed the number of valid sequences (24 for 2x2, L=3, Moore).
        render_mode: None (default) or ``"rgb_array"`` (256x256, active pads green; needs an
            offscreen OpenGL context, e.g. ``MUJOCO_GL=egl``).

    See the module docstring for the dynamics, observation and rewards.
    ``reset(options={"task": seq})`` fixes the sequence of the next meta-episode.
    :attr:`physics` is the underlying :class:`envs.ball.BallPhysics` (for tests and
    tools that place the ball; stepping it directly bypasses the press logic).
    """

    metadata = _METADATA

    def __init__(self, **kwargs: Any) -> None:
        _NumPadCore(1, **kwargs).expose(self)
        self.observation_space = self._core.observation_space
        self.action_space = self._core.action_space
        self._started = False

    def _info(self, boundary: bool) -> dict[str, Any]:
        return {"task": self._core.tasks[0].copy(), "boundary": boundary}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a meta-episode: draw (or take from ``options["task"]``) a sequence; ball at the origin."""
        super().reset(seed=seed)
        if options is not None and "task" in options:
            task = self._core.check_task(options["task"])
        else:
            task = self._core.draw_task(self.np_random)
        self._core.reset(np.array([0]), task[None])
        self._started = True
        return self._core.observations()[0], self._info(True)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Push the ball for one control step; terminates after ``episode_length`` steps."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self._core.t[0] >= self.episode_length:
            raise RuntimeError("the meta-episode has terminated; call reset() before step()")
        reward = self._core.step(self._core.check_actions(action, (2,)))
        terminated = bool(self._core.t[0] == self.episode_length)
        return self._core.observations()[0], float(reward[0]), terminated, False, self._info(False)

    def render(self) -> np.ndarray | None:
        """The top-down image if ``render_mode == "rgb_array"``, else None."""
        if self.render_mode is None:
            return None
        return self._core.render(0)

    def close(self) -> None:
        self.physics.close()


class NumPadVectorEnv(TaskVectorEnv):
    """``num_envs`` :class:`NumPadEnv` s, one ``MjData`` each, stepped in one call.

    Sub-env ``i`` draws its task from its own generator exactly as a
    :class:`NumPadEnv` seeded with the same seed would, so
    ``NumPadVectorEnv(n).reset(seed=s)`` replays ``NumPadEnv().reset(seed=s + i)`` in
    sub-env ``i`` bit for bit under the same actions, across autoresets too.

    Autoreset follows gymnasium's ``NEXT_STEP`` mode: the step after a sub-env
    terminated resets it (ignoring its action) and returns its reset observation,
    reward 0 and ``info["boundary"]`` True. An autoreset draws a new task;
    ``options["task"]`` applies to the explicit reset only.

    Observations float32 ``[n, 4 + size**2]``; rewards float64 ``[n]``;
    ``info["task"]`` int64 ``[n, length]``; ``info["boundary"]`` bool ``[n]``.
    Constructor arguments are those of :class:`NumPadEnv` plus ``num_envs``.
    """

    metadata = {**_METADATA, "autoreset_mode": gymnasium.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        check_num_envs(num_envs)
        _NumPadCore(num_envs, **kwargs).expose(self)
        self.num_envs = num_envs
        self.single_observation_space = self._core.observation_space
        self.single_action_space = self._core.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False

    @property
    def tasks(self) -> np.ndarray:
        """A copy of the current sequences, int64 ``[num_envs, length]``."""
        return self._core.tasks.copy()

    def _reset_subenvs(self, indices: np.ndarray, tasks: np.ndarray | None) -> None:
        if tasks is None:
            tasks = np.stack([self._core.draw_task(self._rngs[i]) for i in indices])
        self._core.reset(indices, tasks)
        self._needs_reset[indices] = False

    def _check_tasks(self, task: Any) -> np.ndarray:
        given = np.asarray(task)
        if given.ndim == 1:
            given = np.broadcast_to(given, (self.num_envs, *given.shape))
        if given.ndim != 2 or given.shape[0] != self.num_envs:
            raise ValueError(f"options['task'] must have shape ({self.num_envs}, {self.length}) "
                             f"or ({self.length},), got {np.shape(task)}")
        return np.stack([self._core.check_task(row) for row in given])

    def _reset_result(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._started = True
        return self._core.observations(), {"task": self.tasks, "boundary": np.ones(self.num_envs, dtype=bool)}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Push every ball one control step; sub-envs that terminated last step are reset instead."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = self._core.check_actions(actions, (self.num_envs, 2))
        resetting = self._needs_reset.copy()
        # Every ball steps, then the resetting ones are reset over it: mj_resetData
        # erases that step entirely, so they match a fresh single env.
        rewards = self._core.step(actions)
        if resetting.any():
            self._reset_subenvs(np.flatnonzero(resetting), None)
            rewards[resetting] = 0.0
        terminations = ~resetting & (self._core.t == self.episode_length)
        truncations = np.zeros(self.num_envs, dtype=bool)
        self._needs_reset = terminations | truncations
        info = {"task": self.tasks, "boundary": resetting}
        return self._core.observations(), rewards, terminations, truncations, info

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One top-down image per sub-env if ``render_mode == "rgb_array"``, else None."""
        if self.render_mode is None:
            return None
        return tuple(self._core.render(i) for i in range(self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        physics = getattr(self, "physics", None)  # absent if __init__ raised before building it
        if physics is not None:
            physics.close()
