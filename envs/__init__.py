"""Gymnasium registrations of the belief_rl environments (``belief_rl/*`` ids)."""

from __future__ import annotations

from typing import Any

import gymnasium

_NAMESPACE = "belief_rl/"

_BANDIT = ("envs.bandit:BanditEnv", "envs.bandit:BanditVectorEnv")
_SEMICIRCLE = ("envs.semicircle:SemicircleEnv", "envs.semicircle:SemicircleVectorEnv")
_SEMICIRCLE_BALL = ("envs.semicircle:SemicircleBallEnv", "envs.semicircle:SemicircleBallVectorEnv")
_NUMPAD = ("envs.numpad:NumPadEnv", "envs.numpad:NumPadVectorEnv")
_REACHER = ("envs.reacher:ReacherEnv", "envs.reacher:ReacherVectorEnv")

# id -> ((single entry point, vector entry point), registered constructor kwargs)
_REGISTRY: dict[str, tuple[tuple[str, str], dict[str, Any]]] = {
    "belief_rl/Bandit-v0": (_BANDIT, {"num_arms": 20, "horizon": 100}),
    "belief_rl/Bandit-K10-H100-v0": (_BANDIT, {"num_arms": 10, "horizon": 100}),
    "belief_rl/Bandit-K5-H10-v0": (_BANDIT, {"num_arms": 5, "horizon": 10}),
    # DESIGN.md section 3: unit semicircle, 3 episodes of 100 steps per meta-episode.
    "belief_rl/Semicircle-v0": (_SEMICIRCLE, {}),
    # A small variant for tests and quick experiments: radius 0.5, 2 episodes of 20 steps.
    "belief_rl/Semicircle-Small-v0": (_SEMICIRCLE, {"radius": 0.5, "episode_length": 20, "num_episodes": 2}),
    # One fixed goal (θ = 2π/3) instead of a task distribution: the single-task Semicircle of the
    # behavioral-prior study (a sparse reward an expert's demonstrations fully determine).
    "belief_rl/Semicircle-FixedGoal-v0": (_SEMICIRCLE, {"goal_angle": 2.0943951023931953}),
    # The same goal direction, farther (1.4 of the arena's 1.5) and smaller (radius 0.1): hard to find by
    # undirected exploration, so demonstrations have something to add.
    "belief_rl/Semicircle-FixedGoal-Far-v0": (_SEMICIRCLE, {"goal_angle": 2.0943951023931953, "radius": 1.4,
                                                            "goal_radius": 0.1}),
    # The same goals and rewards with a MuJoCo ball rolling on a plane.
    "belief_rl/SemicircleBall-v0": (_SEMICIRCLE_BALL, {}),
    "belief_rl/NumPad-v0": (_NUMPAD, {"size": 3, "length": 4}),
    "belief_rl/NumPad-2x2-L3-v0": (_NUMPAD, {"size": 2, "length": 3}),
    "belief_rl/NumPad-3x3-L4-v0": (_NUMPAD, {"size": 3, "length": 4}),
    "belief_rl/NumPad-4x4-L5-v0": (_NUMPAD, {"size": 4, "length": 5}),
    # gymnasium's Reacher-v5 (not meta-RL): the standard MuJoCo task of the behavioral-prior study.
    "belief_rl/Reacher-v5": (_REACHER, {}),
}

for _env_id, ((_entry, _vector_entry), _kwargs) in _REGISTRY.items():
    # Re-imports (e.g. importlib.reload) would otherwise make gymnasium warn about overriding.
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point=_entry, vector_entry_point=_vector_entry, kwargs=dict(_kwargs))


def registered_ids() -> list[str]:
    """All registered ``belief_rl/*`` environment ids, sorted."""
    return sorted(k for k in gymnasium.registry if k.startswith(_NAMESPACE))


def _check_id(env_id: str) -> None:
    if env_id not in registered_ids():
        raise ValueError(f"unknown environment {env_id!r}; known: {', '.join(registered_ids())}")


def env_spec_kwargs(env_id: str) -> dict[str, Any]:
    """A copy of the constructor kwargs registered for ``env_id``."""
    _check_id(env_id)
    return dict(gymnasium.spec(env_id).kwargs)


def make_vector_env(env_id: str, num_envs: int, **kwargs: Any) -> gymnasium.vector.VectorEnv:
    """The natively batched env of ``env_id``; ``kwargs`` override the registered ones."""
    _check_id(env_id)
    try:
        return gymnasium.make_vec(
            env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
        )
    except TypeError as exc:  # an unknown or misspelled keyword argument
        raise ValueError(f"invalid arguments for {env_id}: {exc}") from None
