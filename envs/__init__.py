"""Gymnasium registrations of the belief_rl environments (``belief_rl/*`` ids)."""

from __future__ import annotations

from typing import Any

import gymnasium

_NAMESPACE = "belief_rl/"

_BANDITS: dict[str, dict[str, Any]] = {
    "belief_rl/Bandit-v0": {"num_arms": 20, "horizon": 100},
    "belief_rl/Bandit-K10-H100-v0": {"num_arms": 10, "horizon": 100},
    "belief_rl/Bandit-K5-H10-v0": {"num_arms": 5, "horizon": 10},
}

for _env_id, _kwargs in _BANDITS.items():
    # Re-imports (e.g. importlib.reload) would otherwise make gymnasium warn about overriding.
    if _env_id not in gymnasium.registry:
        gymnasium.register(
            id=_env_id,
            entry_point="envs.bandit:BanditEnv",
            vector_entry_point="envs.bandit:BanditVectorEnv",
            kwargs=dict(_kwargs),
        )


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
