"""SVG(0): squashed Gaussian actor, sequence replay, gradient wiring, and a short run that learns."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Independent, Normal, TransformedDistribution
from torch.distributions.transforms import AffineTransform, TanhTransform

from belief_rl import envs
from belief_rl.agents import make_agent
from belief_rl.algorithms import SVG0
from belief_rl.algorithms.information import information_gain
from belief_rl.config import AgentConfig, SVGConfig, TrainConfig
from belief_rl.evaluation import evaluate_agent
from belief_rl.networks.action_heads import SquashedNormal
from belief_rl.replay import SequenceReplay
from belief_rl.rollout import collect_rollout
from belief_rl.training import Trainer

SMALL = dict(hidden_size=32, embed_dim=32, latent_dim=8, policy_hidden=(32, 32))
ENV = "belief_rl/Semicircle-Small-v0"


def small_agent(kind="belief", env_id=ENV, **overrides):
    env = envs.make_vector_env(env_id, 4)
    agent = make_agent(AgentConfig(kind=kind, **{**SMALL, **overrides}), env.single_observation_space,
                       env.single_action_space, env.unwrapped.task_spec, critic="q")
    return agent, env


def test_squashed_normal_matches_torch_transformed_distribution():
    torch.manual_seed(0)
    mean, std = torch.randn(5, 2), torch.rand(5, 2) + 0.2
    low, high = torch.tensor([-0.1, -2.0]), torch.tensor([0.1, 1.0])
    dist = SquashedNormal(mean, std, low, high)
    reference = TransformedDistribution(Independent(Normal(mean, std), 1), [
        TanhTransform(), AffineTransform((high + low) / 2, (high - low) / 2, event_dim=1)])
    action, log_prob = dist.rsample_with_log_prob()
    assert torch.all(action >= low) and torch.all(action <= high)
    torch.testing.assert_close(log_prob, reference.log_prob(action), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(dist.log_prob(action), log_prob, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(dist.log_volume, ((high - low) / 2).log().sum())
    # Actions replayed exactly on a bound keep a finite log-density.
    assert torch.isfinite(dist.log_prob(high.expand(5, 2))).all()


def test_reparameterized_gradient_through_the_squash():
    """d/dμ of w·tanh(μ + σε) is w·(1 − tanh²) – the SVG(0) pathwise gradient."""
    mean = torch.zeros(1, 3, requires_grad=True)
    dist = SquashedNormal(mean, torch.full((1, 3), 0.5), -torch.ones(3), torch.ones(3))
    torch.manual_seed(1)
    action, _ = dist.rsample_with_log_prob()
    w = torch.tensor([1.0, -2.0, 0.5])
    (action * w).sum().backward()
    torch.testing.assert_close(mean.grad, (w * (1 - action.detach() ** 2)))


def test_replay_ring_buffer_and_sampling():
    agent, env = small_agent()
    replay = SequenceReplay(capacity=6)
    rollouts = [collect_rollout(env, agent, seed=i * 4) for i in range(2)]
    for rollout in rollouts:
        replay.add(rollout)
    assert replay.size == 6  # 8 meta-episodes into 6 slots: the first two were overwritten
    stored = {tuple(replay._storage["task"][i, 0].tolist()) for i in range(6)}
    expected = {tuple(t.tolist())
                for t in torch.cat([rollouts[0].batch.task[0, 2:], rollouts[1].batch.task[0]])}
    assert stored == expected
    batch, data = replay.sample(5, torch.Generator().manual_seed(0))
    T = rollouts[0].rewards.shape[0]
    assert (batch.inputs.shape[:2] == (T, 5) and data["rewards"].shape == (T, 5)
            and batch.actions.shape == (T, 5, 2))
    restored = SequenceReplay(capacity=6)
    restored.load_state_dict(replay.state_dict())
    again, _ = restored.sample(5, torch.Generator().manual_seed(0))
    assert torch.equal(again.inputs, batch.inputs)


def test_actor_climbs_a_fixed_critic():
    """With Q(s, a) = w·a the SVG(0) actor step moves the policy's actions toward sign(w)."""
    agent, env = small_agent(kind="rnn")
    learner = SVG0(agent, SVGConfig(actor_lr=1e-2, auto_alpha=False, init_alpha=1e-3, num_envs=4,
                                    batch_size=4))
    w = torch.tensor([1.0, -1.0])
    agent.q_values = (lambda features, action:
                      (action * w).sum(-1, keepdim=True).expand(*action.shape[:-1], 2) * 10)
    rollout = collect_rollout(env, agent, seed=0)

    def mean_action():
        with torch.no_grad():
            return agent.action_head(agent.sequence_features(rollout.batch).features).mode.mean((0, 1))

    before = mean_action()
    for _ in range(20):
        learner.gradient_step(rollout.batch, rollout.log_probs, rollout.rewards, rollout.dones)
    after = mean_action()
    assert after[0] > before[0] + 0.02 and after[1] < before[1] - 0.02, (before, after)


