"""Policy output distributions for gymnasium action spaces."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal, TransformedDistribution
from torch.distributions.transforms import AffineTransform, TanhTransform

from belief_rl.networks.mlp import mlp


def action_encoding_dim(space: gym.Space) -> int:
    """Size of :func:`encode_action_reward`'s output for one step of ``space``."""
    if isinstance(space, gym.spaces.Discrete):
        return 2 * int(space.n)
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return int(space.shape[0])
    raise ValueError(f"unsupported action space {space}")


def encode_action_reward(actions: torch.Tensor, rewards: torch.Tensor, space: gym.Space) -> torch.Tensor:
    """The previous action as float features for the next step's input.

    Discrete actions are one-hot, followed by ``one_hot · reward``: which action
    paid how much. That makes per-action reward sums linear in the inputs, so a
    recurrent network only has to integrate them (e.g. a bandit's success counts)
    instead of first discovering the action×reward interaction.
    """
    if isinstance(space, gym.spaces.Discrete):
        one_hot = nn.functional.one_hot(actions.long(), int(space.n)).float()
        return torch.cat([one_hot, one_hot * rewards.float().unsqueeze(-1)], dim=-1)
    return actions.float()


class ActionHead(nn.Module):
    """Maps features to an action distribution."""

    def forward(self, features: torch.Tensor) -> Distribution:
        raise NotImplementedError

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        """The most likely action (used for deterministic evaluation)."""
        raise NotImplementedError


class CategoricalActionHead(ActionHead):
    """Discrete actions: logits from an MLP, one-hot action encoding."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], num_actions: int) -> None:
        super().__init__()
        self.net = mlp(in_dim, hidden, num_actions, out_gain=0.01)

    def forward(self, features: torch.Tensor) -> Distribution:
        return Categorical(logits=self.net(features))

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return dist.logits.argmax(-1)


class GaussianActionHead(ActionHead):
    """Box actions: diagonal Gaussian with a state-independent log-std (PPO style)."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], action_dim: int) -> None:
        super().__init__()
        self.net = mlp(in_dim, hidden, action_dim, out_gain=0.01)
        self.log_std = nn.Parameter(torch.full((action_dim,), -0.5))

    def forward(self, features: torch.Tensor) -> Distribution:
        mean = self.net(features)
        return Independent(Normal(mean, self.log_std.exp().expand_as(mean)), 1)

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return dist.mean


# Replayed actions on the bounds would make atanh infinite; they are pulled this far inside.
_SQUASH_EPS = 1e-6
_LOG_STD_MIN, _LOG_STD_MAX = -5.0, 2.0
# Default sample shape (one sample); torch.Size is an immutable tuple, so one shared instance is safe.
_EMPTY_SHAPE = torch.Size()


class SquashedNormal(TransformedDistribution):
    """A diagonal Gaussian squashed by tanh into the box ``[low, high]``.

    ``base`` is the pre-squash Gaussian: since tanh and the affine map are
    invertible, KL divergences between two squashed policies equal those of
    their bases, which is how a KL to a Gaussian prior stays in closed form.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> None:
        self.base = Independent(Normal(mean, std), 1)
        self._loc, self._scale = (high + low) / 2, (high - low) / 2
        super().__init__(self.base, [TanhTransform(cache_size=1),
                                     AffineTransform(self._loc, self._scale, event_dim=1)],
                         validate_args=False)

    def rsample_with_log_prob(self,
                              sample_shape: torch.Size = _EMPTY_SHAPE) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterized action and its log-density, computed from the pre-squash sample (no atanh)."""
        raw = self.base.rsample(sample_shape)
        return self._squash(raw), self.base.log_prob(raw) - self._log_det(raw)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        unit = ((value - self._loc) / self._scale).clamp(-1 + _SQUASH_EPS, 1 - _SQUASH_EPS)
        raw = torch.atanh(unit)
        return self.base.log_prob(raw) - self._log_det(raw)

    @property
    def mode(self) -> torch.Tensor:
        return self._squash(self.base.mean)

    def detach(self) -> SquashedNormal:
        """The same distribution with its parameters cut from the autograd graph."""
        return SquashedNormal(self.base.mean.detach(), self.base.stddev.detach(), self._loc - self._scale,
                              self._loc + self._scale)

    @property
    def log_volume(self) -> torch.Tensor:
        """``log`` of the action box's volume relative to ``[-1, 1]^d``: add it to a log-density to
        get the density of the action rescaled to ``[-1, 1]^d``."""
        return self._scale.log().sum(-1)

    def _squash(self, raw: torch.Tensor) -> torch.Tensor:
        return self._loc + self._scale * torch.tanh(raw)

    def _log_det(self, raw: torch.Tensor) -> torch.Tensor:
        # log|d tanh(x)/dx| = 2 (log 2 - x - softplus(-2x)), stable for large |x|.
        log_tanh = 2.0 * (math.log(2.0) - raw - nn.functional.softplus(-2.0 * raw))
        return (log_tanh + self._scale.log()).sum(-1)


def clamped_std(log_std: torch.Tensor) -> torch.Tensor:
    """A standard deviation from an unbounded network output, kept in ``[e^-5, e^2]``."""
    return log_std.clamp(_LOG_STD_MIN, _LOG_STD_MAX).exp()


class DiagonalGaussianHead(nn.Module):
    """An MLP to a diagonal Gaussian over ``out_dim`` values (a latent, or pre-squash actions)."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int, out_gain: float = 1.0) -> None:
        super().__init__()
        self.net = mlp(in_dim, hidden, 2 * out_dim, activation=nn.ReLU, out_gain=out_gain)

    def forward(self, inputs: torch.Tensor) -> Independent:
        mean, log_std = self.net(inputs).chunk(2, dim=-1)
        return Independent(Normal(mean, clamped_std(log_std)), 1)


class SquashedGaussianActionHead(ActionHead):
    """Box actions for reparameterized off-policy learners: state-dependent Gaussian, tanh-squashed to the
    bounds."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], space: gym.spaces.Box) -> None:
        super().__init__()
        self.action_dim = int(space.shape[0])
        self.net = mlp(in_dim, hidden, 2 * self.action_dim, activation=nn.ReLU, out_gain=0.01)
        self.register_buffer("low", torch.as_tensor(space.low, dtype=torch.float32))
        self.register_buffer("high", torch.as_tensor(space.high, dtype=torch.float32))

    def forward(self, features: torch.Tensor) -> SquashedNormal:
        mean, log_std = self.net(features).chunk(2, dim=-1)
        return SquashedNormal(mean, clamped_std(log_std), self.low, self.high)

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return dist.mode


def make_action_head(space: gym.Space, in_dim: int, hidden: tuple[int, ...],
                     squashed: bool = False) -> ActionHead:
    """The action head for a gymnasium action space (``squashed``: bounded, reparameterizable Box actions)."""
    if isinstance(space, gym.spaces.Discrete):
        if squashed:
            raise ValueError("reparameterized (squashed Gaussian) policies need a Box action space, "
                             f"got {space}")
        return CategoricalActionHead(in_dim, hidden, int(space.n))
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        if squashed:
            if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
                raise ValueError(f"squashed Gaussian policies need finite action bounds, got {space}")
            return SquashedGaussianActionHead(in_dim, hidden, space)
        return GaussianActionHead(in_dim, hidden, space.shape[0])
    raise ValueError(f"unsupported action space {space}")
