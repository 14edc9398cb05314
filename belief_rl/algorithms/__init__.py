"""Learners: recurrent PPO (on-policy) and SVG(0) with Retrace (off-policy)."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from belief_rl.agents.base import Agent
from belief_rl.algorithms.ppo import PPO
from belief_rl.algorithms.svg0 import SVG0
from belief_rl.config import TrainConfig
from belief_rl.rollout import Rollout

# The critic each learner needs its agent to be built with.
CRITIC_FOR_ALGORITHM = {"ppo": "value", "svg0": "q"}


class Learner(Protocol):
    """What the trainer drives: one update per collected batch of meta-episodes."""

    def update(self, rollout: Rollout, generator: torch.Generator | None = None) -> dict[str, float]: ...

    def set_progress(self, fraction_done: float) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def make_learner(agent: Agent, config: TrainConfig) -> Learner:
    """The learner named by ``config.algorithm``."""
    if config.algorithm == "svg0":
        return SVG0(agent, config.svg0)
    return PPO(agent, config.ppo)


__all__ = ["CRITIC_FOR_ALGORITHM", "PPO", "SVG0", "Learner", "make_learner"]
