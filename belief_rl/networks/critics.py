"""Critics: state values for PPO, twin action values for off-policy learners."""

from __future__ import annotations

import torch
from torch import nn

from belief_rl.networks.mlp import mlp


class TwinQCritic(nn.Module):
    """Two independent ``Q(features, action)`` networks.

    Taking the minimum of two critics in the targets counters the
    overestimation that maximizing a learned Q otherwise builds up (TD3/SAC).
    """

    def __init__(self, in_dim: int, action_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.q1 = mlp(in_dim + action_dim, hidden, 1, activation=nn.ReLU)
        self.q2 = mlp(in_dim + action_dim, hidden, 1, activation=nn.ReLU)

    def forward(self, features: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Both estimates, ``[..., 2]``."""
        x = torch.cat([features, action], dim=-1)
        return torch.cat([self.q1(x), self.q2(x)], dim=-1)
