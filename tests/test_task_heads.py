"""Likelihood heads, the bottleneck KL and the belief-quality metric against closed forms."""

import numpy as np
import pytest
import torch
from scipy.special import betaln, digamma
from torch.distributions import Beta, Categorical, Independent, Normal, kl_divergence

from belief_rl.agents.base import SequenceBatch
from belief_rl.config import AgentConfig
from belief_rl.envs.task_specs import BetaTask, CategoricalTask, GaussianTask, MultiCategoricalTask
from belief_rl.evaluation import bandit_belief_kl
from belief_rl.networks import GaussianBottleneck
from belief_rl.rollout import Rollout
from belief_rl.task_heads import (
    BetaHead,
    CategoricalHead,
    GaussianHead,
    GridHead,
    MultiCategoricalHead,
    make_task_head,
    true_component_probabilities,
)


def beta_kl_closed_form(a1, b1, a2, b2):
    """KL(Beta(a1, b1) ‖ Beta(a2, b2)), textbook formula."""
    return (betaln(a2, b2) - betaln(a1, b1) + (a1 - a2) * digamma(a1) + (b1 - b2) * digamma(b1)
            + (a2 - a1 + b2 - b1) * digamma(a1 + b1))


def test_make_task_head_dispatches_on_spec():
    assert isinstance(make_task_head(BetaTask(3), 8), BetaHead)
    assert isinstance(make_task_head(CategoricalTask(4), 8), CategoricalHead)
    assert isinstance(make_task_head(MultiCategoricalTask(9, 4), 8), MultiCategoricalHead)
    assert isinstance(make_task_head(GaussianTask(2), 8), GaussianHead)
    with pytest.raises(ValueError, match="no likelihood head"):
        make_task_head(object(), 8)


def test_beta_head_log_prob_is_the_sum_of_per_arm_beta_densities():
    head = BetaHead(5, BetaTask(3))
    features = torch.randn(4, 5)
    dist = head.distribution(features)
    p = torch.rand(4, 3)
    alpha, beta = dist.base_dist.concentration1, dist.base_dist.concentration0
    expected = Beta(alpha, beta).log_prob(p).sum(-1)
    torch.testing.assert_close(head.log_prob(dist, p), expected)
    assert head.belief_features(dist).shape == (4, 6)


def test_beta_head_can_represent_the_exact_posterior():
    # exp of a linear map reaches any (alpha, beta) > 0: Beta(1+s, 1+f) is in the family.
    head = BetaHead(2, BetaTask(1))
    with torch.no_grad():
        head.linear.weight.copy_(torch.eye(2))
        head.linear.bias.zero_()
    target = torch.tensor([[4.0, 2.0]])
    raw = torch.log(target)  # concentrations are parameterized in log space
    dist = head.distribution(raw)
    torch.testing.assert_close(dist.base_dist.concentration1, target[:, :1])
    torch.testing.assert_close(dist.base_dist.concentration0, target[:, 1:])


def test_categorical_heads_log_prob_and_shapes():
    multi = MultiCategoricalHead(6, MultiCategoricalTask(num_classes=9, length=4))
    dist = multi.distribution(torch.randn(2, 6))
    seq = torch.tensor([[0, 1, 2, 5], [8, 7, 4, 3]])
    per_position = dist.base_dist.log_prob(seq)
    torch.testing.assert_close(multi.log_prob(dist, seq), per_position.sum(-1))
    torch.testing.assert_close(multi.belief_features(dist).unflatten(-1, (4, 9)).sum(-1), torch.ones(2, 4))
    cat = CategoricalHead(6, CategoricalTask(5))
    assert cat.log_prob(cat.distribution(torch.randn(3, 6)), torch.tensor([0, 4, 2])).shape == (3,)


def test_beta_kl_matches_closed_form():
    a1, b1, a2, b2 = 3.0, 5.0, 1.5, 0.7
    torch_kl = kl_divergence(Beta(torch.tensor(a1), torch.tensor(b1)),
                             Beta(torch.tensor(a2), torch.tensor(b2)))
    assert torch_kl.item() == pytest.approx(beta_kl_closed_form(a1, b1, a2, b2), rel=1e-5)


def test_bottleneck_kl_matches_gaussian_closed_form():
    bottleneck = GaussianBottleneck(4, 3)
    posterior = bottleneck(torch.randn(6, 4))
    mu, sigma = posterior.base_dist.loc, posterior.base_dist.scale
    closed = 0.5 * (sigma**2 + mu**2 - 1 - torch.log(sigma**2)).sum(-1)
    torch.testing.assert_close(GaussianBottleneck.kl_to_standard_normal(posterior), closed)


