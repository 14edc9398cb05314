"""Learners: recurrent PPO (on-policy) and SVG(0) with Retrace (off-policy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch

from belief_rl.agents.base import Agent, SequenceBatch
from belief_rl.algorithms.ppo import PPO
from belief_rl.algorithms.regularizers import PolicyRegularizer
from belief_rl.algorithms.svg0 import SVG0
from belief_rl.config import TrainConfig
from belief_rl.rollout import Rollout
from belief_rl.seeding import history_seed

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
        return SVG0(agent, config.svg0, _prior_regularizer(agent, config), _belief_histories(agent, config))
    return PPO(agent, config.ppo)


def _belief_histories(agent: Agent, config: TrainConfig) -> SequenceBatch | None:
    """The scripted explorer's meta-episodes for the belief's extra steps, if configured (seeded by the run's
    seed, so a resumed run collects the same pool; training tasks)."""
    if config.svg0.belief_histories != "explorer":
        return None
    from belief_rl.histories import scripted_histories

    return scripted_histories(config.env_id, config.env_kwargs, agent, config.svg0.belief_history_pool,
                              seed=history_seed(config.seed))


def _prior_regularizer(agent: Agent, config: TrainConfig) -> PolicyRegularizer | None:
    """The KL-to-prior regularizer of ``config.svg0.prior``, checked against the agent's spaces."""
    if not config.svg0.prior:
        return None
    from belief_rl.priors import KLPriorRegularizer, PriorError, load_prior

    prior, _ = load_prior(Path(config.svg0.prior), env_id=config.env_id)
    action_dim = int(agent.action_space.shape[0])
    if prior.obs_dim != agent.obs_dim or prior.action_dim != action_dim:
        raise PriorError(f"prior {config.svg0.prior} expects observation/action sizes {prior.obs_dim}/"
                         f"{prior.action_dim}, the env has {agent.obs_dim}/{action_dim}")
    return KLPriorRegularizer(prior, config.svg0.target_kl)


__all__ = ["CRITIC_FOR_ALGORITHM", "PPO", "SVG0", "Learner", "make_learner"]
