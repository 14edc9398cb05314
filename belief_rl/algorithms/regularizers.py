"""Policy regularizers for soft (maximum-entropy or KL-regularized) off-policy RL.

A regularizer contributes ``α · penalty`` to the actor loss and subtracts it
from the soft value in the Bellman target. Entropy regularization is the
penalty ``log π(a|s)``; KL regularization toward a behavioral prior π0 swaps in
``KL(π(·|s) ‖ π0(·|s))``. With automatic tuning, α rises while the penalty
exceeds ``target`` and falls while it is below.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import Distribution


class PolicyRegularizer:
    """Interface: a per-state penalty on the policy and the level α is tuned to hold it at.

    What the penalty needs to know about a state besides the policy (e.g. a fixed
    prior's prediction) is its *context*: computed once per stored step by
    :meth:`context` when data enters replay, not again at every gradient step.
    """

    #: The penalty level that automatic α tuning aims for.
    target: float
    #: Whether the context is computed once as data enters replay (True) or at every gradient step.
    cache_context: bool = True

    def context(self, observation: torch.Tensor) -> torch.Tensor | None:
        """Per-state context ``[..., C]`` of environment observations ``[..., obs_dim]`` (None: none
        needed)."""
        return None

    def penalty(self, dist: Distribution, action: torch.Tensor, log_prob: torch.Tensor,
                context: torch.Tensor | None, latent: Any = None) -> torch.Tensor:
        """Penalty per state ``[...]`` given the policy ``dist``, a reparameterized sample, its log-density,
        the states' :meth:`context` and, for a policy with a latent, the latents it was conditioned on."""
        raise NotImplementedError

    def actor_bonus(self, log_prob: torch.Tensor) -> torch.Tensor | float:
        """An extra term per state added to the actor's objective only (none by default)."""
        return 0.0

    def set_progress(self, fraction_done: float) -> None:
        """Anneal the learning rate of whatever the regularizer learns (with the learner's ``anneal_lr``)."""

    def distill(self, policy: Any, context: torch.Tensor | None) -> dict[str, float]:
        """After each gradient step: train whatever the regularizer learns itself (nothing by default)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore by default."""


class EntropyRegularizer(PolicyRegularizer):
    """Maximum-entropy RL (SAC-style): penalty ``log π(a|s)``, one sample per state.

    Densities are taken of the action rescaled to ``[-1, 1]^d``, so a target
    entropy (the penalty target is its negative) means the same in every env
    whatever its action bounds (SAC's default −d assumes unit bounds).
    """

    def __init__(self, target_entropy: float) -> None:
        self.target = -float(target_entropy)

    def penalty(self, dist: Distribution, action: torch.Tensor, log_prob: torch.Tensor,
                context: torch.Tensor | None, latent: Any = None) -> torch.Tensor:
        return log_prob + getattr(dist, "log_volume", 0.0)
