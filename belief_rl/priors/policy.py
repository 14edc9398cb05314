"""A behavioral prior played as a policy: behavioral cloning alone, the baseline for KL-regularized RL."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from belief_rl.evaluation import held_out_kwargs
from belief_rl.priors.base import BehaviorPrior, from_raw_actions
from belief_rl.references.scripted import ScriptedPolicy, reference_returns
from belief_rl.seeding import evaluation_base_seed


class PriorMeanPolicy(ScriptedPolicy):
    """Acts with the prior's mean action ``tanh(μ0(s))`` mapped into the action box."""

    def __init__(self, prior: BehaviorPrior) -> None:
        self.prior = prior.eval()

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        """Memoryless: nothing to reset."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            mean = self.prior(torch.as_tensor(obs, dtype=torch.float32)).mean
            return from_raw_actions(mean, self.prior.low, self.prior.high).numpy()


def evaluate_prior_policy(prior: BehaviorPrior, env_id: str, num_tasks: int, eval_seed: int = 0,
                          env_kwargs: dict[str, Any] | None = None) -> dict[str, float]:
    """Mean return ± s.e. of :class:`PriorMeanPolicy` on the held-out tasks agents are evaluated on."""
    results = reference_returns(env_id, num_tasks, evaluation_base_seed(eval_seed),
                                lambda env: {"prior": PriorMeanPolicy(prior)},
                                held_out_kwargs(env_kwargs or {}))
    return results["prior"]
