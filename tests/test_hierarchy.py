"""Learned behavior priors: the two-level KL bound, the AR(1) prior, information asymmetry, distillation,
transfer, and the feedforward / hierarchical agents under SVG(0)."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from belief_rl import envs
from belief_rl.agents import LatentPolicyAgent, make_agent
from belief_rl.checkpoint import CheckpointError
from belief_rl.config import AgentConfig, HierarchyConfig, TrainConfig
from belief_rl.hierarchy import AR1Prior, two_level_kl
from belief_rl.hierarchy.action_kl import _log_marginals, agent_action_kl, marginal_action_kl
from belief_rl.hierarchy.prior_actor import PriorActor
from belief_rl.hierarchy.regularizer import LearnedPriorRegularizer
from belief_rl.hierarchy.transfer import freeze_modules, load_modules
from belief_rl.references.ball_tasks import ball_tasks_reference_returns
from belief_rl.sweep import SweepSpec
from belief_rl.sweep.results import trial_dir
from belief_rl.training import Trainer

ENV = "belief_rl/BallTargets-K3-v0"


def normal(mean, std) -> Independent:
    return Independent(Normal(torch.as_tensor(mean, dtype=torch.float64).reshape(-1, 1),
                              torch.as_tensor(std, dtype=torch.float64).reshape(-1, 1)), 1)


def marginal_kl(p_mean, p_var, q_mean, q_var) -> float:
    return 0.5 * (p_var / q_var + (p_mean - q_mean) ** 2 / q_var - 1 + math.log(q_var / p_var))


# -- the bound ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shared_low", [False, True])
def test_two_level_bound_is_at_least_the_true_kl_of_the_action_marginals(shared_low):
    """Linear-Gaussian levels: π^H = N(μ, s²), π^L(a | z) = N(w z + c, σ²), so both action marginals are
    Gaussian and the true KL is known in closed form (and checked by Monte Carlo)."""
    torch.manual_seed(0)
    (mu, s), (mu0, s0) = (0.7, 0.5), (0.0, 1.0)
    (w, c, sigma), (w0, c0, sigma0) = (1.5, 0.2, 0.3), ((1.5, 0.2, 0.3) if shared_low else (0.8, -0.1, 0.6))
    z = torch.distributions.Normal(mu, s).sample((200_000,)).double()
    low, low0 = normal(w * z + c, torch.full_like(z, sigma)), normal(w0 * z + c0, torch.full_like(z, sigma0))
    kl_high, kl_low = two_level_kl(normal([mu], [s]), normal([mu0], [s0]), low,
                                   None if shared_low else low0)
    bound = kl_high.item() + kl_low.mean().item()
    truth = marginal_kl(w * mu + c, w**2 * s**2 + sigma**2, w0 * mu0 + c0, w0**2 * s0**2 + sigma0**2)
    a = torch.distributions.Normal(w * mu + c, math.sqrt(w**2 * s**2 + sigma**2)).sample((200_000,))
    p_a = torch.distributions.Normal(w * mu + c, math.sqrt(w**2 * s**2 + sigma**2))
    q_a = torch.distributions.Normal(w0 * mu0 + c0, math.sqrt(w0**2 * s0**2 + sigma0**2))
    monte_carlo = (p_a.log_prob(a) - q_a.log_prob(a)).mean().item()
    assert monte_carlo == pytest.approx(truth, abs=0.01)
    assert bound >= truth + 0.02  # strictly above: the latent carries information the action loses
    if shared_low:
        assert kl_low.abs().max().item() == 0.0
        assert bound == pytest.approx(marginal_kl(mu, s**2, mu0, s0**2), rel=1e-12)


def test_with_a_shared_noise_free_low_level_the_bound_is_the_true_kl():
    """A shared, invertible low level loses nothing: KL(π(a) ‖ π0(a)) = KL(π^H ‖ π0^H) in the limit σ → 0."""
    (mu, s), (mu0, s0), (w, c) = (0.7, 0.5), (0.0, 1.0), (1.5, 0.2)
    bound, _ = two_level_kl(normal([mu], [s]), normal([mu0], [s0]))
    for sigma, tolerance in ((1e-2, 1e-3), (1e-4, 1e-7)):
        truth = marginal_kl(w * mu + c, w**2 * s**2 + sigma**2, w * mu0 + c, w**2 * s0**2 + sigma**2)
        assert bound.item() >= truth
        assert bound.item() - truth < tolerance



@pytest.mark.parametrize("shared_low", [False, True])
def test_monte_carlo_action_kl_matches_the_closed_form_of_linear_gaussian_levels(shared_low):
    """The estimator of KL(π(a) ‖ π0(a)) the bound is compared with: linear-Gaussian levels, whose action
    marginals are Gaussian, at two states at once."""
    torch.manual_seed(0)
    (w, c, sigma), (w0, c0, sigma0) = (1.5, 0.2, 0.3), ((1.5, 0.2, 0.3) if shared_low else (0.8, -0.1, 0.6))
    means, stds = [0.7, -0.4], [0.5, 0.2]
    high, high0 = normal(means, stds), normal([0.0, 0.0], [1.0, 1.0])

    def low(z):
        return Independent(Normal(w * z + c, torch.full_like(z, sigma)), 1)

    def low0(z):
        return Independent(Normal(w0 * z + c0, torch.full_like(z, sigma0)), 1)

    estimate = marginal_action_kl(high, high0, low, None if shared_low else low0, num_actions=4000,
                                  num_latents=2000)
    for state, (mu, s) in enumerate(zip(means, stds)):
        truth = marginal_kl(w * mu + c, w**2 * s**2 + sigma**2, c0, w0**2 + sigma0**2)
        assert estimate[state].item() == pytest.approx(truth, abs=0.05)
        bound = sum(t.item() for t in two_level_kl(normal([mu], [s]), normal([0.0], [1.0]),
                                                   low(torch.tensor([[mu]], dtype=torch.float64)),
                                                   None if shared_low else low0(torch.tensor([[mu]]))))
        if shared_low:  # the bound is then the high-level KL alone, above the truth
            assert bound >= truth + 0.02



@pytest.mark.parametrize("num_latents", [3, 4])
def test_the_importance_weighted_marginal_densities_are_unbiased_for_any_number_of_latents(num_latents):
    """Averaged over many repetitions, each density estimate (not its log) is the true marginal density."""
    torch.manual_seed(0)
    reps, (mu, s), (w, c, sigma) = 40_000, (0.7, 0.5), (1.5, 0.2, 0.3)
    high, high0 = normal([mu] * reps, [s] * reps), normal([0.0] * reps, [1.0] * reps)

    def low(z):
        return Independent(Normal(w * z + c, torch.full_like(z, sigma)), 1)

    action = torch.full((1, reps, 1), 1.4, dtype=torch.float64)
    log_policy, log_prior = _log_marginals(high, high0, low, None, action, num_latents)
    marginals = ((log_policy, (w * mu + c, w**2 * s**2 + sigma**2)), (log_prior, (c, w**2 + sigma**2)))
    for estimate, (mean, var) in marginals:
        truth = Normal(mean, math.sqrt(var)).log_prob(torch.tensor(1.4)).exp().item()
        assert estimate.exp().mean().item() == pytest.approx(truth, rel=0.02)


@pytest.mark.parametrize("prior", ["isotropic", "ar1"])
def test_agent_action_kl_lies_under_the_bound_and_vanishes_when_the_policy_is_the_prior(prior):
    agent = steep_latent_agent(prior=prior)  # at random init π^L barely reads z: nothing to compare
    torch.manual_seed(1)
    result = agent_action_kl(agent, observations(batch=8, steps=6), num_actions=64, num_latents=256,
                             chunk_size=20)
    assert result["bound"].shape == result["action_kl"].shape == (6, 8)
    assert result["action_kl"].mean() > 0.0
    assert (result["bound"] - result["action_kl"]).mean() > 0.0
    # π^H = π0^H = N(0, I) at every step (the isotropic prior): the action marginals coincide.
    same = latent_agent("hierarchical", prior="isotropic")
    head = [m for m in same.high.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()  # mean 0 and log-std 0
    result = agent_action_kl(same, observations(batch=8, steps=6), num_actions=64, num_latents=256)
    assert result["bound"].abs().max() < 1e-6
    assert result["action_kl"].mean().abs() < 0.02 and result["action_kl"].abs().max() < 0.2


def test_ar1_prior_keeps_a_stationary_unit_variance():
    torch.manual_seed(0)
    prior = AR1Prior(latent_size=3, alpha=0.9)
    start = torch.ones(50_000, dtype=torch.bool)
    z = prior(torch.zeros(50_000, 3), start).sample()  # N(0, I) at the start
    for _ in range(30):
        step = prior(z, ~start)
        torch.testing.assert_close(step.stddev, torch.full_like(z, math.sqrt(1 - 0.81)))
        z = step.sample()
    assert z.var(0).sub(1).abs().max() < 0.03 and z.mean(0).abs().max() < 0.02
    following = prior(z, ~start).sample()
    assert (z * following).mean(0).sub(0.9).abs().max() < 0.03  # E[z_t z_{t+1}] = α in the stationary chain


# -- agents ------------------------------------------------------------------------------------------------
def latent_agent(kind: str, seed: int = 0, **hierarchy) -> LatentPolicyAgent:
    torch.manual_seed(seed)
    env = envs.make_vector_env(ENV, 1)
    config = HierarchyConfig(**{"high_hidden": (32,), "low_hidden": (32,), "prior_hidden": (32,),
                                "critic_hidden": (32,), **hierarchy})
    return make_agent(AgentConfig(kind=kind), env.single_observation_space, env.single_action_space,
                      env.unwrapped.task_spec, "q", config, env.unwrapped.observation_groups)


def observations(batch: int = 64, steps: int = 10) -> torch.Tensor:
    env = envs.make_vector_env(ENV, batch)
    obs, _ = env.reset(seed=0)
    rows = []
    for _ in range(steps):
        rows.append(torch.as_tensor(obs))
        obs, *_ = env.step(env.action_space.sample())
    return torch.stack(rows)  # [T, B, obs_dim]


def with_other_task(obs: torch.Tensor) -> torch.Tensor:
    start, stop = envs.make_vector_env(ENV, 1).unwrapped.observation_groups["task"]
    changed = obs.clone()
    changed[..., start:stop] = changed[..., start:stop].roll(1, dims=-1)
    return changed


def test_the_prior_never_sees_the_task_but_the_high_level_does():
    obs = observations()
    other = with_other_task(obs)
    hierarchical = latent_agent("hierarchical", prior="learned_ar", shared_low=False,
                                low_inputs=("proprio", "targets"))
    torch.manual_seed(1)
    policy = hierarchical.policy(obs)
    torch.manual_seed(1)
    policy_other = hierarchical.policy(other)
    assert not torch.allclose(policy.latent.high.mean, policy_other.latent.high.mean)  # π^H reads the task
    # Same latents into both: π^L and every part of π0 must not move with the task.
    same = copy.copy(policy_other)
    same.latent = policy.latent
    same.dist = hierarchical.low_policy(policy.latent.z, other)
    torch.testing.assert_close(same.dist.base.mean, policy.dist.base.mean)
    kl, kl_other = hierarchical.prior_kl(policy, obs), hierarchical.prior_kl(same, other)
    torch.testing.assert_close(kl["kl_high"], kl_other["kl_high"])
    torch.testing.assert_close(kl["kl_low"], kl_other["kl_low"])

    flat = latent_agent("feedforward", prior="distral", prior_inputs=("proprio", "targets"))
    prior, prior_other = (flat.flat_prior(flat.prior_router(x)) for x in (obs, other))
    torch.testing.assert_close(prior.mean, prior_other.mean)
    assert not torch.allclose(flat.policy(obs).dist.base.mean, flat.policy(other).dist.base.mean)


def test_an_unknown_observation_group_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown observation group.*joints"):
        latent_agent("hierarchical", prior="isotropic", low_inputs=("joints",))


def test_held_latents_cost_no_high_level_kl():
    agent = latent_agent("hierarchical", prior="ar1", latent_period=3)
    obs = observations(steps=7)
    policy = agent.policy(obs)
    z = policy.latent.z
    torch.testing.assert_close(z[1], z[0])
    torch.testing.assert_close(z[2], z[0])
    assert not torch.allclose(z[3], z[0])
    kl = agent.prior_kl(policy, obs)["kl_high"]
    assert (kl[[1, 2, 4, 5]] == 0).all() and (kl[[0, 3, 6]] > 0).all()


@pytest.mark.parametrize(("kind", "prior"), [("hierarchical", "learned_ar"), ("feedforward", "distral")])
def test_distillation_lowers_the_kl_to_a_fixed_policy(kind, prior):
    agent = latent_agent(kind, prior=prior, shared_low=False)
    target = copy.deepcopy(agent).requires_grad_(False)
    regularizer = LearnedPriorRegularizer(agent, target, lr=3e-3)
    obs = observations()
    torch.manual_seed(2)
    with torch.no_grad():  # a policy that has moved away from its initialization (and so from π0's)
        for p in agent.actor_parameters():
            p.add_(0.3 * torch.randn_like(p))
    policy = agent.policy(obs)  # held fixed: distillation moves only π0
    policy_before = [p.clone() for p in agent.actor_parameters()]
    target_before = [p.clone() for p in target.prior_parameters()]
    first = regularizer.distill(policy, obs)
    for _ in range(150):
        last = regularizer.distill(policy, obs)
    assert sum(last.values()) < 0.5 * sum(first.values())
    assert all(torch.equal(p, q) for p, q in zip(policy_before, agent.actor_parameters()))
    # The penalty reads the target copy, which distillation leaves alone.
    assert all(torch.equal(p, q) for p, q in zip(target.prior_parameters(), target_before))
    assert not all(torch.equal(p, q) for p, q in zip(agent.prior_parameters(), target_before))
    penalty = regularizer.penalty(policy.dist, None, None, obs, policy.latent)
    torch.testing.assert_close(penalty, sum(target.prior_kl(policy, obs).values()))
    assert not torch.allclose(penalty, sum(agent.prior_kl(policy, obs).values()))


# -- transfer ----------------------------------------------------------------------------------------------
def test_transfer_loads_and_freezes_exactly_the_modules_asked():
    source = latent_agent("hierarchical", seed=1, prior="learned_ar", shared_low=False)
    agent = latent_agent("hierarchical", seed=2, prior="learned_ar", shared_low=False)
    fresh = copy.deepcopy(agent)
    load_modules(agent, source, ("low", "prior"))
    freeze_modules(agent, ("low",))
    state = {name: dict(module.named_parameters()) for name, module in
             (("high", agent.high), ("low", agent.low), ("prior", agent.high_prior))}
    for name, p in agent.low.named_parameters():
        assert torch.equal(p, dict(source.low.named_parameters())[name]) and not p.requires_grad
    for m, src in zip(agent.modules_named("prior"), source.modules_named("prior")):
        assert all(torch.equal(p, q) and p.requires_grad for p, q in zip(m.parameters(), src.parameters()))
    for p, q in zip(agent.high.parameters(), fresh.high.parameters()):
        assert torch.equal(p, q) and p.requires_grad  # untouched: its own fresh initialization
    assert state["high"]  # the test compares something
    for p, q in zip(agent.critic.parameters(), fresh.critic.parameters()):
        assert torch.equal(p, q)


def test_with_a_shared_low_level_the_prior_is_the_low_level_and_an_empty_module_is_refused():
    source = latent_agent("hierarchical", seed=1, prior="ar1")
    agent = latent_agent("hierarchical", seed=2, prior="ar1")
    load_modules(agent, source, ("prior",))  # π0 = (AR(1), π^L): the low level is what there is to load
    assert all(torch.equal(p, q) for p, q in zip(agent.low.parameters(), source.low.parameters()))
    assert agent.prior_parameters() == []  # and nothing of it is distilled: π^L learns by RL
    freeze_modules(agent, ("prior",))
    assert not any(p.requires_grad for p in agent.low.parameters())
    flat = latent_agent("feedforward")
    with pytest.raises(CheckpointError, match="nothing to transfer in 'prior'"):
        load_modules(flat, latent_agent("feedforward", seed=3), ("prior",))
    with pytest.raises(CheckpointError, match="nothing to freeze in 'prior'"):
        freeze_modules(flat, ("prior",))


@pytest.mark.parametrize("with_low", [False, True])
def test_a_shared_low_level_becomes_the_frozen_low_level_prior_of_a_separate_agent(with_low):
    """The paper's "Separate LL" transfer: the source's π^L (its π0^L) becomes the new agent's frozen π0^L,
    whose Gaussian is exactly the source π^L's pre-squash one; the new π^L starts fresh, or from the same
    weights, and is trained."""
    source = latent_agent("hierarchical", seed=1, prior="isotropic", shared_low=True)
    agent = latent_agent("hierarchical", seed=2, prior="isotropic", shared_low=False)
    fresh = copy.deepcopy(agent)
    with torch.no_grad():  # a source π^L away from the near-N(0, I) initialization every low level shares
        for p in source.low.parameters():
            p.add_(0.3 * torch.randn_like(p))
    load_modules(agent, source, ("prior", "low") if with_low else ("prior",))
    freeze_modules(agent, ("prior",))
    obs = observations(batch=16, steps=1)[0]
    z = torch.randn(16, agent.latent_size)
    source_low, low_prior = source.low_policy(z, obs).base, agent.low_prior_policy(z, obs)
    torch.testing.assert_close(low_prior.mean, source_low.mean)
    torch.testing.assert_close(low_prior.stddev, source_low.stddev)
    assert not any(p.requires_grad for p in agent.low_prior.parameters())
    for p, q in zip(agent.low.parameters(), (source if with_low else fresh).low.parameters()):
        assert torch.equal(p, q) and p.requires_grad
    _, kl_low = two_level_kl(agent.high(obs), agent.high(obs), agent.low_policy(z, obs).base, low_prior)
    assert torch.allclose(kl_low, torch.zeros(16)) if with_low else bool((kl_low > 0.1).all())
    # The way back: a separate π0^L loads into a shared-low agent's π^L; a flat prior fits neither.
    shared = latent_agent("hierarchical", seed=3, prior="isotropic", shared_low=True)
    load_modules(shared, agent, ("prior",))
    torch.testing.assert_close(shared.low_policy(z, obs).base.mean, source_low.mean)
    with pytest.raises(CheckpointError, match="cannot transfer 'prior'"):
        load_modules(agent, latent_agent("feedforward", prior="distral"), ("prior",))


def _act(actor, obs: torch.Tensor, state, seed: int = 5, deterministic: bool = False):
    inputs = actor.encode_inputs(obs, torch.zeros(obs.shape[0], 2), torch.zeros(obs.shape[0]),
                                 torch.ones(obs.shape[0]), 0)
    torch.manual_seed(seed)
    return actor.act(inputs, state, deterministic)


@pytest.mark.parametrize("prior", ["isotropic", "learned_ar", "distral"])
def test_the_prior_actor_plays_the_default_policy_alone_and_never_reads_the_task(prior):
    kind = "feedforward" if prior == "distral" else "hierarchical"
    agent = latent_agent(kind, prior=prior, shared_low=prior == "isotropic", prior_inputs=("proprio",),
                         low_inputs=("proprio", "targets"))
    actor = PriorActor(agent)
    obs = observations(batch=16, steps=1)[0]
    out, (z, step) = _act(actor, obs, actor.initial_state(16))
    other, _ = _act(actor, with_other_task(obs), actor.initial_state(16))
    torch.testing.assert_close(other.action, out.action)  # π0 does not see the task
    assert torch.equal(step, torch.ones(16, dtype=torch.long))
    mode, _ = _act(actor, obs, actor.initial_state(16), deterministic=True)
    if prior == "distral":  # the flat prior's Gaussian, squashed into the [-1, 1] action box
        torch.testing.assert_close(mode.action, torch.tanh(agent.flat_prior(agent.prior_router(obs)).mean))
        return
    # The first latent is N(0, I) under every high-level prior, drawn before the action.
    torch.manual_seed(5)
    expected_z = torch.randn(16, agent.latent_size)
    torch.testing.assert_close(z, expected_z)
    if prior == "isotropic":  # shared low level: π0^L is π^L
        assert torch.equal(out.action, _act_low(agent, expected_z, obs))
    else:
        low_prior_mean = agent.low_prior(torch.cat([torch.zeros(16, agent.latent_size),
                                                    agent.low_router(obs)], dim=-1)).mean
        torch.testing.assert_close(mode.action, torch.tanh(low_prior_mean))
        assert not torch.allclose(mode.action, agent.low_policy(torch.zeros(16, agent.latent_size), obs).mode)


def _act_low(agent: LatentPolicyAgent, z: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """π^L's draw for ``z`` with the RNG where the prior actor leaves it after drawing z (seed 5)."""
    torch.manual_seed(5)
    torch.randn(*z.shape)
    return agent.low_policy(z, obs).sample()


