"""Policy output distributions for gymnasium action spaces."""

from __future__ import annotations

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

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


def make_action_head(space: gym.Space, in_dim: int, hidden: tuple[int, ...]) -> ActionHead:
    """The action head for a gymnasium action space."""
    if isinstance(space, gym.spaces.Discrete):
        return CategoricalActionHead(in_dim, hidden, int(space.n))
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return GaussianActionHead(in_dim, hidden, space.shape[0])
    raise ValueError(f"unsupported action space {space}")