@pytest.mark.parametrize("kind, memory, torso", [("rnn", {}, "core."),
                                                 ("belief", {"policy_memory": 16}, "policy_core.")])
@pytest.mark.parametrize("into_torso", [False, True])
def test_the_actor_trains_the_torso_through_the_action_only_when_asked(kind, memory, torso, into_torso):
    """With a critic that ignores the state, only the actor's loss can reach the torso; its Q term never
    differentiates the state features, only the action."""
    agent, env = small_agent(kind=kind, task_loss_coef=0.0, ib_beta=0.0, **memory)
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4, actor_grad_into_torso=into_torso))
    w = torch.tensor([1.0, -1.0])
    calls = []

    def q_values(features, action):
        calls.append((features.requires_grad, action.requires_grad))
        return (action * w).sum(-1, keepdim=True).expand(*action.shape[:-1], 2)

    agent.q_values = q_values
    rollout = collect_rollout(env, agent, seed=0)
    before = {name: p.detach().clone() for name, p in agent.named_parameters()}
    learner.gradient_step(rollout.batch, rollout.log_probs, rollout.rewards, rollout.dones)
    changed = {name for name, p in agent.named_parameters() if not torch.equal(p, before[name])}
    assert any(n.startswith("action_head.") for n in changed)
    assert any(n.startswith(torso) for n in changed) == into_torso
    assert not any(n.startswith("belief_net.") for n in changed)
    assert (False, True) in calls and not any(features and action for features, action in calls)


@pytest.mark.parametrize("kind, memory", [("belief", {}), ("rnn", {}), ("aux_head", {}),
                                          ("belief", {"policy_memory": 16}),
                                          ("belief", {"policy_memory": 16, "memory_skip": True})])
def test_gradient_step_trains_the_right_modules(kind, memory):
    agent, env = small_agent(kind=kind, **memory)
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4))
    rollout = collect_rollout(env, agent, seed=0)
    before = {name: p.detach().clone() for name, p in agent.named_parameters()}
    target_before = [p.detach().clone() for p in learner.target_agent.parameters()]
    metrics = learner.gradient_step(rollout.batch, rollout.log_probs, rollout.rewards, rollout.dones)
    assert all(np.isfinite(v) for v in metrics.values())
    changed = {name for name, p in agent.named_parameters() if not torch.equal(p, before[name])}
    assert (any(n.startswith("action_head.") for n in changed)
            and any(n.startswith("critic.") for n in changed))
    torso = "belief_net." if kind == "belief" else "core."
    assert any(n.startswith(torso) for n in changed)
    if memory:
        assert any(n.startswith("policy_core.") for n in changed)
    assert not all(torch.equal(a, b) for a, b in zip(target_before, learner.target_agent.parameters()))
    if kind == "aux_head":
        assert "task_nll" in metrics


@pytest.mark.parametrize("penalty_in_target", [True, False])
def test_the_penalty_enters_the_bellman_target_only_when_asked(penalty_in_target):
    def target_mean(alpha: float) -> float:
        torch.manual_seed(0)
        agent, env = small_agent(kind="rnn")
        learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4, init_alpha=alpha,
                                        penalty_in_target=penalty_in_target))
        rollout = collect_rollout(env, agent, seed=0)
        return learner.gradient_step(rollout.batch, rollout.log_probs, rollout.rewards,
                                     rollout.dones)["target_mean"]

    if penalty_in_target:  # soft targets: α scales the penalty added to every bootstrapped value
        assert abs(target_mean(10.0) - target_mean(0.1)) > 0.1
    else:  # the critic learns the plain return, whatever α
        assert target_mean(10.0) == target_mean(0.1)


