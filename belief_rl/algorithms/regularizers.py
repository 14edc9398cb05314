"""Policy regularizers for soft (maximum-entropy or KL-regularized) off-policy RL.

A regularizer contributes ``α · penalty`` to the actor loss and subtracts it
from the soft value in the Bellman target. Entropy regularization is the
penalty ``log π(a|s)``; KL regularization toward a behavioral prior π0 swaps in
``KL(π(·|s) ‖ π0(·|s))``. With automatic tuning, α rises while the penalty
exceeds ``target`` and falls while it is below.
"""

from __future__ import annotations

import torch
from torch.distributions import Distribution


class PolicyRegularizer:
    """Interface: a per-state penalty on the policy and the level α is tuned to hold it at."""

    #: The penalty level that automatic α tuning aims for.
    target: float

    def penalty(self, dist: Distribution, action: torch.Tensor, log_prob: torch.Tensor,
                observation: torch.Tensor) -> torch.Tensor:
        """Penalty per state ``[...]`` given the policy ``dist``, a reparameterized sample and its log-density."""
        raise NotImplementedError


class EntropyRegularizer(PolicyRegularizer):
    """Maximum-entropy RL (SAC-style): penalty ``log π(a|s)``, one sample per state.

    Densities are taken of the action rescaled to ``[-1, 1]^d``, so a target
    entropy (the penalty target is its negative) means the same in every env
    whatever its action bounds (SAC's default −d assumes unit bounds).
    """

    def __init__(self, target_entropy: float) -> None:
        self.target = -float(target_entropy)

    def penalty(self, dist: Distribution, action: torch.Tensor, log_prob: torch.Tensor,
                observation: torch.Tensor) -> torch.Tensor:
        return log_prob + getattr(dist, "log_volume", 0.0)
