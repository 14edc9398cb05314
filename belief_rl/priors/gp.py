"""The Gaussian-process behavioral prior (gpytorch): calibrated variance growing away from the demonstrations.

One independent GP per action dimension, batched (gpytorch ``batch_shape``),
with an ARD kernel (RBF or Matérn-5/2) on standardized observations and
standardized targets, hyperparameters fit by maximizing the marginal likelihood.
Up to ``max_exact_points`` demonstrations it is an exact GP; beyond that a sparse
variational GP (SVGP) with learned inducing points, trained on minibatches. Both
predict through the same :meth:`GPPrior.predict`: the predictive distribution of
the demonstrator's (pre-squash) action, noise included, so far from the data the
variance returns to the kernel's prior variance plus noise instead of collapsing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import gpytorch
import torch
from gpytorch.constraints import GreaterThan
from gpytorch.distributions import MultivariateNormal

from belief_rl.priors.base import BehaviorPrior

KERNELS = ("rbf", "matern")
#: Lower bound on the likelihood noise (standardized units): keeps Cholesky factorizations of
#: clustered or duplicated demonstration states positive definite.
NOISE_FLOOR = 1e-4


@dataclass
class GPFitConfig:
    """Marginal-likelihood fit of the GP prior."""

    kernel: str = "rbf"
    iterations: int = 200  # Adam steps (exact: full batch; sparse: minibatches)
    learning_rate: float = 0.1
    max_exact_points: int = 3000  # beyond this, a sparse variational GP
    num_inducing: int = 256
    batch_size: int = 1024  # sparse GP minibatch
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            raise ValueError(f"unknown GP kernel {self.kernel!r}; choose one of {', '.join(KERNELS)}")
        for name in ("iterations", "max_exact_points", "num_inducing", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")


def _kernel(name: str, input_dim: int, batch: torch.Size) -> gpytorch.kernels.Kernel:
    if name == "matern":
        base = gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=input_dim, batch_shape=batch)
    else:
        base = gpytorch.kernels.RBFKernel(ard_num_dims=input_dim, batch_shape=batch)
    return gpytorch.kernels.ScaleKernel(base, batch_shape=batch)


class _ExactGP(gpytorch.models.ExactGP):
    """Independent exact GPs, one per output, as one batched model: inputs ``[A, N, d]``, targets
    ``[A, N]``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, likelihood: gpytorch.likelihoods.Likelihood,
                 kernel: str) -> None:
        super().__init__(x, y, likelihood)
        batch = torch.Size([y.shape[0]])
        self.mean_module = gpytorch.means.ConstantMean(batch_shape=batch)
        self.covar_module = _kernel(kernel, x.shape[-1], batch)

    def forward(self, x: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(self.mean_module(x), self.covar_module(x))


class _SparseGP(gpytorch.models.ApproximateGP):
    """Independent SVGPs, one per output, with learned inducing points ``[A, M, d]``."""

    def __init__(self, inducing: torch.Tensor, kernel: str) -> None:
        batch = torch.Size([inducing.shape[0]])
        variational = gpytorch.variational.CholeskyVariationalDistribution(inducing.shape[1],
                                                                           batch_shape=batch)
        strategy = gpytorch.variational.VariationalStrategy(self, inducing, variational,
                                                            learn_inducing_locations=True)
        super().__init__(strategy)
        self.mean_module = gpytorch.means.ConstantMean(batch_shape=batch)
        self.covar_module = _kernel(kernel, inducing.shape[-1], batch)

    def forward(self, x: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(self.mean_module(x), self.covar_module(x))


class GPPrior(BehaviorPrior):
    """GP behavioral prior over pre-squash actions (exact or sparse, see the module docstring).

    Build it with :meth:`fit`; the constructor only allocates a model of the
    right shapes (what loading a saved prior needs).
    """

    kind = "gp"

    def __init__(self, obs_mean: torch.Tensor, obs_std: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
                 num_points: int, kernel: str = "rbf", sparse: bool = False, num_inducing: int = 256) -> None:
        super().__init__(obs_mean, obs_std, low, high)
        self.kernel, self.sparse, self.num_points = kernel, bool(sparse), int(num_points)
        num_outputs, batch = self.action_dim, torch.Size([self.action_dim])
        # Targets are standardized per output; predictions are mapped back.
        self.register_buffer("y_mean", torch.zeros(num_outputs, dtype=torch.float64))
        self.register_buffer("y_std", torch.ones(num_outputs, dtype=torch.float64))
        self.likelihood = gpytorch.likelihoods.GaussianLikelihood(
            batch_shape=batch, noise_constraint=GreaterThan(NOISE_FLOOR)).double()
        if self.sparse:
            self.num_inducing = min(int(num_inducing), self.num_points)
            inducing = torch.zeros(num_outputs, self.num_inducing, self.obs_dim, dtype=torch.float64)
            self.model = _SparseGP(inducing, kernel).double()
        else:
            self.num_inducing = 0
            # The training set is part of an exact GP's state: kept as buffers so it is saved with it.
            self.register_buffer("train_x", torch.zeros(self.num_points, self.obs_dim, dtype=torch.float64))
            self.register_buffer("train_y", torch.zeros(num_outputs, self.num_points, dtype=torch.float64))
            self.model = _ExactGP(self._batched(self.train_x), self.train_y, self.likelihood, kernel).double()

    def _batched(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(0).expand(self.action_dim, *x.shape)

    def init_kwargs(self) -> dict:
        return {"num_points": self.num_points, "kernel": self.kernel, "sparse": self.sparse,
                "num_inducing": self.num_inducing or 256}

    def refresh(self) -> None:
        """Re-attach the (loaded) training set to the exact GP and drop stale prediction caches."""
        if not self.sparse:
            self.model.set_train_data(self._batched(self.train_x), self.train_y, strict=False)
        self.eval()

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._batched(x.double())
        with torch.no_grad(), gpytorch.settings.fast_pred_var(), gpytorch.settings.cholesky_jitter(1e-6), \
                warnings.catch_warnings():
            # Querying the demonstrated states themselves is legitimate (gpytorch warns it might not be).
            warnings.simplefilter("ignore", gpytorch.utils.warnings.GPInputWarning)
            pred = self.likelihood(self.model(x))
            # LOVE's fast variances can dip below zero by round-off; the noise floor is a true lower bound.
            var = pred.variance.clamp_min(NOISE_FLOOR)
            mean = pred.mean
        mean = mean * self.y_std.unsqueeze(-1) + self.y_mean.unsqueeze(-1)
        var = var * self.y_std.pow(2).unsqueeze(-1)
        return mean.T.float(), var.T.float()

    @classmethod
    def fit(cls, obs: torch.Tensor, raw_actions: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
            config: GPFitConfig | None = None) -> GPPrior:
        """Fit the hyperparameters (and, if sparse, the variational posterior) to demonstrations."""
        config = config or GPFitConfig()
        sparse = len(obs) > config.max_exact_points
        prior = cls(obs.mean(0), obs.std(0), low, high, len(obs), config.kernel, sparse, config.num_inducing)
        generator = torch.Generator().manual_seed(config.seed)
        x = prior.standardize(obs).double()
        y = raw_actions.double().T  # [A, N]
        prior.y_mean.copy_(y.mean(1))
        prior.y_std.copy_(y.std(1).clamp_min(1e-6))
        y = (y - prior.y_mean.unsqueeze(-1)) / prior.y_std.unsqueeze(-1)
        prior.train()
        if sparse:
            _fit_sparse(prior, x, y, config, generator)
        else:
            prior.train_x.copy_(x)
            prior.train_y.copy_(y)
            prior.model.set_train_data(prior._batched(prior.train_x), prior.train_y, strict=False)
            _fit_exact(prior, config)
        prior.eval()
        return prior


def _fit_exact(prior: GPPrior, config: GPFitConfig) -> None:
    model, likelihood = prior.model, prior.likelihood
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)  # includes the likelihood's
    inputs = model.train_inputs[0]
    with gpytorch.settings.cholesky_jitter(1e-6):
        for _ in range(config.iterations):
            optimizer.zero_grad(set_to_none=True)
            loss = -mll(model(inputs), model.train_targets).sum()
            loss.backward()
            optimizer.step()


def _fit_sparse(prior: GPPrior, x: torch.Tensor, y: torch.Tensor, config: GPFitConfig,
                generator: torch.Generator) -> None:
    model, likelihood = prior.model, prior.likelihood
    start = torch.randperm(len(x), generator=generator)[: prior.num_inducing]
    with torch.no_grad():
        model.variational_strategy.inducing_points.copy_(prior._batched(x[start]))
    mll = gpytorch.mlls.VariationalELBO(likelihood, model, num_data=len(x))
    optimizer = torch.optim.Adam([*model.parameters(), *likelihood.parameters()], lr=config.learning_rate)
    step = 0
    while step < config.iterations:
        for index in torch.randperm(len(x), generator=generator).split(config.batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = -mll(model(x[index]), y[:, index]).sum()
            loss.backward()
            optimizer.step()
            step += 1
            if step >= config.iterations:
                break