class _ExactBeliefAgent:
    """Stand-in whose belief is Beta(1+s, 1+f) computed from its inputs, plus an offset."""

    def __init__(self, num_arms, offset=0.0):
        self.num_arms, self.offset = num_arms, offset

    def belief(self, inputs):
        pulls = inputs[..., 1:1 + self.num_arms]
        wins = inputs[..., 1 + self.num_arms:1 + 2 * self.num_arms]
        s, f = torch.cumsum(wins, 0), torch.cumsum(pulls - wins, 0)
        return Independent(Beta(1.0 + s + self.offset, 1.0 + f), 1)


def _bandit_rollout(num_arms=4, steps=12, batch=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    actions = torch.randint(num_arms, (steps, batch), generator=g)
    rewards = torch.randint(2, (steps, batch), generator=g).float()
    # Encoded inputs: (obs, one-hot previous action, previous reward, boundary).
    prev_a = torch.zeros(steps, batch, num_arms)
    prev_a[1:] = torch.nn.functional.one_hot(actions[:-1], num_arms).float()
    prev_r = torch.zeros(steps, batch, 1)
    prev_r[1:, :, 0] = rewards[:-1]
    inputs = torch.cat([torch.zeros(steps, batch, 1), prev_a, prev_a * prev_r, prev_r,
                        torch.zeros(steps, batch, 1)], -1)
    batch_ = SequenceBatch(inputs, actions, torch.rand(steps, batch, num_arms))
    zeros = torch.zeros(steps, batch)
    return Rollout(batch_, zeros, zeros, rewards, zeros.bool())


def test_belief_kl_is_zero_for_the_exact_posterior_and_positive_otherwise():
    rollout = _bandit_rollout()
    exact = bandit_belief_kl(_ExactBeliefAgent(4), rollout)
    assert exact.shape == (12,)
    np.testing.assert_allclose(exact, 0.0, atol=1e-6)
    off = bandit_belief_kl(_ExactBeliefAgent(4, offset=2.0), rollout)
    assert (off > 1e-3).all()
    # Step 0: the exact posterior is the uniform prior; check one value by the closed form.
    assert off[0] == pytest.approx(beta_kl_closed_form(1.0, 1.0, 3.0, 1.0), rel=1e-5)


def test_gaussian_head_is_a_diagonal_normal():
    head = GaussianHead(3, GaussianTask(2))
    dist = head.distribution(torch.randn(5, 3))
    assert isinstance(dist.base_dist, Normal) and dist.event_shape == (2,)
    assert (dist.stddev > 0).all()


def test_true_component_probabilities_pick_each_true_component():
    # One sequence of 2 components over 3 classes.
    probs = torch.tensor([[[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]])
    belief = Independent(Categorical(probs=probs), 1)
    got = true_component_probabilities(belief, torch.tensor([[2, 1]]))
    torch.testing.assert_close(got, torch.tensor([[0.7, 0.25]]))
    with pytest.raises(ValueError, match="multi-categorical"):
        true_component_probabilities(Independent(Normal(torch.zeros(1, 2), torch.ones(1, 2)), 1),
                                     torch.zeros(1, 2))


BOX = GaussianTask(2, low=(-1.0, 0.0), high=(1.0, 1.0))


def test_grid_head_is_a_categorical_over_the_cells_of_the_task_box():
    head = make_task_head(BOX, 6, grid_bins=4)
    assert isinstance(head, GridHead) and head.feature_dim == 16
    # Cell width 0.5 in x, 0.25 in y; row-major over (x, y); the box's far edges belong to the last cells.
    tasks = torch.tensor([[-1.0, 0.0], [1.0, 1.0], [0.1, 0.3], [-0.6, 0.9]])
    torch.testing.assert_close(head.cell_index(tasks), torch.tensor([0, 15, 9, 3]))
    torch.testing.assert_close(head.cell_centers()[head.cell_index(tasks)],
                               torch.tensor([[-0.75, 0.125], [0.75, 0.875], [0.25, 0.375], [-0.75, 0.875]]))
    dist = head.distribution(torch.randn(4, 6))
    torch.testing.assert_close(head.log_prob(dist, tasks),
                               dist.logits.gather(-1, head.cell_index(tasks)[:, None])[:, 0])
    torch.testing.assert_close(head.belief_features(dist).sum(-1), torch.ones(4))


def test_grid_head_needs_a_bounded_real_task_and_two_bins():
    with pytest.raises(ValueError, match="needs a task spec with bounds"):
        make_task_head(GaussianTask(2), 6, grid_bins=4)
    with pytest.raises(ValueError, match="real-valued tasks"):
        make_task_head(CategoricalTask(3), 6, grid_bins=4)
    with pytest.raises(ValueError, match="task_grid_bins must be 0"):
        AgentConfig(task_grid_bins=1)
    with pytest.raises(ValueError, match="both low and high"):
        GaussianTask(2, low=(0.0, 0.0))
    with pytest.raises(ValueError, match="low < high"):
        GaussianTask(2, low=(0.0, 1.0), high=(1.0, 1.0))
