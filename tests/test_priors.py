"""Behavioral priors: exact GP posterior, variance away from the demonstrations, KL formulas, files."""

import numpy as np
import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from belief_rl.algorithms import SVG0
from belief_rl.config import SVGConfig
from belief_rl.networks.action_heads import SquashedNormal
from belief_rl.priors import (
    DemoError,
    Demonstrations,
    GPFitConfig,
    GPPrior,
    KLPriorRegularizer,
    ParametricFitConfig,
    ParametricPrior,
    PriorError,
    from_raw_actions,
    gaussian_kl,
    load_prior,
    save_prior,
    to_raw_actions,
)
from belief_rl.rollout import collect_rollout
from tests.test_svg0 import small_agent

LOW, HIGH = -torch.ones(2), torch.ones(2)


def expert_data(n=60, seed=0):
    """Smooth expert actions on states in [-1, 1]^3."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.rand(n, 3, generator=g) * 2 - 1
    actions = 0.9 * torch.tanh(torch.stack([obs.sum(1), obs[:, 0] - obs[:, 1]], 1))
    return obs, to_raw_actions(actions, LOW, HIGH)


@pytest.fixture(scope="module")
def fitted():
    obs, raw = expert_data()
    gp = GPPrior.fit(obs, raw, LOW, HIGH, GPFitConfig(iterations=60))
    bc = ParametricPrior.fit(obs, raw, LOW, HIGH,
                             ParametricFitConfig(hidden=(64, 64), epochs=150, batch_size=32))
    return obs, raw, gp, bc


def test_raw_action_map_inverts_inside_the_clip():
    low, high = torch.tensor([-0.1, 0.0]), torch.tensor([0.1, 2.0])
    actions = torch.tensor([[0.05, 1.5], [-0.099, 0.01]])
    torch.testing.assert_close(from_raw_actions(to_raw_actions(actions, low, high), low, high), actions)
    assert torch.isfinite(to_raw_actions(high.unsqueeze(0), low, high)).all()


def test_exact_gp_matches_the_closed_form_posterior(fitted):
    obs, raw, gp, _ = fitted
    query = torch.tensor([[0.1, -0.2, 0.3], [2.0, 2.0, -2.0]])
    mean, std = gp(query).mean, gp(query).stddev
    x, xq = gp.standardize(obs).double(), gp.standardize(query).double()
    kernel = gp.model.covar_module
    for out in range(2):
        lengthscale = kernel.base_kernel.lengthscale[out].detach().double()
        scale, noise = kernel.outputscale[out].item(), gp.likelihood.noise[out].item()
        const = gp.model.mean_module.constant[out].item()

        def k(a, b, scale=scale, lengthscale=lengthscale):
            return scale * torch.exp(-0.5 * torch.cdist(a / lengthscale, b / lengthscale).pow(2))

        y = (raw[:, out].double() - gp.y_mean[out]) / gp.y_std[out]
        system = k(x, x) + noise * torch.eye(len(x), dtype=torch.float64)
        k_star = k(x, xq)
        post_mean = const + k_star.T @ torch.linalg.solve(system, y - const)
        post_var = scale - (k_star * torch.linalg.solve(system, k_star)).sum(0) + noise
        torch.testing.assert_close(mean[:, out].double(), post_mean * gp.y_std[out] + gp.y_mean[out],
                                   atol=2e-3, rtol=1e-3)
        torch.testing.assert_close(std[:, out].double(), post_var.sqrt() * gp.y_std[out],
                                   atol=2e-3, rtol=1e-2)


def test_gp_variance_returns_to_the_prior_far_from_data_while_parametric_collapses(fitted):
    obs, raw, gp, bc = fitted
    on_data = gp(obs).stddev
    far = torch.full((1, 3), 20.0)
    prior_std = ((gp.model.covar_module.outputscale + gp.likelihood.noise.squeeze(-1)).sqrt().float()
                 * gp.y_std.float())
    torch.testing.assert_close(gp(far).stddev[0], prior_std, rtol=1e-3, atol=1e-4)
    assert torch.all(gp(far).stddev > 10 * on_data.median(0).values)
    # The MLP's variance off the data is no larger than on it: the pathology.
    with torch.no_grad():
        assert torch.all(bc(far).stddev[0] < 0.1 * prior_std)
        assert torch.all(bc(far).stddev[0] <= bc(obs).stddev.max(0).values)
    # Both fit the demonstrations themselves.
    assert (gp(obs).mean - raw).abs().mean() < 0.05
    with torch.no_grad():
        assert (bc(obs).mean - raw).abs().mean() < 0.2


def test_variance_floor_bounds_the_parametric_prior():
    obs, raw = expert_data()
    bc = ParametricPrior.fit(obs, raw, LOW, HIGH, ParametricFitConfig(hidden=(32,), epochs=5, min_std=0.3))
    with torch.no_grad():
        assert torch.all(bc(torch.full((4, 3), 50.0)).stddev >= 0.3)


def test_sparse_gp_beyond_the_exact_threshold(fitted):
    obs, raw = expert_data(n=300, seed=1)
    sparse = GPPrior.fit(obs, raw, LOW, HIGH,
                         GPFitConfig(max_exact_points=100, num_inducing=40, iterations=300))
    assert sparse.sparse and sparse.num_inducing == 40
    assert (sparse(obs).mean - raw).abs().mean() < 0.1
    assert torch.all(sparse(torch.full((1, 3), 20.0)).stddev > 3 * sparse(obs).stddev.median(0).values)


def test_gaussian_kl_and_its_gradients_match_torch():
    torch.manual_seed(0)
    mean = torch.randn(4, 3, requires_grad=True)
    std = (torch.rand(4, 3) + 0.1).requires_grad_(True)
    prior_mean, prior_std = torch.randn(4, 3), torch.rand(4, 3) + 0.05
    ours = gaussian_kl(mean, std, prior_mean, prior_std)
    reference = kl_divergence(Independent(Normal(mean, std), 1),
                              Independent(Normal(prior_mean, prior_std), 1))
    torch.testing.assert_close(ours, reference)
    ours.sum().backward()
    # ∂KL/∂μ = (μ − μ0)/σ0², ∂KL/∂σ = −1/σ + σ/σ0²: the O(σ0⁻²) growth.
    torch.testing.assert_close(mean.grad, (mean - prior_mean).detach() / prior_std ** 2)
    torch.testing.assert_close(std.grad, (-1 / std + std / prior_std ** 2).detach())


def test_kl_penalty_of_squashed_policies_is_the_kl_of_their_bases(fitted):
    obs, _, gp, _ = fitted
    torch.manual_seed(0)
    query = obs[:3]
    policy = SquashedNormal(torch.randn(3, 2) * 0.3, torch.rand(3, 2) * 0.3 + 0.2, LOW, HIGH)
    regularizer = KLPriorRegularizer(gp)
    penalty = regularizer.penalty(policy, None, None, regularizer.context(query))
    prior = gp(query)
    prior_squashed = SquashedNormal(prior.mean, prior.stddev, LOW, HIGH)
    # Monte Carlo KL between the squashed distributions themselves.
    samples, log_p = policy.rsample_with_log_prob(torch.Size([20000]))
    monte_carlo = (log_p - prior_squashed.log_prob(samples)).mean(0)
    torch.testing.assert_close(penalty, monte_carlo, rtol=0.05, atol=0.05)


def test_svg0_step_with_a_kl_prior_tunes_alpha_toward_the_target_kl():
    agent, env = small_agent("rnn")
    obs_dim = env.single_observation_space.shape[0]
    g = torch.Generator().manual_seed(0)
    obs = torch.rand(50, obs_dim, generator=g)
    prior = ParametricPrior.fit(obs, torch.zeros(50, 2), LOW, HIGH,
                                ParametricFitConfig(hidden=(16,), epochs=2, min_std=0.5))
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4, updates_per_rollout=2, warmup_episodes=4),
                   regularizer=KLPriorRegularizer(prior, target_kl=1e-3))
    alpha = learner.alpha
    metrics = learner.update(collect_rollout(env, agent, seed=0))
    assert np.isfinite(metrics["penalty"]) and metrics["penalty"] > 1e-3
    assert learner.alpha > alpha  # the KL is above its target, so α rises


def test_prior_files_round_trip(tmp_path, fitted):
    obs, _, gp, bc = fitted
    for prior in (gp, bc):
        path = tmp_path / f"{prior.kind}.pt"
        save_prior(path, prior, {"env_id": "belief_rl/Semicircle-v0"})
        loaded, metadata = load_prior(path, env_id="belief_rl/Semicircle-v0")
        assert type(loaded) is type(prior) and metadata["env_id"] == "belief_rl/Semicircle-v0"
        with torch.no_grad():
            torch.testing.assert_close(loaded(obs).mean, prior(obs).mean)
            torch.testing.assert_close(loaded(obs).stddev, prior(obs).stddev)
    with pytest.raises(PriorError, match="not 'belief_rl/NumPad-v0'"):
        load_prior(tmp_path / "gp.pt", env_id="belief_rl/NumPad-v0")
    (tmp_path / "bad.pt").write_bytes(b"not a prior")
    with pytest.raises(PriorError, match="corrupt"):
        load_prior(tmp_path / "bad.pt")
    with pytest.raises(PriorError, match="no prior file"):
        load_prior(tmp_path / "missing.pt")
    with pytest.raises(PriorError, match="observations of size 3"):
        gp(torch.zeros(1, 5))


def demos(**changes):
    fields = dict(env_id="belief_rl/Semicircle-v0", observations=np.zeros((4, 2)), actions=np.zeros((4, 2)),
                  rewards=np.array([0.0, 1.0, 0.0, 2.0]), episode_starts=np.array([True, False, True, False]),
                  observation_low=np.full(2, -np.inf), observation_high=np.full(2, np.inf),
                  action_low=np.full(2, -0.1), action_high=np.full(2, 0.1))
    return Demonstrations(**{**fields, **changes})


def test_demonstrations_round_trip(tmp_path):
    path = tmp_path / "demos.npz"
    demos().save(path)
    loaded = Demonstrations.load(path)
    assert loaded.env_id == "belief_rl/Semicircle-v0" and loaded.num_episodes == 2
    np.testing.assert_array_equal(loaded.episode_returns(), [1.0, 2.0])
    loaded.check_env("belief_rl/Semicircle-v0", 2, 2)
    with pytest.raises(DemoError, match="not 'belief_rl/NumPad-v0'"):
        loaded.check_env("belief_rl/NumPad-v0", 2, 2)
    with pytest.raises(DemoError, match="sizes 2/2, the env 5/2"):
        loaded.check_env("belief_rl/Semicircle-v0", 5, 2)


@pytest.mark.parametrize("changes, message", [
    (dict(actions=np.zeros((3, 2))), "actions has shape"),
    (dict(observations=np.zeros(4)), "must be 2-D"),
    (dict(rewards=np.array([0.0, np.nan, 0.0, 0.0])), "rewards contains NaN"),
    (dict(actions=np.full((4, 2), 0.5)), "outside the action bounds"),
    (dict(episode_starts=np.array([False, False, True, False])), "episode_starts"),
])
def test_malformed_demonstrations_are_rejected(changes, message):
    with pytest.raises(DemoError, match=message):
        demos(**changes)


def test_malformed_demonstration_files_are_rejected(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DemoError, match="not a readable .npz"):
        Demonstrations.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "partial.npz", observations=np.zeros((2, 2)))
    with pytest.raises(DemoError, match="missing field"):
        Demonstrations.load(tmp_path / "partial.npz")
    good = tmp_path / "good.npz"
    demos().save(good)
    data = dict(np.load(good))
    data["observations"][1, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **data)
    with pytest.raises(DemoError, match="nan.npz: observations contains NaN"):
        Demonstrations.load(tmp_path / "nan.npz")


def test_prior_pathology_script_shows_the_collapse_and_the_inverse_square_law(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "priors"
    completed = subprocess.run(
        [sys.executable, str(root / "analysis" / "prior_pathology.py"),
         "--envs", "belief_rl/Semicircle-Small-v0",
         "--timing-env", "belief_rl/Semicircle-Small-v0", "--demo-points", "160", "--gp-iterations", "30",
         "--bc-epochs", "150", "--timing-sizes", "100", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=root)
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads((out / "prior_pathology.json").read_text())
    path = results["envs"]["belief_rl/Semicircle-Small-v0"]["path"]
    assert path["gp_std"][-1] > 10 * path["bc_std"][-1]  # (a) far from the data
    assert path["bc_kl_grad_norm"][-1] > 100 * path["gp_kl_grad_norm"][-1]  # (b)
    assert abs(results["sigma_sweep"]["log_log_slope_small_sigma"] + 2) < 0.05
    assert results["gp_timing"][0]["points"] == 100 and results["gp_timing"][0]["latency_ms_mean"] > 0
    assert (out / "prior_pathology.png").stat().st_size > 10_000


def test_the_prior_is_evaluated_once_per_collected_step_and_stored_in_replay():
    agent, env = small_agent("rnn")
    obs_dim = env.single_observation_space.shape[0]
    obs = torch.rand(50, obs_dim, generator=torch.Generator().manual_seed(0))
    prior = ParametricPrior.fit(obs, torch.zeros(50, 2), LOW, HIGH,
                                ParametricFitConfig(hidden=(16,), epochs=2))
    calls = []
    prior.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[:-1]))
    config = SVGConfig(num_envs=4, batch_size=4, updates_per_rollout=3, warmup_episodes=4)
    learner = SVG0(agent, config, regularizer=KLPriorRegularizer(prior))
    rollout = collect_rollout(env, agent, seed=0)
    learner.update(rollout)
    # One evaluation of the collected [T, B] steps, none per gradient step.
    assert calls == [rollout.rewards.shape]
    batch, data = learner.replay.sample(2)
    expected = prior(agent.env_observation(batch.inputs))
    torch.testing.assert_close(data["regularizer_context"], torch.cat([expected.mean, expected.stddev], -1))
    # A replay saved without contexts (before they were stored) gets them on loading.
    state = learner.state_dict()
    del state["replay"]["storage"]["regularizer_context"]
    resumed = SVG0(agent, config, regularizer=KLPriorRegularizer(prior))
    resumed.load_state_dict(state)
    torch.testing.assert_close(resumed.replay._storage["regularizer_context"],
                               learner.replay._storage["regularizer_context"])

