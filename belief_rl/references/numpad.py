"""Scripted reference policies for NumPad-v0 (a MuJoCo ball pressing a hidden pad sequence).

* :class:`NumPadOracle` knows the sequence and presses it over and over: the ceiling.
* :class:`NumPadExplorer` sees only what an agent sees (observation, reward). It keeps
  every valid sequence consistent with the presses seen so far and steers to the
  pad most likely to be next, then repeats the sequence once it is known. This is
  a strong belief-based strategy (greedy in the posterior, not Bayes-optimal), so
  its return is the bar for a belief agent.
* :class:`NumPadRandom` pushes the ball with uniform random motor commands: the floor.

Press detection and pad geometry come from :mod:`envs.numpad`, the code the env runs.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from belief_rl.envs.ball import STEP_SPEED
from belief_rl.envs.numpad import PAD_HALF_SIZE, PAD_PITCH, entered_pads, pad_at, pad_centres, valid_sequences
from belief_rl.references.scripted import ScriptedPolicy, reference_returns
from belief_rl.references.semicircle import BallController

__all__ = [
    "NumPadExplorer",
    "NumPadOracle",
    "NumPadRandom",
    "PadSteering",
    "numpad_reference_returns",
]


def _segment_hits_boxes(start: np.ndarray, end: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether segment ``i`` (``[n, 2]`` ends) meets axis-aligned box ``j`` (``[m, 2]`` corners): bool
    ``[n, m]``."""
    delta = (end - start)[:, None, :]  # [n, 1, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (lo[None] - start[:, None]) / delta
        t2 = (hi[None] - start[:, None]) / delta
    t_near, t_far = np.minimum(t1, t2), np.maximum(t1, t2)
    # An axis the segment does not move along: inside the slab for all t, or never.
    inside = (start[:, None] >= lo[None]) & (start[:, None] <= hi[None])
    parallel = delta == 0
    t_near = np.where(parallel, np.where(inside, -np.inf, np.inf), t_near)
    t_far = np.where(parallel, np.where(inside, np.inf, -np.inf), t_far)
    enter, leave = t_near.max(axis=2), t_far.min(axis=2)
    return (enter <= leave) & (leave >= 0.0) & (enter <= 1.0)


