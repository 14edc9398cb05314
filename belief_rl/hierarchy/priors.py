"""Default policies π0 and the two-level KL bound.

A hierarchical policy π(a, z | x) = π^H(z | x) π^L(a | z, x) is regularized towards a default policy
π0(a, z | x) = π0^H(z | ·) π0^L(a | z, x) through the upper bound (Tirumala et al., eq. 6)

    KL(π(a | x) ‖ π0(a | x)) ≤ KL(π^H(z | x) ‖ π0^H(z | ·)) + E_{π^H}[KL(π^L(a | z, x) ‖ π0^L(a | z, x))],

both terms in closed form here: every distribution involved is a diagonal Gaussian (the low levels' over
pre-squash actions; the tanh squashing is one bijection for both, which leaves a KL unchanged). With a
shared low level (π^L = π0^L) the second term is zero.

The high-level priors never see the observation:

* :class:`IsotropicPrior`: N(0, I) at every step;
* :class:`AR1Prior`: N(α z_{t−1}, (1 − α²) I), whose stationary distribution is N(0, I);
* :class:`LearnedARPrior`: N(μ(z_{t−1}), σ(z_{t−1})²) with μ, σ an MLP.

Each starts an episode at N(0, I). The flat "DISTRAL" prior π0(a | x) and a separate low-level prior
π0^L(a | z, x) are :class:`GaussianActionPrior` s on the inputs they are allowed.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Independent, Normal, kl_divergence

from belief_rl.config import HierarchyConfig
from belief_rl.networks.action_heads import DiagonalGaussianHead, clamped_std
from belief_rl.networks.mlp import mlp


def _diagonal(mean: torch.Tensor, std: torch.Tensor) -> Independent:
    return Independent(Normal(mean, std), 1)


class HighLevelPrior(nn.Module):
    """π0^H(z_t | z_{t−1}): a distribution over the next latent given the previous one (never the
    observation)."""

    def __init__(self, latent_size: int) -> None:
        super().__init__()
        self.latent_size = latent_size

    def forward(self, previous: torch.Tensor, start: torch.Tensor) -> Independent:
        """π0^H for latents ``[..., Z]`` following ``previous`` ``[..., Z]``; where ``start`` ``[...]`` is
        True (an episode's first latent) the previous one is ignored and the prior is N(0, I)."""
        mean, std = self._parameters_given(previous)
        start = start.unsqueeze(-1)
        return _diagonal(torch.where(start, torch.zeros_like(mean), mean),
                         torch.where(start, torch.ones_like(std), std))

    def _parameters_given(self, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class IsotropicPrior(HighLevelPrior):
    """N(0, I): abstract actions independent of context and of each other."""

    def _parameters_given(self, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros_like(previous), torch.ones_like(previous)


class AR1Prior(HighLevelPrior):
    """N(α z_{t−1}, (1 − α²) I) with a fixed α in [0, 1): temporally correlated latents whose marginal stays
    N(0, I)."""

    def __init__(self, latent_size: int, alpha: float) -> None:
        super().__init__(latent_size)
        if not 0 <= alpha < 1:
            raise ValueError(f"the AR(1) coefficient must lie in [0, 1), got {alpha}")
        self.alpha = float(alpha)

    def _parameters_given(self, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.alpha * previous, torch.full_like(previous, math.sqrt(1.0 - self.alpha**2))


class LearnedARPrior(HighLevelPrior):
    """N(μ(z_{t−1}), σ(z_{t−1})²) with μ and log σ from an MLP, trained by distillation."""

    def __init__(self, latent_size: int, hidden: tuple[int, ...]) -> None:
        super().__init__(latent_size)
        self.net = mlp(latent_size, hidden, 2 * latent_size, out_gain=0.01)

    def _parameters_given(self, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(previous).chunk(2, dim=-1)
        return mean, clamped_std(log_std)


def make_high_prior(config: HierarchyConfig) -> HighLevelPrior:
    """The high-level prior named by ``config.prior``."""
    if config.prior == "isotropic":
        return IsotropicPrior(config.latent_size)
    if config.prior == "ar1":
        return AR1Prior(config.latent_size, config.ar_alpha)
    if config.prior == "learned_ar":
        return LearnedARPrior(config.latent_size, config.prior_hidden)
    raise ValueError(f"{config.prior!r} is not a high-level prior")


class GaussianActionPrior(DiagonalGaussianHead):
    """A diagonal Gaussian over pre-squash actions given the inputs it may read: the flat DISTRAL prior
    π0(a | x_prior), or a separate low-level prior π0^L(a | z, x_low). It starts near N(0, I)."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], action_dim: int) -> None:
        super().__init__(in_dim, hidden, action_dim, out_gain=0.01)


#: The flat prior and the separate low-level prior are the same kind of module on different inputs.
FlatPrior = LowLevelPrior = GaussianActionPrior


def two_level_kl(high: Independent, high_prior: Independent, low: Independent | None = None,
                 low_prior: Independent | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The two terms of the bound, ``(KL(π^H ‖ π0^H), KL(π^L ‖ π0^L))``, each ``[...]``.

    The low-level term is evaluated at the latent ``low`` was conditioned on (one sample of the expectation
    over π^H); it is zero when there is no separate low-level prior (``low_prior`` None: shared low level).
    """
    kl_high = kl_divergence(high, high_prior)
    if low_prior is None:
        return kl_high, torch.zeros_like(kl_high)
    if low is None:
        raise ValueError("a separate low-level prior needs the low-level policy's distribution")
    return kl_high, kl_divergence(low, low_prior)
