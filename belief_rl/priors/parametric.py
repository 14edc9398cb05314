"""The parametric behavioral prior: a Gaussian MLP fit to demonstrations by maximum likelihood.

This is behavioral cloning with a learned, state-dependent variance, the usual
parametric prior in KL-regularized RL. Its variance is only trained on the
demonstrated states: off them the network extrapolates, and its variance
typically stays as small as on the data (or shrinks further). Then
``∂KL/∂μ = (μ − μ0)/σ0²`` explodes, the pathology a GP prior avoids. An
optional ``min_std`` floor caps the explosion (at the price of a looser prior everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from belief_rl.networks.mlp import mlp
from belief_rl.priors.base import BehaviorPrior

_LOG_STD_MIN, _LOG_STD_MAX = -10.0, 2.0


@dataclass
class ParametricFitConfig:
    """Maximum-likelihood fit of the Gaussian MLP."""

    hidden: tuple[int, ...] = (256, 256)
    min_std: float = 0.0
    epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_std < 0:
            raise ValueError(f"min_std must be >= 0, got {self.min_std}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")


class ParametricPrior(BehaviorPrior):
    """Diagonal Gaussian MLP over pre-squash actions, ``std = sqrt(exp(2·log_std) + min_std²)``."""

    kind = "parametric"

    def __init__(self, obs_mean: torch.Tensor, obs_std: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
                 hidden: tuple[int, ...] = (256, 256), min_std: float = 0.0) -> None:
        super().__init__(obs_mean, obs_std, low, high)
        self.hidden = tuple(int(h) for h in hidden)
        self.min_std = float(min_std)
        self.net = mlp(self.obs_dim, self.hidden, 2 * self.action_dim, activation=nn.ReLU)

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(x).chunk(2, dim=-1)
        var = (2 * log_std.clamp(_LOG_STD_MIN, _LOG_STD_MAX)).exp() + self.min_std ** 2
        return mean, var

    def init_kwargs(self) -> dict:
        return {"hidden": list(self.hidden), "min_std": self.min_std}

    @classmethod
    def fit(cls, obs: torch.Tensor, raw_actions: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
            config: ParametricFitConfig | None = None) -> ParametricPrior:
        """Fit by minibatch Adam on the Gaussian negative log-likelihood of ``raw_actions`` given ``obs``."""
        config = config or ParametricFitConfig()
        generator = torch.Generator().manual_seed(config.seed)
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            prior = cls(obs.mean(0), obs.std(0), low, high, config.hidden, config.min_std)
        optimizer = torch.optim.Adam(prior.parameters(), lr=config.learning_rate)
        x, y = prior.standardize(obs), raw_actions.float()
        for _ in range(config.epochs):
            for index in torch.randperm(len(x), generator=generator).split(config.batch_size):
                mean, var = prior.predict(x[index])
                loss = nn.functional.gaussian_nll_loss(mean, y[index], var, full=True)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return prior.eval()