class PadSteering:
    """Steers a batch of balls onto target pads without pressing pads that would clear progress.

    The PD law of :class:`BallController` aims at the target pad's centre. While
    some pads are active, an inactive pad other than the target in the way would
    wipe them, so the ball then aims first at the midpoint between the pad it last
    touched and the target (the gap between them, or their shared gap crossing for
    a diagonal move), from where the straight line is clear. A ball sitting on its
    target without having pressed it (the start pad) first rolls off it, towards
    the grid centre, to re-enter it.
    """

    def __init__(self, size: int, controller: BallController | None = None, margin: float = 0.05) -> None:
        self.size = size
        self.centres = pad_centres(size)
        self.controller = controller if controller is not None else BallController(STEP_SPEED)
        # Pads grown by `margin`: the ball does not follow its aim line exactly.
        self._lo = self.centres - PAD_HALF_SIZE - margin
        self._hi = self.centres + PAD_HALF_SIZE + margin
        rows, cols = np.divmod(np.arange(size * size), size)
        self._adjacent = (np.abs(rows[:, None] - rows) <= 1) & (np.abs(cols[:, None] - cols) <= 1)
        norms = np.linalg.norm(self.centres, axis=1, keepdims=True)
        # Off a pad towards the grid centre (the centre pad itself: towards +x).
        self._exit = np.where(norms > 0, -self.centres / np.maximum(norms, 1e-12), [1.0, 0.0])
        self._anchor = np.zeros(0, dtype=np.int64)

    def reset(self, obs: np.ndarray) -> None:
        """Start tracking the pad each ball last touched."""
        self._anchor = pad_at(obs[:, :2], self.size)

    def action(self, obs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Motor commands ``[n, 2]`` steering each ball of ``obs`` towards pad ``targets[i]``."""
        pos = obs[:, :2].astype(np.float64)
        active = obs[:, 4:] > 0.5
        current = pad_at(pos, self.size)
        self._anchor = np.where(current >= 0, current, self._anchor)
        goal = self.centres[targets].copy()

        on_target = current == targets
        goal[on_target] += 0.5 * PAD_PITCH * self._exit[targets[on_target]]

        pads = np.arange(self.size * self.size)
        forbidden = (~active & (pads != targets[:, None]) & (pads != current[:, None])
                     & active.any(axis=1, keepdims=True))
        blocked = (_segment_hits_boxes(pos, goal, self._lo, self._hi) & forbidden).any(axis=1)
        anchor = self._anchor
        detour = blocked & ~on_target & (anchor >= 0) & self._adjacent[np.maximum(anchor, 0), targets]
        goal[detour] = 0.5 * (self.centres[anchor[detour]] + self.centres[targets[detour]])
        return self.controller.action(obs, goal)


class _NumPadPolicy(ScriptedPolicy):
    """Shared plumbing: geometry, steering and the progress read from the active pads."""

    def __init__(self, size: int, length: int, neighbourhood: str = "moore") -> None:
        self.size, self.length, self.neighbourhood = size, length, neighbourhood
        self.steering = PadSteering(size)

    @classmethod
    def for_env(cls, env: gym.vector.VectorEnv | gym.Env) -> _NumPadPolicy:
        """A policy for the geometry of a NumPad env."""
        unwrapped = env.unwrapped
        return cls(unwrapped.size, unwrapped.length, unwrapped.neighbourhood)

    @staticmethod
    def _progress(obs: np.ndarray) -> np.ndarray:
        return (obs[:, 4:] > 0.5).sum(axis=1)


class NumPadOracle(_NumPadPolicy):
    """Reads the sequence from ``info["task"]`` and steers to its next pad, repeating it."""

    uses_task = True

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        self._tasks = np.asarray(info["task"], dtype=np.int64)
        self.steering.reset(obs)

    def act(self, obs: np.ndarray) -> np.ndarray:
        # The active pads are always a prefix of the sequence: their count is the progress.
        targets = self._tasks[np.arange(len(obs)), self._progress(obs)]
        return self.steering.action(obs, targets)


class NumPadExplorer(_NumPadPolicy):
    """Eliminates sequences inconsistent with the observed presses; steers to the likeliest next pad.

    A press of an inactive pad ``x`` with ``k`` pads active tells ``seq[k] == x`` if
    it paid 1, else ``seq[k] != x``; presses are detected from the observed
    positions with the env's own :func:`envs.numpad.entered_pads`. The candidates
    start as all valid sequences (the uniform prior), so the neighbour constraint
    is built in. Ties between equally likely pads go to the one nearest the ball.
    """

    uses_task = False

    def __init__(self, size: int, length: int, neighbourhood: str = "moore") -> None:
        super().__init__(size, length, neighbourhood)
        self.sequences = valid_sequences(size, length, neighbourhood)

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        n = len(obs)
        self.candidates = np.ones((n, len(self.sequences)), dtype=bool)
        self._last_pads = pad_at(obs[:, :2], self.size)
        self._active = obs[:, 4:] > 0.5
        self._targets = np.zeros(n, dtype=np.int64)
        self._stale = np.ones(n, dtype=bool)  # target to be recomputed
        self.steering.reset(obs)

    def act(self, obs: np.ndarray) -> np.ndarray:
        progress = self._progress(obs)
        centres = self.steering.centres
        for i in np.flatnonzero(self._stale):
            counts = np.bincount(self.sequences[self.candidates[i], progress[i]], minlength=self.size**2)
            best = np.flatnonzero(counts == counts.max())
            distance = np.linalg.norm(centres[best] - obs[i, :2], axis=1)
            self._targets[i] = best[np.argmin(distance)]
        self._stale[:] = False
        return self.steering.action(obs, self._targets)

    def observe(self, obs: np.ndarray, reward: np.ndarray, done: np.ndarray, info: dict[str, Any]) -> None:
        pads, pressed = entered_pads(obs[:, :2], self._last_pads, self.size)
        rows = np.arange(len(obs))
        progress = self._active.sum(axis=1)  # before this step's press
        informative = pressed & ~self._active[rows, np.maximum(pads, 0)]
        for i in np.flatnonzero(informative):
            column = self.sequences[:, progress[i]]
            self.candidates[i] &= (column == pads[i]) if reward[i] > 0 else (column != pads[i])
            if not self.candidates[i].any():
                raise RuntimeError(f"sub-env {i}: no valid sequence explains the presses "
                                   "(press detection out of sync)")
        active = obs[:, 4:] > 0.5
        self._stale |= informative | (active != self._active).any(axis=1)
        self._last_pads, self._active = pads, active


class NumPadRandom(ScriptedPolicy):
    """Uniform random motor commands in ``[-1, 1]^2`` every step."""

    uses_task = False

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self._n = 0

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        self._n = len(obs)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, (self._n, 2)).astype(np.float32)


def numpad_reference_returns(
    env_id: str, num_tasks: int, seed: int, env_kwargs: dict[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """Mean meta-episode return of oracle, explorer and random play on the same ``num_tasks`` tasks.

    All play one batch of ``num_tasks`` sub-envs of ``env_id`` (``env_kwargs``
    override the registered arguments, e.g. ``{"num_tasks": 100, "split":
    "validation"}`` for a held-out finite set) reset with ``seed``, so sub-env ``i``
    has the same sequence (seed ``seed + i``) for every policy.

    Returns:
        ``{"oracle": {...}, "explorer": {...}, "random": {...}}``, each
        ``{"mean", "stderr", "num_tasks"}``.
    """
    def policies(env: gym.vector.VectorEnv) -> dict[str, ScriptedPolicy]:
        return {
            "oracle": NumPadOracle.for_env(env),
            "explorer": NumPadExplorer.for_env(env),
            "random": NumPadRandom(seed),
        }

    return reference_returns(env_id, num_tasks, seed, policies, env_kwargs)
