"""Agent protocol: acting and sequence evaluation agree; gradient routing of the belief agent."""

import pytest
import torch

from belief_rl import envs
from belief_rl.agents import BeliefAgent, make_agent
from belief_rl.config import AgentConfig
from belief_rl.rollout import collect_rollout

SMALL = dict(hidden_size=32, embed_dim=32, latent_dim=8, policy_hidden=(32,))


def _setup(kind, **overrides):
    torch.manual_seed(0)
    env = envs.make_vector_env("belief_rl/Bandit-K5-H10-v0", 16)
    agent = make_agent(AgentConfig(kind=kind, **SMALL, **overrides), env.single_observation_space,
                       env.single_action_space, env.unwrapped.task_spec)
    return env, agent


@pytest.mark.parametrize("kind,cell,memory", [("belief", "gru", {}), ("belief", "lstm", {}),
                                              ("rnn", "gru", {}), ("rnn", "lstm", {}),
                                              ("aux_head", "gru", {}),
                                              ("belief", "gru", {"policy_memory": 16}),
                                              ("belief", "lstm", {"policy_memory": 16}),
                                              ("belief", "gru", {"policy_memory": 16, "memory_skip": True})])
def test_sequence_evaluation_reproduces_acting(kind, cell, memory):
    env, agent = _setup(kind, cell=cell, **memory)
    rollout = collect_rollout(env, agent, seed=3)
    out = agent.evaluate(rollout.batch)
    torch.testing.assert_close(out.log_prob, rollout.log_probs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.value, rollout.values, atol=1e-5, rtol=1e-5)


def test_belief_agent_with_rl_gradients_reuses_the_acting_noise():
    env, agent = _setup("belief", rl_grad_into_belief=True)
    rollout = collect_rollout(env, agent, seed=1)
    torch.testing.assert_close(agent.evaluate(rollout.batch).log_prob, rollout.log_probs,
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("flag", [False, True])
def test_rl_gradients_reach_the_belief_network_only_when_allowed(flag):
    env, agent = _setup("belief", rl_grad_into_belief=flag)
    rollout = collect_rollout(env, agent, seed=0)
    out = agent.evaluate(rollout.batch, with_aux=False)
    (out.log_prob.mean() + out.value.mean()).backward()
    grads = [p.grad for p in agent.belief_net.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert bool(grads) == flag


def test_policy_memory_is_trained_by_rl_and_the_belief_network_is_not():
    env, agent = _setup("belief", policy_memory=16)
    assert agent.rl_trains_torso and len(agent.initial_state(3)) == 2
    rollout = collect_rollout(env, agent, seed=0)
    out = agent.evaluate(rollout.batch, with_aux=False)
    (out.log_prob.mean() + out.value.mean()).backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in agent.belief_net.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.policy_core.parameters())
    assert out.log_prob.shape == rollout.log_probs.shape
    with pytest.raises(ValueError, match="policy_memory needs policy_head 'mlp'"):
        AgentConfig(policy_memory=16, policy_head="componentwise")


def test_memory_skip_feeds_the_belief_and_observation_to_the_heads():
    env, agent = _setup("belief", policy_memory=16, memory_skip=True)
    rollout = collect_rollout(env, agent, seed=0)
    features = agent.sequence_features(rollout.batch, with_aux=False).features
    # The memory's output, then exactly the (belief, observation) input the feed-forward heads would read.
    assert features.shape[-1] == 16 + agent.belief_dim + agent.policy_obs_dim
    torch.testing.assert_close(features[..., 16:], rollout.batch.extras["policy_input"])
    with pytest.raises(ValueError, match="memory_skip needs policy_memory"):
        AgentConfig(memory_skip=True)


def test_belief_dropout_shows_marked_meta_episodes_only_the_prior_belief():
    env, agent = _setup("belief", policy_memory=16, memory_skip=True, belief_dropout=0.5)
    batch = collect_rollout(env, agent, seed=0).batch
    marked = agent.training_batch(batch, torch.Generator().manual_seed(0))
    hidden = marked.extras["belief_hidden"]
    assert hidden.shape == batch.inputs.shape[:2] and (hidden == hidden[:1]).all()
    assert 0 < hidden[0].sum() < 16
    features = agent.sequence_features(marked, with_aux=False).features
    plain = agent.sequence_features(batch, with_aux=False).features
    belief = features[..., 16:16 + agent.belief_dim]
    shown = batch.extras["policy_input"][..., : agent.belief_dim]
    # Marked meta-episodes see their first step's belief throughout, the others their own; only the
    # marked ones' memory changes.
    torch.testing.assert_close(belief[:, hidden[0]], shown[:1, hidden[0]].expand_as(belief[:, hidden[0]]))
    torch.testing.assert_close(features[:, ~hidden[0]], plain[:, ~hidden[0]])
    assert not torch.allclose(features[1:, hidden[0], :16], plain[1:, hidden[0], :16])
    assert _setup("belief", policy_memory=16)[1].training_batch(batch) is batch
    with pytest.raises(ValueError, match="belief_dropout needs policy_memory"):
        AgentConfig(belief_dropout=0.5)
    with pytest.raises(ValueError, match=r"belief_dropout must be in \[0, 1\)"):
        AgentConfig(policy_memory=16, belief_dropout=1.0)


def test_task_loss_trains_only_the_belief_network():
    env, agent = _setup("belief")
    rollout = collect_rollout(env, agent, seed=0)
    sum(agent.evaluate(rollout.batch).aux_losses.values()).backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in agent.action_head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.belief_net.parameters())
    assert len(agent.gradient_groups()) == 2