def test_belief_network_gets_no_rl_gradient():
    """Without auxiliary losses the belief network must not move: RL losses stop at the belief."""
    agent, env = small_agent(kind="belief", task_loss_coef=0.0, ib_beta=0.0)
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4))
    rollout = collect_rollout(env, agent, seed=0)
    learner.gradient_step(rollout.batch, rollout.log_probs, rollout.rewards, rollout.dones)
    assert all(p.grad is None or torch.all(p.grad == 0) for p in agent.belief_net.parameters())


def test_belief_steps_train_the_belief_network_alone_and_lower_its_task_loss():
    torch.manual_seed(0)
    agent, env = small_agent(kind="belief")
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4))
    batch = collect_rollout(env, agent, seed=0).batch
    before = {name: p.detach().clone() for name, p in agent.named_parameters()}
    first = learner.belief_step(batch)["task_nll"]
    changed = {name for name, p in agent.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all(name.startswith("belief_net.") for name in changed)
    for _ in range(30):
        last = learner.belief_step(batch)["task_nll"]
    assert last < first - 0.1, (first, last)


def test_update_takes_the_configured_number_of_belief_steps(monkeypatch):
    agent, env = small_agent(kind="belief")
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4, warmup_episodes=4, updates_per_rollout=1,
                                    belief_updates_per_rollout=3))
    calls = []
    nll = iter([3.0, 2.0, 1.0])
    monkeypatch.setattr(learner, "belief_step",
                        lambda batch: calls.append(batch.inputs.shape[1]) or {"task_nll": next(nll)})
    metrics = learner.update(collect_rollout(env, agent, seed=0))
    assert calls == [4, 4, 4]
    assert metrics["belief_step_task_nll"] == pytest.approx(2.0)  # the belief-only steps' own metrics, logged


def test_belief_dropout_marks_replayed_batches_for_the_online_and_target_passes(monkeypatch):
    agent, env = small_agent(kind="belief", policy_memory=16, belief_dropout=0.5)
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4, warmup_episodes=4, updates_per_rollout=2))
    passes = []
    for model in (agent, learner.target_agent):
        original = model.sequence_features
        monkeypatch.setattr(model, "sequence_features",
                            lambda batch, with_aux=True, original=original:
                                passes.append(batch.extras["belief_hidden"]) or original(batch, with_aux))
    learner.update(collect_rollout(env, agent, seed=0))
    assert len(passes) == 4  # online and target pass of each of the two steps, with the same marks
    assert torch.equal(passes[0], passes[1]) and torch.equal(passes[2], passes[3])
    with pytest.raises(ValueError, match="belief_dropout .* needs --algorithm svg0"):
        TrainConfig(algorithm="ppo", agent={"kind": "belief", "policy_memory": 16, "belief_dropout": 0.5})


@pytest.mark.parametrize("agent, message", [({"kind": "rnn"}, "needs the belief agent"),
                                            ({"kind": "belief", "rl_grad_into_belief": True},
                                             "apart from RL")])
