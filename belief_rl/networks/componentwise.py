"""Policy and critic over a factored belief: one shared network per component.

When the belief factorizes into components that correspond one-to-one to the
discrete actions (a Beta per bandit arm), the logit of action ``k`` is computed
by one shared network from component ``k``'s belief features, the observation
and a pooled summary of all components. The policy is then equivariant to
relabelling the arms and the critic invariant, as index policies (Gittins,
Bayes-UCB) are; a flat MLP has to learn that structure separately for every arm.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.distributions import Categorical, Distribution

from belief_rl.networks.action_heads import ActionHead
from belief_rl.networks.mlp import mlp

ComponentSplit = Callable[[torch.Tensor], torch.Tensor]


class _ComponentEncoder(nn.Module):
    """Per-component embedding plus a mean/max-pooled context, both with the observation."""

    def __init__(self, split: ComponentSplit, belief_dim: int, features_per_component: int, obs_dim: int,
                 hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.split, self.belief_dim = split, belief_dim
        # One layer: this runs once per component, so its cost is multiplied by their number.
        self.encode = nn.Linear(features_per_component + obs_dim, hidden[-1])
        self.out_dim = 2 * hidden[-1]

    def forward(self, policy_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[..., C, F + obs]`` per-component inputs and the pooled context ``[..., 2H]``."""
        components = self.split(policy_input[..., : self.belief_dim])
        obs = policy_input[..., self.belief_dim:].unsqueeze(-2).expand(*components.shape[:-1], -1)
        per_component = torch.cat([components, obs], dim=-1)
        embedded = torch.tanh(self.encode(per_component))
        pooled = torch.cat([embedded.mean(-2), embedded.amax(-2)], dim=-1)
        return per_component, pooled


class ComponentwiseCategoricalHead(ActionHead):
    """Discrete policy with one logit per belief component from a shared scorer."""

    def __init__(self, split: ComponentSplit, belief_dim: int, features_per_component: int, obs_dim: int,
                 hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.encoder = _ComponentEncoder(split, belief_dim, features_per_component, obs_dim, hidden)
        self.score = mlp(features_per_component + obs_dim + self.encoder.out_dim, hidden, 1, out_gain=0.01)

    def forward(self, features: torch.Tensor) -> Distribution:
        per_component, pooled = self.encoder(features)
        context = pooled.unsqueeze(-2).expand(*per_component.shape[:-1], -1)
        logits = self.score(torch.cat([per_component, context], dim=-1)).squeeze(-1)
        return Categorical(logits=logits)

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return dist.logits.argmax(-1)


class ComponentwiseCritic(nn.Module):
    """Permutation-invariant value: pooled component embeddings → MLP."""

    def __init__(self, split: ComponentSplit, belief_dim: int, features_per_component: int, obs_dim: int,
                 hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.encoder = _ComponentEncoder(split, belief_dim, features_per_component, obs_dim, hidden)
        self.value = mlp(self.encoder.out_dim + obs_dim, hidden, 1)
        self.belief_dim = belief_dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        _, pooled = self.encoder(features)
        return self.value(torch.cat([pooled, features[..., self.belief_dim:]], dim=-1))
