"""PPO pieces: GAE against a naive reference, an update that moves the policy the right way, and the first
updates of a fixed-seed run pinned to the numbers of an earlier implementation."""

import copy

import numpy as np
import pytest
import torch

from belief_rl import envs
from belief_rl.agents import make_agent
from belief_rl.algorithms.ppo import PPO, compute_gae
from belief_rl.config import AgentConfig, PPOConfig
from belief_rl.envs import make_vector_env
from belief_rl.presets import make_config
from belief_rl.rollout import collect_rollout
from belief_rl.runs import build_agent


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


# The first three PPO updates on Bandit-v0 (full preset, 16 meta-episodes, 2 minibatches, seed 0) as the
# implementation before the throughput work computed them (commit ec4575e): restructuring the componentwise
# head (split first layers) and computing tanh as 2·sigmoid(2x) − 1 must not change what is learned. The
# rollout returns pin the sampled actions too.
PINNED_FIRST_UPDATES = {
    "belief": [(820.0, -1e-06, 2.545349, 2.995732, -0.073063),
               (831.0, -2.1e-05, 2.60683, 2.995732, -0.721128),
               (806.0, -4.6e-05, 2.569621, 2.995731, -1.088547)],
    "rnn": [(820.0, -0.007241, 1.749342, 2.992328, None), (813.0, 0.003705, 2.062031, 2.933384, None),
            (863.0, 0.001331, 2.902119, 2.966919, None)],
}


@pytest.mark.parametrize("kind, overlap", [("belief", False), ("belief", True), ("rnn", False)])
def test_first_updates_match_the_previous_implementation(kind, overlap):
    """Also with the belief network's auxiliary pass computed in a second thread (same gradients)."""
    torch.manual_seed(0)
    config = make_config("belief_rl/Bandit-v0", kind, preset="full",
                         overrides=["ppo.num_envs=16", "ppo.num_minibatches=2"])
    env = make_vector_env(config.env_id, config.ppo.num_envs)
    agent = build_agent(config, env)
    threads = torch.get_num_threads()
    ppo = PPO(agent, config.ppo, num_threads=2 if overlap else None)
    torch.set_num_threads(threads)
    assert (ppo._aux_worker is not None) == overlap
    generator = torch.Generator().manual_seed(0)
    for seed, pinned in enumerate(PINNED_FIRST_UPDATES[kind]):
        total_reward, policy_loss, value_loss, entropy, task_nll = pinned
        rollout = collect_rollout(env, agent, seed=seed)
        metrics = ppo.update(rollout, generator)
        assert float(rollout.rewards.sum()) == total_reward
        assert metrics["policy_loss"] == pytest.approx(policy_loss, abs=2e-6)
        assert metrics["value_loss"] == pytest.approx(value_loss, abs=2e-5)
        assert metrics["entropy"] == pytest.approx(entropy, abs=2e-6)
        if task_nll is not None:
            assert metrics["task_nll"] == pytest.approx(task_nll, abs=2e-5)


def _updated_parameters(agent, config, num_threads=None, progress=None):
    """The agent's parameters after one PPO update (on a copy) of a fixed rollout."""
    agent = copy.deepcopy(agent)
    env = envs.make_vector_env("belief_rl/Bandit-K5-H10-v0", config.num_envs)
    torch.manual_seed(0)  # the same sampled actions every time
    rollout = collect_rollout(env, agent, seed=0)
    ppo = PPO(agent, config, num_threads=num_threads)
    if progress is not None:
        ppo.set_progress(progress)
    ppo.update(rollout, torch.Generator().manual_seed(0))
    return [p.detach().clone() for p in agent.parameters()]


def _small_agent(kind):
    torch.manual_seed(0)
    env = envs.make_vector_env("belief_rl/Bandit-K5-H10-v0", 8)
    return make_agent(AgentConfig(kind=kind, hidden_size=16, embed_dim=16, latent_dim=8, policy_hidden=(16,)),
                      env.single_observation_space, env.single_action_space, env.unwrapped.task_spec)


def test_entropy_weight_anneals_linearly_to_its_final_value():
    agent = _small_agent("rnn")
    base = dict(num_envs=8, num_minibatches=2, update_epochs=1, anneal_lr=False)
    annealed = PPO(agent, PPOConfig(**base, ent_coef=0.01, ent_coef_final=0.002))
    for fraction, expected in [(0.0, 0.01), (0.25, 0.008), (1.0, 0.002), (1.5, 0.002)]:
        annealed.set_progress(fraction)
        assert annealed.ent_coef == pytest.approx(expected)
    # The loss uses the annealed weight: at the end of the run, 0.5 → 0 updates as a weight of 0 does.
    at_end = _updated_parameters(agent, PPOConfig(**base, ent_coef=0.5, ent_coef_final=0.0), progress=1.0)
    without = _updated_parameters(agent, PPOConfig(**base, ent_coef=0.0), progress=1.0)
    constant = _updated_parameters(agent, PPOConfig(**base, ent_coef=0.5), progress=1.0)
    assert all(torch.equal(a, b) for a, b in zip(at_end, without))
    assert not all(torch.equal(a, b) for a, b in zip(at_end, constant))
    with pytest.raises(ValueError, match="ent_coef_final must be >= 0"):
        PPOConfig(ent_coef_final=-0.1)


def test_auxiliary_pass_in_a_second_thread_gives_the_same_update():
    agent = _small_agent("belief")
    config = PPOConfig(num_envs=8, num_minibatches=2, update_epochs=2, aux_epochs=1)
    threads = torch.get_num_threads()
    sequential = _updated_parameters(agent, config)
    overlapped = _updated_parameters(agent, config, num_threads=2)
    assert torch.get_num_threads() == threads  # the update restores torch's thread count
    assert all(torch.equal(a, b) for a, b in zip(sequential, overlapped))
    # and the belief network did change (the auxiliary gradients reached it)
    assert not torch.equal(overlapped[0], next(agent.parameters()))
