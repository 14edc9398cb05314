"""Checks shared by the env tests (imported as a plain module: tests/ is on sys.path)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import gymnasium
import numpy as np


def assert_matches_sync_vector_env(
    make_env: Callable[[], gymnasium.Env],
    venv: gymnasium.vector.VectorEnv,
    actions: Iterable[np.ndarray],
    seed: int,
    info_keys: Sequence[str] = ("task", "boundary"),
) -> None:
    """``venv`` steps exactly like gymnasium's SyncVectorEnv of ``make_env()`` s.

    gymnasium's own ``NEXT_STEP`` implementation is the reference for autoreset and
    for the ``seed + i`` seeding of sub-env ``i``.
    """
    sync = gymnasium.vector.SyncVectorEnv([make_env for _ in range(venv.num_envs)])
    (ref_obs, ref_info), (obs, info) = sync.reset(seed=seed), venv.reset(seed=seed)
    np.testing.assert_array_equal(ref_obs, obs)
    np.testing.assert_array_equal(ref_info["task"], info["task"])
    for a in actions:
        ref, ours = sync.step(a), venv.step(a)
        for x, y in zip(ref[:4], ours[:4]):
            np.testing.assert_array_equal(x, y)
        for key in info_keys:
            np.testing.assert_array_equal(ref[4][key], ours[4][key])


def vector_rollout(venv: gymnasium.vector.VectorEnv, actions: Iterable[np.ndarray], seed: int) -> list[tuple]:
    """``(obs, reward, terminated, truncated, task, boundary)`` per step of ``venv``, reset with ``seed``.

    The reset comes first, with reward 0 and both flags False, so that entry ``t``
    lines up with step ``t`` of a single-env rollout recorded the same way.
    """
    n = venv.num_envs
    obs, info = venv.reset(seed=seed)
    rollout = [(obs, np.zeros(n), np.zeros(n, bool), np.zeros(n, bool), info["task"], info["boundary"])]
    for a in actions:
        obs, r, term, trunc, info = venv.step(a)
        rollout.append((obs, r, term, trunc, info["task"], info["boundary"]))
    return rollout
