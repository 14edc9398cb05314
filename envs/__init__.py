"""The belief_rl environments, registered with gymnasium as ``belief_rl/*`` when this package is imported.

Any gymnasium id whose env meets the contract of :mod:`belief_rl.envs.contract` can be trained on:
:func:`make_vector_env` uses an env's native vector implementation when it registers one
(``vector_entry_point``) and gymnasium's synchronous vector env otherwise. As in gymnasium, an id may name
the module that registers it, ``"my_package.envs:MyEnv-v0"``: the module is imported first.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium

from belief_rl.envs.contract import ContractError, check_contract
from belief_rl.envs.task_specs import (
    BetaTask,
    CategoricalTask,
    GaussianTask,
    MultiCategoricalTask,
    TaskSet,
    TaskSpec,
)

NAMESPACE = "belief_rl/"

_BANDIT = ("bandit", "belief_rl.envs.bandit:BanditEnv", "belief_rl.envs.bandit:BanditVectorEnv")
_SEMICIRCLE = ("semicircle", "belief_rl.envs.semicircle:SemicircleEnv",
               "belief_rl.envs.semicircle:SemicircleVectorEnv")
_SEMICIRCLE_BALL = ("semicircle", "belief_rl.envs.semicircle:SemicircleBallEnv",
                    "belief_rl.envs.semicircle:SemicircleBallVectorEnv")
_NUMPAD = ("numpad", "belief_rl.envs.numpad:NumPadEnv", "belief_rl.envs.numpad:NumPadVectorEnv")
_REACHER = ("reacher", "belief_rl.envs.reacher:ReacherEnv", "belief_rl.envs.reacher:ReacherVectorEnv")
_BALL_TASKS = ("ball_tasks", "belief_rl.envs.ball_tasks:BallTasksEnv",
               "belief_rl.envs.ball_tasks:BallTasksVectorEnv")
_FIXED_GOAL = 2.0943951023931953  # θ = 2π/3

# id -> ((family, single entry point, vector entry point), registered constructor kwargs). The family names
# a row of belief_rl.families (default preset, reference policies, scripted experts).
_REGISTRY: dict[str, tuple[tuple[str, str, str], dict[str, Any]]] = {
    "belief_rl/Bandit-v0": (_BANDIT, {"num_arms": 20, "horizon": 100}),
    "belief_rl/Bandit-K10-H100-v0": (_BANDIT, {"num_arms": 10, "horizon": 100}),
    "belief_rl/Bandit-K5-H10-v0": (_BANDIT, {"num_arms": 5, "horizon": 10}),
    # Goals on the unit semicircle, 3 episodes of 100 steps per meta-episode.
    "belief_rl/Semicircle-v0": (_SEMICIRCLE, {}),
    # A small variant for tests and quick experiments: radius 0.5, 2 episodes of 20 steps.
    "belief_rl/Semicircle-Small-v0": (_SEMICIRCLE, {"radius": 0.5, "episode_length": 20, "num_episodes": 2}),
    # One fixed goal instead of a task distribution: the single-task Semicircle of the
    # behavioral-prior study (a sparse reward an expert's demonstrations fully determine).
    "belief_rl/Semicircle-FixedGoal-v0": (_SEMICIRCLE, {"goal_angle": _FIXED_GOAL}),
    # The same goal direction, farther (1.4 of the arena's 1.5) and smaller (radius 0.1): hard to find by
    # undirected exploration, so demonstrations have something to add.
    "belief_rl/Semicircle-FixedGoal-Far-v0": (_SEMICIRCLE, {"goal_angle": _FIXED_GOAL, "radius": 1.4,
                                                            "goal_radius": 0.1}),
    # The same goals and rewards with a MuJoCo ball rolling on a plane.
    "belief_rl/SemicircleBall-v0": (_SEMICIRCLE_BALL, {}),
    "belief_rl/NumPad-v0": (_NUMPAD, {"size": 3, "length": 4}),
    "belief_rl/NumPad-2x2-L3-v0": (_NUMPAD, {"size": 2, "length": 3}),
    "belief_rl/NumPad-3x3-L4-v0": (_NUMPAD, {"size": 3, "length": 4}),
    "belief_rl/NumPad-4x4-L5-v0": (_NUMPAD, {"size": 4, "length": 5}),
    # Multi-task ball arenas (not meta-RL: the task is observed) for learned behavior priors and transfer:
    # go to the chosen one of K targets (100 steps), or push a box onto it (150 steps).
    "belief_rl/BallTargets-K1-v0": (_BALL_TASKS, {"num_targets": 1}),
    "belief_rl/BallTargets-K3-v0": (_BALL_TASKS, {"num_targets": 3}),
    "belief_rl/BallBox-K1-v0": (_BALL_TASKS, {"num_targets": 1, "box": True, "episode_length": 150}),
    "belief_rl/BallBox-K3-v0": (_BALL_TASKS, {"num_targets": 3, "box": True, "episode_length": 150}),
    # gymnasium's Reacher-v5 (not meta-RL): the standard MuJoCo task of the behavioral-prior study.
    "belief_rl/Reacher-v5": (_REACHER, {}),
}

for _env_id, ((_family, _entry, _vector_entry), _kwargs) in _REGISTRY.items():
    # Re-imports (e.g. importlib.reload) would otherwise make gymnasium warn about overriding.
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point=_entry, vector_entry_point=_vector_entry,
                           kwargs=dict(_kwargs))


def registered_ids() -> list[str]:
    """All registered ``belief_rl/*`` environment ids, sorted."""
    return sorted(k for k in gymnasium.registry if k.startswith(NAMESPACE))


def env_family(env_id: str) -> str | None:
    """The family of a ``belief_rl/*`` id (``"bandit"``, ``"semicircle"``, ...), None for any other id."""
    entry = _REGISTRY.get(env_id.rpartition(":")[2])
    return entry[0][0] if entry else None


def resolve_id(env_id: str) -> str:
    """The registered id of ``env_id``, after importing the module a ``"module:id"`` names; one-line
    ValueError if the module cannot be imported or the id is not registered."""
    module, _, bare_id = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(f"cannot import {module!r}, the module of environment "
                             f"{env_id!r} ({exc})") from None
    if bare_id not in gymnasium.registry:
        hint = f"known belief_rl ids: {', '.join(registered_ids())}"
        if not module:
            hint += "; for your own env, register it with gymnasium.register and pass 'its_module:its_id'"
        raise ValueError(f"unknown environment {env_id!r}; {hint}")
    return bare_id


def check_id(env_id: str) -> None:
    """Raise a one-line ValueError unless ``env_id`` is (or, with ``"module:"``, becomes) registered."""
    resolve_id(env_id)


def env_spec_kwargs(env_id: str) -> dict[str, Any]:
    """A copy of the constructor kwargs registered for ``env_id``."""
    return dict(gymnasium.spec(resolve_id(env_id)).kwargs)


def make_env(env_id: str, **kwargs: Any) -> gymnasium.Env:
    """``gymnasium.make(env_id, **kwargs)`` with one-line errors for unknown ids and arguments."""
    env_id = resolve_id(env_id)
    try:
        return gymnasium.make(env_id, **kwargs)
    except TypeError as exc:  # an unknown or misspelled keyword argument
        raise ValueError(f"invalid arguments for {env_id}: {exc}") from None


def make_vector_env(env_id: str, num_envs: int, **kwargs: Any) -> gymnasium.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` batched: natively if the id registers a ``vector_entry_point``, else
    in gymnasium's :class:`~gymnasium.vector.SyncVectorEnv`. ``kwargs`` override the registered ones.

    The vector env's ``unwrapped.task_spec`` is the task spec of the env (see :mod:`belief_rl.envs.contract`).
    """
    env_id = resolve_id(env_id)
    native = gymnasium.spec(env_id).vector_entry_point is not None
    try:
        env = gymnasium.make_vec(env_id, num_envs=num_envs,
                                 vectorization_mode="vector_entry_point" if native else "sync", **kwargs)
    except TypeError as exc:  # an unknown or misspelled keyword argument
        raise ValueError(f"invalid arguments for {env_id}: {exc}") from None
    if not native:
        env.unwrapped.task_spec = getattr(env.unwrapped.envs[0].unwrapped, "task_spec", None)
    return env


__all__ = ["NAMESPACE", "BetaTask", "CategoricalTask", "ContractError", "GaussianTask",
           "MultiCategoricalTask", "TaskSet", "TaskSpec", "check_contract", "check_id", "env_family",
           "env_spec_kwargs", "make_env", "make_vector_env", "registered_ids", "resolve_id"]
