"""One registry of environment families: what the package knows about each kind of environment.

A family says, for every env id of its kind: which training preset suits it, which scripted experts can
demonstrate it (``belief-rl demos collect --policy oracle|scripted``, scripted histories for the belief),
which reference policies an agent is evaluated against, and how many held-out tasks an evaluation uses.
The ``belief_rl/*`` ids name their family when they register (:func:`belief_rl.envs.env_family`); any other
gymnasium id has none and gets :data:`GENERIC`: no preset, no references, 1,000 evaluation tasks.

NumPad's reference module is imported only when a NumPad env asks for it, so bandit-only use needs no
``mujoco``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from belief_rl.envs import env_family, env_spec_kwargs
from belief_rl.references.bandits import bandit_reference_returns
from belief_rl.references.reacher import ReacherExpert, reacher_reference_returns
from belief_rl.references.scripted import ScriptedPolicy
from belief_rl.references.semicircle import (
    SemicircleExplorer,
    SemicircleOracle,
    StraightController,
    semicircle_reference_returns,
)

ExpertFactory = Callable[[gym.vector.VectorEnv], ScriptedPolicy]
# (env_id, num_tasks, reset seed, env kwargs) -> {name: {"mean", "stderr", "num_tasks"}}
ReferenceEvaluator = Callable[[str, int, int, dict[str, Any]], dict[str, dict[str, float]]]


@dataclass(frozen=True)
class EnvFamily:
    """What belief_rl knows about one kind of environment."""

    name: str
    #: The training preset for an id of this family, from the id's registered kwargs (with overrides).
    preset: Callable[[dict[str, Any]], str | None] = lambda kwargs: None
    #: Scripted policies that can play the env: ``{"oracle": ..., "scripted": ...}``.
    experts: Callable[[], dict[str, ExpertFactory]] = dict
    #: The reference policies an agent is compared with, or None.
    references: Callable[[], ReferenceEvaluator] | None = None
    #: Held-out tasks of ``belief-rl evaluate`` / ``baselines`` by default.
    eval_tasks: int = 1_000
    description: str = ""


def _semicircle_experts() -> dict[str, ExpertFactory]:
    def oracle(env: gym.vector.VectorEnv) -> ScriptedPolicy:
        # On the point envs the oracle steers straight (see StraightController): a smooth field to imitate.
        if hasattr(env.unwrapped, "max_step"):
            return SemicircleOracle(StraightController(env.unwrapped.max_step))
        return SemicircleOracle.for_env(env)

    return {"oracle": oracle, "scripted": SemicircleExplorer.for_env}


def _numpad_experts() -> dict[str, ExpertFactory]:
    # NumPad's module imports the MuJoCo ball: loaded only when a NumPad env asks for it.
    from belief_rl.references.numpad import NumPadExplorer, NumPadOracle

    return {"oracle": NumPadOracle.for_env, "scripted": NumPadExplorer.for_env}


def _numpad_references() -> ReferenceEvaluator:
    from belief_rl.references.numpad import numpad_reference_returns

    return numpad_reference_returns


def _reacher_experts() -> dict[str, ExpertFactory]:
    # The target is observed: the scripted expert is also the oracle.
    return {"oracle": ReacherExpert.for_env, "scripted": ReacherExpert.for_env}


def _ball_tasks_experts() -> dict[str, ExpertFactory]:
    from belief_rl.references.ball_tasks import BallTasksExpert

    # The task is observed: the scripted expert is also the oracle.
    return {"oracle": BallTasksExpert.for_env, "scripted": BallTasksExpert.for_env}


def _ball_tasks_references() -> ReferenceEvaluator:
    from belief_rl.references.ball_tasks import ball_tasks_reference_returns

    return ball_tasks_reference_returns


FAMILIES: dict[str, EnvFamily] = {
    "bandit": EnvFamily("bandit", preset=lambda kwargs: "full", references=lambda: bandit_reference_returns,
                        eval_tasks=10_000,
                        description="Bernoulli bandits, p ~ U(0, 1)^K; classical strategies as references"),
    # A fixed goal is a single task (the behavioral-prior study), with a preset of its own.
    "semicircle": EnvFamily("semicircle",
                            preset=lambda kw: "semicircle-fixed-goal" if kw.get("goal_angle") is not None
                            else "semicircle",
                            experts=_semicircle_experts, references=lambda: semicircle_reference_returns,
                            description="goal on a semicircle; scripted oracle and explorer"),
    # Belief dropout helps on the 2x2 pad and hurts on larger ones.
    "numpad": EnvFamily("numpad", preset=lambda kw: "numpad-2x2" if kw.get("size") == 2 else "numpad",
                        experts=_numpad_experts, references=_numpad_references,
                        description="MuJoCo ball pressing a hidden pad sequence; "
                                    "scripted oracle and explorer"),
    "reacher": EnvFamily("reacher", preset=lambda kwargs: "reacher", experts=_reacher_experts,
                         references=lambda: reacher_reference_returns, eval_tasks=1_000,
                         description="gymnasium's Reacher-v5 (single task); scripted expert"),
    "ball_tasks": EnvFamily("ball_tasks", preset=lambda kwargs: "ball-tasks", experts=_ball_tasks_experts,
                            references=_ball_tasks_references,
                            eval_tasks=200,
                            description="multi-task ball arenas (go to / push a box onto 1 of K targets); "
                                        "task observed"),
}

#: The family of an env id that names none (a user's own environment).
GENERIC = EnvFamily("generic", description="any env meeting the contract")


def family_of(env_id: str) -> EnvFamily:
    """The family of ``env_id`` (:data:`GENERIC` for ids outside the ``belief_rl/`` namespace)."""
    name = env_family(env_id)
    return FAMILIES[name] if name is not None else GENERIC


def preset_for_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> str | None:
    """The preset of ``env_id``'s family for its registered kwargs updated with
    ``env_kwargs`` (None: none)."""
    family = family_of(env_id)
    if family is GENERIC:
        return None
    return family.preset({**env_spec_kwargs(env_id), **(env_kwargs or {})})


def scripted_experts(env_id: str) -> dict[str, ExpertFactory]:
    """The scripted policies that can demonstrate ``env_id``:
    ``{"oracle": ..., "scripted": ...}`` or ``{}``."""
    return family_of(env_id).experts()


def reference_evaluator(env_id: str) -> ReferenceEvaluator | None:
    """The reference policies' evaluator of ``env_id``'s family, or None if it has none."""
    references = family_of(env_id).references
    return references() if references is not None else None
