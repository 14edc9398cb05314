"""What every behavioral prior shares: the action convention, input normalization and the interface.

Priors model the **pre-squash** action ``u = atanh(unit(a))``, where ``unit``
rescales the action box to ``[-1, 1]^d``. The off-policy learner's policy is a
tanh-squashed Gaussian whose ``base`` lives in that same space, and since the
squashing map is invertible, ``KL(π ‖ π0)`` between the squashed distributions
equals the KL between their Gaussian bases: closed form, no sampling. Demonstrated
actions on the bounds are pulled inside by :data:`ACTION_CLIP` first, so a bang-bang
expert maps to ``|u| ≈ 3.8`` rather than infinity.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Independent, Normal

from belief_rl.errors import BeliefRLError

#: Demonstrated actions are clipped to this fraction of the half-box before ``atanh``.
ACTION_CLIP = 0.999


class PriorError(BeliefRLError):
    """A prior file or its use is invalid (corrupt file, mismatched dimensions)."""


def to_raw_actions(actions: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Box actions → pre-squash actions ``atanh(unit(a))`` (the space priors and policy bases share)."""
    unit = (2 * actions - (high + low)) / (high - low)
    return torch.atanh(unit.clamp(-ACTION_CLIP, ACTION_CLIP))


def from_raw_actions(raw: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Pre-squash actions → box actions (the inverse of :func:`to_raw_actions` inside the clip)."""
    return (high + low) / 2 + (high - low) / 2 * torch.tanh(raw)


class BehaviorPrior(nn.Module):
    """``prior(obs) -> Independent(Normal(mean, std), 1)`` over pre-squash actions.

    Subclasses implement :meth:`predict` on standardized observations and
    :meth:`init_kwargs` (what :func:`belief_rl.priors.io.load_prior` rebuilds them from).
    """

    kind: str

    def __init__(self, obs_mean: torch.Tensor, obs_std: torch.Tensor, low: torch.Tensor,
                 high: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("obs_mean", torch.as_tensor(obs_mean, dtype=torch.float32).clone())
        # Constant observation dimensions (std 0) are left unscaled rather than divided by zero.
        std = torch.as_tensor(obs_std, dtype=torch.float32).clone()
        self.register_buffer("obs_std", torch.where(std > 1e-8, std, torch.ones_like(std)))
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32).clone())
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32).clone())

    @property
    def obs_dim(self) -> int:
        return int(self.obs_mean.shape[0])

    @property
    def action_dim(self) -> int:
        return int(self.low.shape[0])

    def standardize(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs.float() - self.obs_mean) / self.obs_std

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of the pre-squash action for standardized inputs ``x [N, obs_dim]``."""
        raise NotImplementedError

    def init_kwargs(self) -> dict:
        """Constructor arguments besides the state dict, for saving."""
        raise NotImplementedError

    def forward(self, obs: torch.Tensor) -> Independent:
        if obs.shape[-1] != self.obs_dim:
            raise PriorError(f"prior expects observations of size {self.obs_dim}, got {obs.shape[-1]}")
        batch_shape = obs.shape[:-1]
        mean, var = self.predict(self.standardize(obs.reshape(-1, self.obs_dim)))
        if not (torch.isfinite(mean).all() and torch.isfinite(var).all()):
            raise PriorError(f"{self.kind} prior produced non-finite predictions")
        std = var.clamp_min(1e-12).sqrt()
        return Independent(Normal(mean.reshape(*batch_shape, -1), std.reshape(*batch_shape, -1)), 1)