def test_belief_updates_need_a_belief_trained_apart_from_rl(agent, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(algorithm="svg0", agent=agent, svg0={"belief_updates_per_rollout": 4})
    with pytest.raises(ValueError, match="must be >= 0"):
        SVGConfig(belief_updates_per_rollout=-1)
    with pytest.raises(ValueError, match="needs --algorithm svg0"):
        TrainConfig(algorithm="ppo", svg0={"belief_updates_per_rollout": 4})


def test_a_stochastic_evaluation_repeats_exactly_and_leaves_the_global_rng_alone():
    agent, _ = small_agent(kind="belief")
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = evaluate_agent(agent, ENV, {}, num_tasks=32, eval_seed=3).returns
    assert torch.equal(torch.get_rng_state(), state)
    second = evaluate_agent(agent, ENV, {}, num_tasks=32, eval_seed=3).returns
    other = evaluate_agent(agent, ENV, {}, num_tasks=32, eval_seed=4).returns
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("anneal", [True, False])
def test_learning_rates_anneal_linearly_to_zero_only_when_asked(anneal):
    agent, _ = small_agent(kind="belief")
    learner = SVG0(agent, SVGConfig(actor_lr=1e-3, critic_lr=4e-3, anneal_lr=anneal))
    learner.set_progress(0.75)
    rates = [group["lr"] for group in learner.optimizer.param_groups]
    assert rates == pytest.approx([2.5e-4, 1e-3] if anneal else [1e-3, 4e-3])
    learner.set_progress(1.2)
    assert all(group["lr"] == (0.0 if anneal else group["lr"]) for group in learner.optimizer.param_groups)


def test_svg0_rejects_discrete_actions():
    env = envs.make_vector_env("belief_rl/Bandit-K5-H10-v0", 2)
    with pytest.raises(ValueError, match="Box action space"):
        make_agent(AgentConfig(**SMALL), env.single_observation_space, env.single_action_space,
                   env.unwrapped.task_spec, critic="q")


@pytest.mark.slow
def test_short_off_policy_training_improves_return(tmp_path):
    config = TrainConfig(
        env_id=ENV, algorithm="svg0", total_steps=40 * 16 * 60, seed=0, num_threads=2, eval_every=1000,
        eval_tasks=100, agent=AgentConfig(kind="belief", hidden_size=64, embed_dim=64, latent_dim=16,
                                          policy_hidden=(64, 64)),
        svg0=SVGConfig(num_envs=16, warmup_episodes=16, batch_size=16, updates_per_rollout=8, actor_lr=1e-3,
                       critic_lr=1e-3),
    )
    trainer = Trainer.create(config, tmp_path / "run")
    before = evaluate_agent(trainer.agent, ENV, {}, num_tasks=500, eval_seed=1).returns.mean()
    trainer.train(progress=False)
    after = evaluate_agent(trainer.agent, ENV, {}, num_tasks=500, eval_seed=1).returns
    print(f"return before {before:.2f}, after {after.mean():.2f}")
    # The untrained policy scores ~1 of a possible ~36; a working learner reaches ~8+ in this budget.
    assert after.mean() > before + 4.0, (before, after.mean())


def _fit_constant_reward_values(time_scale, steps=600):
    """Fit the critic (λ = 0, no entropy) on one fixed batch where every step pays 1."""
    torch.manual_seed(0)
    agent, env = small_agent(kind="belief", time_scale=time_scale, policy_hidden=(64, 64))
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4, tau=0.1, critic_lr=3e-3, actor_lr=1e-12,
                                    auto_alpha=False, init_alpha=1e-8, retrace_lambda=0.0, gamma=0.9))
    rollout = collect_rollout(env, agent, seed=0)
    rewards = torch.ones_like(rollout.rewards)
    for _ in range(steps):
        learner.gradient_step(rollout.batch, rollout.log_probs, rewards, rollout.dones)
    with torch.no_grad():
        features = agent.sequence_features(rollout.batch).features
        q = agent.q_values(features, rollout.batch.actions).min(-1).values.mean(1)
    T = rewards.shape[0]
    true = torch.tensor([(1 - 0.9 ** (T - t)) / (1 - 0.9) for t in range(T)])
    return q, true


def test_critic_learns_finite_horizon_values_with_the_time_feature():
    """A feed-forward critic on (belief, observation) is blind to the time left in the meta-episode;
    with ``time_scale`` it fits the exact values 1 + γ + ... + γ^(T-1-t) of a constant reward."""
    q, true = _fit_constant_reward_values(time_scale=20.0)
    # Close on average (the twin-Q minimum biases bootstrapped values slightly low) and at the last step.
    assert (q - true).abs().mean() < 1.2 and abs(q[-1] - 1.0) < 0.5, (q, true)
    assert torch.corrcoef(torch.stack([q, true]))[0, 1] > 0.95
    blind, _ = _fit_constant_reward_values(time_scale=0.0)
    # Without it, only the belief's sharpening over time hints at the time left (correlation ~0.6).
    assert torch.corrcoef(torch.stack([blind, true]))[0, 1] < 0.8