def test_transfer_between_unlike_agents_fails_in_one_line():
    source = latent_agent("hierarchical", prior="isotropic", shared_low=True)
    agent = latent_agent("hierarchical", prior="learned_ar", shared_low=False)
    with pytest.raises(CheckpointError, match="cannot transfer 'prior'"):
        load_modules(agent, source, ("prior",))


def short_config(run_dir=None, **hierarchy) -> TrainConfig:
    return TrainConfig(env_id="belief_rl/BallTargets-K1-v0", algorithm="svg0",
                       agent={"kind": "hierarchical"}, total_steps=1600, num_threads=1, eval_tasks=8,
                       eval_every=10, belief_figures=False,
                       svg0={"num_envs": 8, "batch_size": 8, "warmup_episodes": 8, "updates_per_rollout": 2},
                       hierarchy={"high_hidden": [32], "low_hidden": [32], "critic_hidden": [32],
                                  "prior": "ar1", **hierarchy})


def test_a_transferred_run_trains_its_new_high_level_and_leaves_the_frozen_low_level(tmp_path):
    Trainer.create(short_config(), tmp_path / "source").train(progress=False)
    config = short_config(transfer_from=str(tmp_path / "source"), transfer_modules=["low"], freeze=["low"])
    source = torch.load(tmp_path / "source" / "checkpoint.pt", weights_only=True)["agent"]
    # Killed before its first checkpoint, a transfer run resumes from its config: with its transfer again.
    Trainer.create(config, tmp_path / "killed")
    for key, value in Trainer.resume(tmp_path / "killed").agent.low.state_dict().items():
        torch.testing.assert_close(value, source[f"low.{key}"])
    trainer = Trainer.create(config, tmp_path / "target")
    low_before = {k: v.clone() for k, v in trainer.agent.low.state_dict().items()}
    high_before = [p.clone() for p in trainer.agent.high.parameters()]
    for key, value in low_before.items():
        torch.testing.assert_close(value, source[f"low.{key}"])
    trainer.train(progress=False)
    for key, value in trainer.agent.low.state_dict().items():
        torch.testing.assert_close(value, low_before[key])
    assert any(not torch.equal(p, q) for p, q in zip(trainer.agent.high.parameters(), high_before))



