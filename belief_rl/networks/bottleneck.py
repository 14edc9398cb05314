"""Information bottleneck: a stochastic embedding regularized toward N(0, I)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Independent, Normal, kl_divergence
from torch.nn import functional as F

_INITIAL_RAW_STD = math.log(math.expm1(0.1))  # softplus⁻¹(0.1)


class GaussianBottleneck(nn.Module):
    """``h → N(μ(h), σ(h))``; the KL to N(0, I) bounds the information passed on."""

    def __init__(self, in_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.linear = nn.Linear(in_dim, 2 * latent_dim)
        # Start with little noise (σ ≈ 0.1): at σ ≈ 0.7 the untrained embedding is mostly
        # noise and the task loss plateaus; the β-weighted KL raises σ where it can.
        nn.init.constant_(self.linear.bias[latent_dim:], _INITIAL_RAW_STD)

    def forward(self, h: torch.Tensor) -> Independent:
        """The embedding distribution, batch shape ``h.shape[:-1]``, event ``[latent_dim]``."""
        mean, raw_std = self.linear(h).chunk(2, dim=-1)
        return Independent(Normal(mean, F.softplus(raw_std) + 1e-4), 1)

    @staticmethod
    def kl_to_standard_normal(posterior: Independent) -> torch.Tensor:
        """``KL(q(z|h) ‖ N(0, I))`` summed over latent dimensions."""
        mean = posterior.base_dist.loc
        prior = Independent(Normal(torch.zeros_like(mean), torch.ones_like(mean)), 1)
        return kl_divergence(posterior, prior)