def test_time_feature_counts_steps_since_the_meta_episode_began():
    agent, env = small_agent(kind="rnn", time_scale=50.0)
    rollout = collect_rollout(env, agent, seed=0)
    T = rollout.rewards.shape[0]
    torch.testing.assert_close(rollout.batch.inputs[:, :, agent.obs_dim],
                               (torch.arange(T) / 50.0)[:, None].expand(T, 4))
    assert agent.observation(rollout.batch.inputs).shape[-1] == agent.obs_dim + 1


def test_information_gain_is_the_entropy_drop_and_telescopes():
    entropy = torch.tensor([[2.0, 1.0], [1.5, 1.0], [0.5, 1.2], [0.5, 0.2]])
    gain = information_gain(entropy)
    assert torch.allclose(gain, torch.tensor([[0.5, 0.0], [1.0, -0.2], [0.0, 1.0], [0.0, 0.0]]))
    assert torch.allclose(gain.sum(0), entropy[0] - entropy[-1])


@pytest.mark.parametrize("kind", ["belief", "aux_head"])
def test_the_information_reward_enters_the_retrace_targets(kind, monkeypatch):
    """The targets' rewards are the env's plus η·(H_t − H_{t+1}) of the agent's own task belief."""
    import belief_rl.algorithms.svg0 as svg0_module

    torch.manual_seed(0)
    agent, env = small_agent(kind=kind)
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4, info_gain_coef=2.0))
    rollout = collect_rollout(env, agent, seed=0)
    entropy = agent.sequence_features(rollout.batch).belief_entropy
    assert entropy.shape == rollout.rewards.shape
    if kind == "aux_head":  # deterministic head; the belief agent's depends on the stored bottleneck noise
        assert torch.allclose(entropy, agent.belief(rollout.batch.inputs).entropy(), atol=1e-5)
    seen = []
    original = svg0_module.retrace_targets
    monkeypatch.setattr(svg0_module, "retrace_targets",
                        lambda rewards, *args: seen.append(rewards) or original(rewards, *args))
    metrics = learner.gradient_step(rollout.batch, rollout.log_probs, rollout.rewards, rollout.dones)
    bonus = 2.0 * information_gain(entropy)
    assert bonus.abs().max() > 1e-3
    assert torch.allclose(seen[0] - rollout.rewards, bonus, atol=1e-5)
    assert metrics["info_bonus"] == pytest.approx(2.0 * (entropy[0] - entropy[-1]).mean().item(), abs=1e-4)


def test_the_information_reward_needs_an_agent_with_a_task_belief():
    with pytest.raises(ValueError, match="belief or aux_head agent"):
        TrainConfig(algorithm="svg0", agent={"kind": "rnn"}, svg0={"info_gain_coef": 1.0})
    with pytest.raises(ValueError, match="info_gain_coef must be >= 0"):
        SVGConfig(info_gain_coef=-0.5)
    TrainConfig(algorithm="svg0", agent={"kind": "aux_head"}, svg0={"info_gain_coef": 1.0})


@pytest.mark.parametrize("correction", [True, False])
def test_uncorrected_traces_ignore_the_behaviour_policy(correction, monkeypatch):
    """With ``retrace_correction`` off every trace is λ, whatever μ was; with it on, an unlikely behaviour
    action (μ ≫ π) cuts the trace to λ·π/μ."""
    import belief_rl.algorithms.svg0 as svg0_module

    torch.manual_seed(0)
    agent, env = small_agent(kind="rnn")
    learner = SVG0(agent, SVGConfig(num_envs=4, batch_size=4, retrace_lambda=0.9,
                                    retrace_correction=correction))
    rollout = collect_rollout(env, agent, seed=0)
    seen = []
    original = svg0_module.retrace_targets
    monkeypatch.setattr(svg0_module, "retrace_targets",
                        lambda *args: seen.append(args[4]) or original(*args))
    # μ said these actions were e^5 times likelier than π does now.
    metrics = learner.gradient_step(rollout.batch, rollout.log_probs + 5.0, rollout.rewards, rollout.dones)
    if correction:
        assert torch.all(seen[0] < -4.0)
        assert metrics["trace_mean"] < 0.9 * math.exp(-4.0)
    else:
        assert torch.equal(seen[0], torch.zeros_like(rollout.rewards))
        assert metrics["trace_mean"] == pytest.approx(0.9)