@pytest.mark.slow
def test_behavior_priors_script_measures_bound_and_action_kl_on_the_agents_own_states(tmp_path):
    """analysis/behavior_priors.py --no-train on two tiny trials: a flat prior's KL is exact (bound = action
    KL), a hierarchical agent's action KL lies under its bound, and the measurement is cached per run."""
    root = Path(__file__).resolve().parents[1]
    data = {"name": "tiny", "env": "belief_rl/BallTargets-K1-v0", "preset": "none", "seeds": [0],
            "threads_per_trial": 1,
            "set": ["algorithm=svg0", "total_steps=1600", "eval_tasks=8", "eval_every=4",
                    "belief_figures=false", "svg0.num_envs=8", "svg0.batch_size=8", "svg0.warmup_episodes=8",
                    "svg0.updates_per_rollout=2",
                    "hierarchy.high_hidden=32", "hierarchy.low_hidden=32", "hierarchy.prior_hidden=32",
                    "hierarchy.critic_hidden=32"],
            "variants": [{"label": "distral", "agent.kind": "feedforward", "hierarchy.prior": "distral"},
                         {"label": "hier", "agent.kind": "hierarchical", "hierarchy.prior": "ar1"}]}
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(data))
    spec = SweepSpec.from_file(spec_path)
    for trial in spec.trials():
        run_dir = trial_dir(tmp_path / "tiny", trial)
        Trainer.create(spec.config(trial, num_threads=1), run_dir).train(progress=False)

    def analyze() -> dict:
        script = root / "analysis" / "behavior_priors.py"
        completed = subprocess.run([sys.executable, str(script), "--spec", str(spec_path),
                                    "--out", str(tmp_path), "--no-train", "--kl-episodes", "4"],
                                   capture_output=True, text=True, timeout=300, cwd=root)
        assert completed.returncode == 0, completed.stderr[-2000:]
        return json.loads((tmp_path / "behavior_priors.json").read_text())["settings"]

    first = analyze()
    distral, hier = first["distral"]["trials"][0], first["hier"]["trials"][0]
    assert distral["kl_bound"] == distral["action_kl"] > 0.0
    assert 0.0 < hier["action_kl"] < hier["kl_bound"]
    cached = json.loads((Path(hier["run_dir"]) / "action_kl.json").read_text())
    assert cached["kl"]["action_kl"] == hier["action_kl"]
    assert analyze()["hier"]["trials"][0]["action_kl"] == hier["action_kl"]  # from the cache