def test_belief_is_a_distribution_over_arm_probabilities_per_step():
    env, agent = _setup("belief")
    rollout = collect_rollout(env, agent, seed=0)
    belief = agent.belief(rollout.batch.inputs)
    assert belief.batch_shape == (10, 16) and belief.event_shape == (5,)
    assert isinstance(agent, BeliefAgent)
    _, rnn = _setup("rnn")
    assert rnn.belief(rollout.batch.inputs) is None


def test_deterministic_acting_is_repeatable():
    env, agent = _setup("belief", ib_beta=0.1)
    a = collect_rollout(env, agent, seed=5, deterministic=True)
    b = collect_rollout(env, agent, seed=5, deterministic=True)
    assert torch.equal(a.batch.actions, b.batch.actions)


def test_policy_input_embedding_option():
    env, agent = _setup("belief", policy_input="embedding")
    rollout = collect_rollout(env, agent, seed=0)
    assert rollout.batch.extras["policy_input"].shape[-1] == SMALL["latent_dim"] + 1


def test_componentwise_policy_is_equivariant_to_relabelling_arms():
    env, agent = _setup("belief", policy_head="componentwise")
    rollout = collect_rollout(env, agent, seed=0)
    x = rollout.batch.extras["policy_input"][4]  # [B, means(5) + stds(5) + obs(1)]
    perm = torch.tensor([3, 0, 4, 1, 2])
    permuted = torch.cat([x[:, :5][:, perm], x[:, 5:10][:, perm], x[:, 10:]], dim=-1)
    torch.testing.assert_close(agent.action_head(x).logits[:, perm], agent.action_head(permuted).logits)
    torch.testing.assert_close(agent.critic(x), agent.critic(permuted))
    torch.testing.assert_close(agent.evaluate(rollout.batch).log_prob, rollout.log_probs,
                               atol=1e-5, rtol=1e-5)


def test_componentwise_policy_rejects_unaligned_beliefs():
    env = envs.make_vector_env("belief_rl/Bandit-K5-H10-v0", 2)
    from belief_rl.envs.task_specs import BetaTask
    with pytest.raises(ValueError, match="one belief component per discrete action"):
        make_agent(AgentConfig(policy_head="componentwise", **SMALL), env.single_observation_space,
                   env.single_action_space, BetaTask(7))
    with pytest.raises(ValueError, match="needs policy_input 'posterior'"):
        make_agent(AgentConfig(policy_head="componentwise", policy_input="embedding", **SMALL),
                   env.single_observation_space, env.single_action_space, env.unwrapped.task_spec)


def test_bottleneck_kl_enters_the_loss_with_weight_ib_beta():
    env, agent = _setup("belief", ib_beta=0.25)
    rollout = collect_rollout(env, agent, seed=0)
    out = agent.evaluate(rollout.batch)
    assert out.metrics["bottleneck_kl"] > 0
    assert out.aux_losses["bottleneck_kl"].item() == pytest.approx(0.25 * out.metrics["bottleneck_kl"],
                                                                   rel=1e-5)
