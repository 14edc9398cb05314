"""KL regularization toward a behavioral prior π0, for the off-policy learner.

The penalty ``KL(π(·|s) ‖ π0(·|s))`` replaces the entropy term of soft RL in
the actor loss and in the soft value of the Bellman target. Both π's base and π0
are diagonal Gaussians over pre-squash actions (see :mod:`belief_rl.priors.base`),
so the KL of the squashed policies is the closed-form KL of the bases. Its
gradients ``∂KL/∂μ = (μ − μ0)/σ0²`` and ``∂KL/∂σ = −1/σ + σ/σ0²`` are what blow
up when a parametric prior's σ0 collapses.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from belief_rl.algorithms.regularizers import PolicyRegularizer
from belief_rl.priors.base import BehaviorPrior, PriorError


def gaussian_kl(mean: torch.Tensor, std: torch.Tensor, prior_mean: torch.Tensor,
                prior_std: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, std²) ‖ N(prior_mean, prior_std²))`` of diagonal Gaussians, summed over the last dim."""
    var_ratio = (std / prior_std).pow(2)
    return 0.5 * (var_ratio + ((mean - prior_mean) / prior_std).pow(2) - 1.0 - var_ratio.log()).sum(-1)


class KLPriorRegularizer(PolicyRegularizer):
    """Penalty ``KL(π(·|s) ‖ π0(·|s))`` with α tuned (if enabled) so the KL stays near ``target_kl``.

    The prior reads the environment observation at each step. It is fixed while
    the agent learns, so its prediction (mean and std, the penalty's context) is
    computed once per stored step rather than at every gradient step: for a GP
    prior that prediction is the costly part.
    """

    def __init__(self, prior: BehaviorPrior, target_kl: float = 1.0) -> None:
        if target_kl <= 0:
            raise ValueError(f"target_kl must be positive, got {target_kl}")
        self.prior = prior.eval().requires_grad_(False)
        self.target = float(target_kl)

    def context(self, observation: torch.Tensor) -> torch.Tensor:
        """π0's mean and std at each state, ``[..., 2 * action_dim]``."""
        with torch.no_grad():
            prior = self.prior(observation)
        return torch.cat([prior.mean, prior.stddev], dim=-1)

    def prior_distribution(self, context: torch.Tensor) -> Independent:
        """π0(·|s) rebuilt from a :meth:`context`."""
        mean, std = context.chunk(2, dim=-1)
        return Independent(Normal(mean, std), 1)

    def penalty(self, dist: Distribution, action: torch.Tensor, log_prob: torch.Tensor,
                context: torch.Tensor | None, latent: Any = None) -> torch.Tensor:
        base = getattr(dist, "base", None)
        if not isinstance(base, Independent):
            raise PriorError("a KL to a behavioral prior needs a squashed Gaussian policy "
                             "(off-policy learner)")
        if base.event_shape[-1] != self.prior.action_dim:
            raise PriorError(f"prior has {self.prior.action_dim} action dimensions, the policy "
                             f"{base.event_shape[-1]}")
        if context is None:
            raise ValueError("a KL penalty needs the prior's context of the states "
                             "(KLPriorRegularizer.context)")
        return kl_divergence(base, self.prior_distribution(context))