def test_prior_rollouts_script_plays_prior_policy_and_random_from_the_same_starts(tmp_path):
    """analysis/prior_rollouts.py on a tiny trained run: every actor meets the same held-out start states, the
    run's policy plays only on its own env, and a bad run directory is a one-line exit 2."""
    root = Path(__file__).resolve().parents[1]
    run_dir = tmp_path / "hier,seed=0"
    Trainer.create(short_config(), run_dir).train(progress=False)
    script = root / "analysis" / "prior_rollouts.py"

    def rollouts(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(script), *args, "--episodes", "16"], capture_output=True,
                              text=True, timeout=300, cwd=root)

    for env_id, actors in ((None, {"prior", "policy", "random"}), (ENV, {"prior", "random"})):
        out = tmp_path / f"{env_id is None}.json"
        completed = rollouts(str(run_dir), "--out", str(out), *(["--env", env_id] if env_id else []))
        assert completed.returncode == 0, completed.stderr[-2000:]
        run = json.loads(out.read_text())["settings"]["hier"]["runs"][0]
        assert run["seed"] == 0 and set(run) - {"seed", "run", "env"} == actors
        starts = {run[actor]["start_distance"] for actor in actors}
        assert len(starts) == 1 and starts.pop() > 0.3  # the same layouts; targets start ≥ 0.4 from the ball
        for actor in actors:
            assert 0.0 <= run[actor]["success"] <= run[actor]["any_target"] <= 1.0
        if env_id is None:  # the run's own one-target arena: on any target is on the chosen one
            assert all(run[actor]["success"] == run[actor]["any_target"] for actor in actors)
    bad = rollouts(str(tmp_path / "missing"), "--out", str(tmp_path / "x.json"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_config_refuses_priors_that_do_not_fit_the_agent():
    with pytest.raises(ValueError, match="needs --agent hierarchical"):
        TrainConfig(algorithm="svg0", agent={"kind": "feedforward"}, hierarchy={"prior": "ar1"})
    with pytest.raises(ValueError, match="learns with --algorithm svg0"):
        TrainConfig(agent={"kind": "feedforward"})
    with pytest.raises(ValueError, match="unknown module"):
        HierarchyConfig(freeze=("torso",))


def test_ar1_kl_is_the_closed_form_against_the_previous_draw():
    agent = latent_agent("hierarchical", prior="ar1", ar_alpha=0.8)
    obs = observations(steps=4)
    policy = agent.policy(obs)
    latent = policy.latent
    torch.testing.assert_close(latent.previous[1:], latent.z[:-1].detach())  # z_{t-1}, held every step
    kl = agent.prior_kl(policy, obs)["kl_high"]
    mean, std = latent.high.mean, latent.high.stddev
    prior_mean = torch.cat([torch.zeros_like(mean[:1]), 0.8 * latent.z[:-1]])
    prior_std = torch.cat([torch.ones_like(std[:1]), torch.full_like(std[1:], math.sqrt(1 - 0.64))])
    by_hand = torch.log(prior_std / std) + (std**2 + (mean - prior_mean) ** 2) / (2 * prior_std**2) - 0.5
    torch.testing.assert_close(kl, by_hand.sum(-1))


def test_a_gradient_step_trains_the_policy_and_critic_and_distillation_alone_trains_the_prior():
    from belief_rl.algorithms.svg0 import SVG0
    from belief_rl.config import SVGConfig
    from belief_rl.rollout import collect_rollout

    agent = latent_agent("hierarchical", prior="learned_ar", shared_low=False)
    learner = SVG0(agent, SVGConfig(batch_size=4, warmup_episodes=1))
    rollout = collect_rollout(envs.make_vector_env(ENV, 4), agent, seed=0)
    snapshot = {name: p.clone() for name, p in agent.named_parameters()}
    learner.regularizer.distill = lambda policy, context: {}  # the RL step alone
    learner.gradient_step(rollout.batch, rollout.log_probs, rollout.rewards, rollout.dones)
    moved = {name.split(".")[0] for name, p in agent.named_parameters() if not torch.equal(p, snapshot[name])}
    assert moved == {"high", "low", "critic"}  # never the prior's own parameters
    # The actor's loss reaches π^H through the action: with the critic's z input detached, a step on the actor
    # loss alone still moves π^H.
    policy = agent.policy(agent.observation(rollout.batch.inputs))
    action, _ = policy.dist.rsample_with_log_prob()
    q = agent.q_values(policy.with_latent(agent.observation(rollout.batch.inputs)), action).min(-1).values
    grads = torch.autograd.grad(q.mean(), list(agent.high.parameters()), allow_unused=True)
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_annealing_reaches_the_prior_s_distillation_rate():
    from belief_rl.algorithms.svg0 import SVG0
    from belief_rl.config import SVGConfig

    agent = latent_agent("hierarchical", prior="learned_ar")
    learner = SVG0(agent, SVGConfig(anneal_lr=True), prior_lr=1e-3)
    learner.set_progress(0.75)
    assert learner.regularizer.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-4)


def test_kl_terms_match_torch_closed_forms():
    agent = latent_agent("hierarchical", prior="isotropic", shared_low=False)
    obs = observations(steps=3)
    policy = agent.policy(obs)
    terms = agent.prior_kl(policy, obs)
    expected = kl_divergence(policy.latent.high, Independent(Normal(torch.zeros_like(policy.latent.z),
                                                                    torch.ones_like(policy.latent.z)), 1))
    torch.testing.assert_close(terms["kl_high"], expected)
    assert (terms["kl_low"] > 0).all()


def test_a_short_hierarchical_run_on_the_easiest_task_beats_random_by_far(tmp_path):
    """BallTargets-K1 from scratch with the isotropic prior (fixed α = 1e-3, entropy bonus 0.01): ~40 k steps
    take it from random pushes (return ≈ 2) to the target (the expert gets 93)."""
    config = TrainConfig(env_id="belief_rl/BallTargets-K1-v0", algorithm="svg0",
                         agent={"kind": "hierarchical"}, total_steps=38_400, num_threads=1, eval_tasks=64,
                         eval_every=24, belief_figures=False,
                         svg0={"num_envs": 16, "batch_size": 32, "updates_per_rollout": 16, "actor_lr": 1e-3,
                               "critic_lr": 1e-3, "gamma": 0.95, "tau": 0.02, "auto_alpha": False,
                               "init_alpha": 1e-3},
                         hierarchy={"prior": "isotropic", "entropy_bonus": 0.01})
    trainer = Trainer.create(config, tmp_path / "run")
    trainer.train(progress=False)
    random_return = ball_tasks_reference_returns("belief_rl/BallTargets-K1-v0", 64, 0, {})["random"]["mean"]
    assert trainer.last_eval > 40 > 10 * random_return


# -- Retrace's weights over the latent-marginal action densities --------------------------------------------
def steep_latent_agent(**hierarchy) -> LatentPolicyAgent:
    """A hierarchical agent whose π^L depends strongly on z (random weights barely do)."""
    agent = latent_agent("hierarchical", **{"prior": "isotropic", **hierarchy})
    layers = [m for m in agent.low.modules() if isinstance(m, torch.nn.Linear)]
    actions = agent.low.action_dim
    with torch.no_grad():
        layers[0].weight[:, : agent.latent_size] *= 10.0  # z comes first in π^L's input
        layers[-1].weight[:actions] *= 10.0  # the means move with z ...
        layers[-1].weight[actions:] = 0.0
        layers[-1].bias[actions:] = -2.0  # ... by more than π^L's noise (std 0.14)
    return agent


def test_the_marginal_action_density_matches_quadrature_over_the_latent():
    agent = steep_latent_agent(latent_size=1, marginal_samples=20_000)
    obs = observations(batch=3, steps=2)
    torch.manual_seed(0)
    policy = agent.policy(obs)
    actions = policy.dist.sample()
    with torch.no_grad():
        estimate = agent.retrace_log_prob(policy, obs, actions)
        high = policy.latent.high
        grid = torch.linspace(-8, 8, 4001).view(-1, 1, 1, 1) * high.stddev + high.mean  # [G, T, B, 1]
        low = agent.low_policy(grid, obs.expand(grid.shape[0], *obs.shape))
        joint = (low.log_prob(actions.expand(grid.shape[0], *actions.shape)) + high.log_prob(grid)).exp()
        exact = torch.trapezoid(joint, grid.squeeze(-1), dim=0).log()
    torch.testing.assert_close(estimate, exact, atol=0.03, rtol=0)
    # The marginal is not the density at the sampled latent: the test would notice a conditional.
    assert (policy.dist.log_prob(actions) - exact).abs().mean() > 0.3


def test_on_policy_marginal_ratios_keep_the_traces_that_acted_latent_ratios_cut():
    obs = observations(batch=512, steps=1)[0]
    traces = {}
    for samples in (0, 256):
        agent = steep_latent_agent(marginal_samples=samples)
        torch.manual_seed(1)
        out, _ = agent.act(obs, agent.initial_state(obs.shape[0]))
        policy = agent.policy(obs.unsqueeze(0))
        with torch.no_grad():
            log_rho = agent.retrace_log_prob(policy, obs.unsqueeze(0), out.action.unsqueeze(0)) - out.log_prob
        traces[samples] = log_rho.exp().clamp(max=1.0).mean().item()
    # Nothing changed between acting and learning, so the traces should stay whole (1): the marginals' ratio
    # keeps most (its Monte Carlo noise is truncated too), the acted latent's cuts nearly all.
    assert traces[256] > 0.8, traces
    assert traces[0] < 0.3, traces


def test_marginal_samples_need_a_latent_drawn_every_step_by_a_memoryless_high_level():
    with pytest.raises(ValueError, match="marginal_samples needs latent_period = 1"):
        HierarchyConfig(marginal_samples=8, latent_period=4)
    for prior in ("ar1", "learned_ar"):
        with pytest.raises(ValueError, match="does not read the previous latent"):
            HierarchyConfig(prior=prior, marginal_samples=8)
    assert HierarchyConfig(prior="isotropic", marginal_samples=8).marginal_samples == 8
