"""PPO pieces: GAE against a naive reference, and an update that moves the policy the right way."""

import numpy as np
import pytest
import torch

from belief_rl import envs
from belief_rl.agents import make_agent
from belief_rl.algorithms.ppo import PPO, compute_gae
from belief_rl.config import AgentConfig, PPOConfig
from belief_rl.rollout import collect_rollout


def naive_gae(rewards, values, dones, last_value, gamma, lam):
    """Per-environment, per-step definition: A_t = Σ_l (γλ)^l δ_{t+l}, stopping at episode ends."""
    T, B = rewards.shape
    adv = np.zeros((T, B))
    for b in range(B):
        for t in range(T):
            total, discount = 0.0, 1.0
            for k in range(t, T):
                next_v = last_value[b] if k == T - 1 else values[k + 1, b]
                delta = rewards[k, b] + gamma * next_v * (1 - dones[k, b]) - values[k, b]
                total += discount * delta
                if dones[k, b]:
                    break
                discount *= gamma * lam
            adv[t, b] = total
    return adv


@pytest.mark.parametrize("gamma,lam", [(1.0, 0.9), (0.99, 0.95), (0.9, 0.0), (0.95, 1.0)])
def test_gae_matches_naive_reference(gamma, lam):
    rng = np.random.default_rng(0)
    T, B = 9, 4
    rewards, values = rng.normal(size=(T, B)), rng.normal(size=(T, B))
    dones = rng.random((T, B)) < 0.2
    last_value = rng.normal(size=B)
    adv, ret = compute_gae(*(torch.tensor(x) for x in (rewards, values, dones, last_value)), gamma, lam)
    expected = naive_gae(rewards, values, dones.astype(float), last_value, gamma, lam)
    np.testing.assert_allclose(adv.numpy(), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ret.numpy(), expected + values, rtol=1e-10, atol=1e-10)


def test_gae_with_lambda_one_and_terminal_end_is_return_minus_value():
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [0.2], [0.1]])
    dones = torch.tensor([[False], [False], [True]])
    adv, ret = compute_gae(rewards, values, dones, torch.tensor([9.0]), 1.0, 1.0)
    # The bootstrap value 9.0 lies past the terminal step and must not leak in.
    torch.testing.assert_close(ret, torch.tensor([[3.0], [2.0], [2.0]]))
    torch.testing.assert_close(adv, torch.tensor([[2.5], [1.8], [1.9]]))


@pytest.mark.parametrize("kind", ["belief", "rnn", "aux_head"])
def test_ppo_update_raises_probability_of_advantaged_actions(kind):
    torch.manual_seed(0)
    env = envs.make_vector_env("belief_rl/Bandit-K5-H10-v0", 64)
    agent = make_agent(AgentConfig(kind=kind, hidden_size=32, embed_dim=32, latent_dim=8,
                                   policy_hidden=(32,)),
                       env.single_observation_space, env.single_action_space, env.unwrapped.task_spec)
    rollout = collect_rollout(env, agent, seed=0)
    # Reward only arm 0: after an update its probability must rise.
    rollout.rewards = (rollout.batch.actions == 0).float()
    ppo = PPO(agent, PPOConfig(num_envs=64, num_minibatches=4, update_epochs=4, learning_rate=3e-3,
                               anneal_lr=False, ent_coef=0.0))
    before = agent.evaluate(rollout.batch).log_prob.exp()[rollout.batch.actions == 0].mean()
    metrics = ppo.update(rollout, torch.Generator().manual_seed(0))
    after = agent.evaluate(rollout.batch).log_prob.exp()[rollout.batch.actions == 0].mean()
    assert after > before + 0.05
    assert {"policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"} <= metrics.keys()
    if kind != "rnn":
        assert "task_nll" in metrics
