"""Likelihood heads for privileged task information.

Each environment declares how ``info["task"]`` is encoded with a
:class:`envs.tasks.TaskSpec`; :func:`make_task_head` turns that spec into a head
that maps a feature vector to ``q(task | history)`` as a
``torch.distributions.Distribution``. The head's log-likelihood of the true task
is the auxiliary loss that trains a belief network, and its
:meth:`TaskHead.belief_features` is the summary a policy may read.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Beta, Categorical, Distribution, Independent, Normal
from torch.nn import functional as F

from belief_rl.envs.task_specs import BetaTask, CategoricalTask, GaussianTask, MultiCategoricalTask, TaskSpec

# Beta log-densities diverge at 0 and 1; tasks are kept this far inside (0, 1).
_PROB_EPS = 1e-4
# Beta concentrations are exp(x) with |x| <= this: from ~1e-4 to ~2e4.
_LOG_CONCENTRATION_MAX = 10.0


class TaskHead(nn.Module):
    """Maps features ``[..., in_dim]`` to a distribution over one task."""

    spec: TaskSpec
    feature_dim: int

    def distribution(self, features: torch.Tensor) -> Distribution:
        """``q(task | history)`` with batch shape ``features.shape[:-1]``."""
        raise NotImplementedError

    def log_prob(self, dist: Distribution, task: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of the true task, summed over task dimensions."""
        return dist.log_prob(task)

    def belief_features(self, dist: Distribution) -> torch.Tensor:
        """A fixed-size, well-scaled summary of the belief for a policy."""
        raise NotImplementedError

    @property
    def num_components(self) -> int | None:
        """Number of independent belief components (e.g. arms), or None if not factored."""
        return None

    def component_features(self, features: torch.Tensor) -> torch.Tensor:
        """:meth:`belief_features` ``[..., feature_dim]`` regrouped per component ``[..., C, F]``."""
        raise ValueError(f"{type(self).__name__} has no per-component belief features")


class BetaHead(TaskHead):
    """Independent Beta per dimension: the exact bandit posterior family."""

    def __init__(self, in_dim: int, spec: BetaTask) -> None:
        super().__init__()
        self.spec = spec
        self.feature_dim = 2 * spec.dim
        self.linear = nn.Linear(in_dim, 2 * spec.dim)
        # Concentrations live in log space: the exact posterior's 1 + counts spans
        # [1, H + 1], which a bounded recurrent state reaches with small weights only
        # as logarithms. Zero init is exactly the uniform prior Beta(1, 1).
        nn.init.zeros_(self.linear.bias)

    def distribution(self, features: torch.Tensor) -> Distribution:
        log_concentration = self.linear(features).clamp(-_LOG_CONCENTRATION_MAX, _LOG_CONCENTRATION_MAX)
        alpha, beta = log_concentration.exp().chunk(2, dim=-1)
        return Independent(Beta(alpha, beta), 1)

    def log_prob(self, dist: Distribution, task: torch.Tensor) -> torch.Tensor:
        return dist.log_prob(task.clamp(_PROB_EPS, 1.0 - _PROB_EPS))

    def belief_features(self, dist: Distribution) -> torch.Tensor:
        return torch.cat([dist.mean, dist.stddev], dim=-1)

    @property
    def num_components(self) -> int:
        return self.spec.dim

    def component_features(self, features: torch.Tensor) -> torch.Tensor:
        # belief_features is [means..., stds...]: two blocks of `dim`.
        return features.unflatten(-1, (2, self.spec.dim)).transpose(-1, -2)


class CategoricalHead(TaskHead):
    """One categorical over task ids."""

    def __init__(self, in_dim: int, spec: CategoricalTask) -> None:
        super().__init__()
        self.spec = spec
        self.feature_dim = spec.num_classes
        self.linear = nn.Linear(in_dim, spec.num_classes)

    def distribution(self, features: torch.Tensor) -> Distribution:
        return Categorical(logits=self.linear(features))

    def log_prob(self, dist: Distribution, task: torch.Tensor) -> torch.Tensor:
        return dist.log_prob(task.long())

    def belief_features(self, dist: Distribution) -> torch.Tensor:
        return dist.probs


class MultiCategoricalHead(TaskHead):
    """``length`` independent categorical marginals (e.g. one per sequence position)."""

    def __init__(self, in_dim: int, spec: MultiCategoricalTask) -> None:
        super().__init__()
        self.spec = spec
        self.feature_dim = spec.num_classes * spec.length
        self.linear = nn.Linear(in_dim, self.feature_dim)

    def distribution(self, features: torch.Tensor) -> Distribution:
        logits = self.linear(features).unflatten(-1, (self.spec.length, self.spec.num_classes))
        return Independent(Categorical(logits=logits), 1)

    def log_prob(self, dist: Distribution, task: torch.Tensor) -> torch.Tensor:
        return dist.log_prob(task.long())

    def belief_features(self, dist: Distribution) -> torch.Tensor:
        return dist.base_dist.probs.flatten(-2)


