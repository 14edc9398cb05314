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
from torch.nn import functional as F

from belief_rl.networks.action_heads import ActionHead
from belief_rl.networks.activations import tanh
from belief_rl.networks.mlp import mlp

ComponentSplit = Callable[[torch.Tensor], torch.Tensor]


def component_linear(layer: nn.Linear, components: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
    """``layer(cat([components, shared broadcast over components], -1))`` without building the broadcast.

    ``components [..., C, F]`` and ``shared [..., S]``: the product with the shared part is computed once per
    row and added to every component's, which saves C − 1 of C products with the (wide) shared inputs.
    """
    width = components.shape[-1]
    return (F.linear(components, layer.weight[:, :width])
            + F.linear(shared, layer.weight[:, width:], layer.bias).unsqueeze(-2))


class _ComponentEncoder(nn.Module):
    """Per-component embedding plus a mean/max-pooled context, both with the observation."""

    def __init__(self, split: ComponentSplit, belief_dim: int, features_per_component: int, obs_dim: int,
                 hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.split, self.belief_dim = split, belief_dim
        # One layer: this runs once per component, so its cost is multiplied by their number.
        self.encode = nn.Linear(features_per_component + obs_dim, hidden[-1])
        self.out_dim = 2 * hidden[-1]

    def forward(self, policy_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-component features ``[..., C, F]``, the observation ``[..., obs]`` and the pooled context
        ``[..., 2H]``; each component is embedded from ``(its features, the observation)``."""
        components = self.split(policy_input[..., : self.belief_dim])
        obs = policy_input[..., self.belief_dim:]
        embedded = tanh(component_linear(self.encode, components, obs))
        pooled = torch.cat([embedded.mean(-2), embedded.amax(-2)], dim=-1)
        return components, obs, pooled


class ComponentwiseCategoricalHead(ActionHead):
    """Discrete policy with one logit per belief component from a shared scorer."""

    def __init__(self, split: ComponentSplit, belief_dim: int, features_per_component: int, obs_dim: int,
                 hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.encoder = _ComponentEncoder(split, belief_dim, features_per_component, obs_dim, hidden)
        self.score = mlp(features_per_component + obs_dim + self.encoder.out_dim, hidden, 1, out_gain=0.01)

    def forward(self, features: torch.Tensor) -> Distribution:
        # The scorer reads (component features, observation, pooled context); only the first part differs
        # between components, so the first layer is split (see component_linear).
        components, obs, pooled = self.encoder(features)
        hidden = component_linear(self.score[0], components, torch.cat([obs, pooled], dim=-1))
        logits = self.score[1:](hidden).squeeze(-1)
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
        _, obs, pooled = self.encoder(features)
        return self.value(torch.cat([pooled, obs], dim=-1))