class GaussianHead(TaskHead):
    """Diagonal Gaussian over a real task vector (e.g. a goal position)."""

    def __init__(self, in_dim: int, spec: GaussianTask) -> None:
        super().__init__()
        self.spec = spec
        self.feature_dim = 2 * spec.dim
        self.linear = nn.Linear(in_dim, 2 * spec.dim)

    def distribution(self, features: torch.Tensor) -> Distribution:
        mean, raw_std = self.linear(features).chunk(2, dim=-1)
        return Independent(Normal(mean, F.softplus(raw_std) + 1e-3), 1)

    def belief_features(self, dist: Distribution) -> torch.Tensor:
        return torch.cat([dist.mean, dist.stddev], dim=-1)


class GridHead(TaskHead):
    """A histogram belief over a bounded real task: one categorical over a grid of ``bins`` cells per
    dimension.

    Where a diagonal Gaussian holds one hypothesis, the histogram can hold any set of them, e.g. the part
    of the Semicircle arc not yet swept, so the policy reads exactly where the goal may still be. Its
    log-likelihood is that of the true task's cell.
    """

    def __init__(self, in_dim: int, spec: GaussianTask, bins: int) -> None:
        super().__init__()
        if spec.low is None or spec.high is None:
            raise ValueError(f"a grid belief needs a task spec with bounds (low/high), got {spec!r}")
        if bins < 2:
            raise ValueError(f"a grid belief needs at least 2 bins per dimension, got {bins}")
        self.spec = spec
        self.bins = bins
        self.feature_dim = bins ** spec.dim
        self.linear = nn.Linear(in_dim, self.feature_dim)
        self.register_buffer("low", torch.tensor(spec.low, dtype=torch.float32), persistent=False)
        self.register_buffer("high", torch.tensor(spec.high, dtype=torch.float32), persistent=False)

    def distribution(self, features: torch.Tensor) -> Distribution:
        return Categorical(logits=self.linear(features))

    def cell_index(self, task: torch.Tensor) -> torch.Tensor:
        """The flat index of the cell holding each task ``[..., dim]`` (tasks on the box's edge go inside)."""
        unit = (task.float() - self.low) / (self.high - self.low)
        coords = (unit * self.bins).long().clamp(0, self.bins - 1)
        strides = self.bins ** torch.arange(self.spec.dim - 1, -1, -1)
        return (coords * strides).sum(-1)

    def cell_centers(self) -> torch.Tensor:
        """Centres of all cells ``[bins ** dim, dim]``, in the order of :meth:`cell_index`."""
        axes = [torch.linspace(lo, hi, 2 * self.bins + 1)[1::2]
                for lo, hi in zip(self.spec.low, self.spec.high)]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, self.spec.dim)

    def log_prob(self, dist: Distribution, task: torch.Tensor) -> torch.Tensor:
        return dist.log_prob(self.cell_index(task))

    def belief_features(self, dist: Distribution) -> torch.Tensor:
        return dist.probs


_HEADS: dict[type[TaskSpec], type[TaskHead]] = {
    BetaTask: BetaHead,
    CategoricalTask: CategoricalHead,
    MultiCategoricalTask: MultiCategoricalHead,
    GaussianTask: GaussianHead,
}


def true_component_probabilities(belief: Distribution, task: torch.Tensor) -> torch.Tensor:
    """The probability a sequence belief (``Independent(Categorical)``, e.g. over NumPad pads) gives each
    true component of ``task [..., L]``: ``[..., L]``."""
    if not (isinstance(belief, Independent) and isinstance(belief.base_dist, Categorical)):
        raise ValueError("per-component probabilities need a multi-categorical belief, "
                         f"got {type(belief).__name__}")
    return belief.base_dist.probs.gather(-1, task.long().unsqueeze(-1)).squeeze(-1)


def make_task_head(spec: TaskSpec, in_dim: int, grid_bins: int = 0) -> TaskHead:
    """The likelihood head matching an environment's :class:`TaskSpec`.

    ``grid_bins > 0`` models a bounded real task (:class:`GaussianTask` with ``low``/``high``) by a
    :class:`GridHead` with that many cells per dimension instead of a diagonal Gaussian.
    """
    if grid_bins:
        if not isinstance(spec, GaussianTask):
            raise ValueError(f"a grid belief models real-valued tasks; this env's task is {spec!r}")
        return GridHead(in_dim, spec, grid_bins)
    try:
        head_cls = _HEADS[type(spec)]
    except KeyError:
        raise ValueError(f"no likelihood head for task spec {spec!r}") from None
    return head_cls(in_dim, spec)
