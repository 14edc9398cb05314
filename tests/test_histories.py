"""Scripted histories as agent inputs, and the belief steps that train on them."""

import numpy as np
import pytest
import torch

from belief_rl import envs
from belief_rl.agents import make_agent
from belief_rl.algorithms import SVG0
from belief_rl.config import AgentConfig, SVGConfig, TrainConfig
from belief_rl.histories import sample_histories, scripted_histories
from belief_rl.priors.collect import scripted_experts
from belief_rl.references.scripted import run_scripted
from belief_rl.rollout import collect_rollout
from belief_rl.runs import build_agent, build_learner

ENV = "belief_rl/Semicircle-Small-v0"
SMALL = dict(hidden_size=16, embed_dim=16, latent_dim=4, policy_hidden=(16,), time_scale=100.0)


def small_agent():
    env = envs.make_vector_env(ENV, 2)
    return make_agent(AgentConfig(kind="belief", **SMALL), env.single_observation_space,
                      env.single_action_space, env.unwrapped.task_spec, critic="q")


def test_histories_are_encoded_like_the_agents_own_rollouts():
    agent = small_agent()
    histories = scripted_histories(ENV, {}, agent, num_meta_episodes=6, seed=7)
    own = collect_rollout(envs.make_vector_env(ENV, 6), agent, seed=7).batch
    assert histories.inputs.shape == own.inputs.shape and histories.task.shape == own.task.shape

    # The explorer itself, played on the same tasks: what the encoded inputs must hold.
    env = envs.make_vector_env(ENV, 6)
    steps = []
    returns = run_scripted(scripted_experts(ENV)["scripted"](env), env, 7,
                           lambda *s: steps.append([np.array(x) for x in s]))
    obs, actions, rewards, starts = (np.stack(x) for x in zip(*steps))
    inputs = histories.inputs.numpy()
    np.testing.assert_allclose(agent.env_observation(histories.inputs).numpy(), obs, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(inputs[..., -1], starts)  # the episode-boundary flag
    np.testing.assert_allclose(inputs[1:, :, -2], rewards[:-1])  # the previous reward
    np.testing.assert_allclose(inputs[1:, :, -2].sum(0) + rewards[-1], returns)
    np.testing.assert_allclose(histories.actions.numpy(), actions, rtol=0, atol=1e-6)
    np.testing.assert_allclose(inputs[:, 0, agent.obs_dim], np.arange(len(steps)) / 100.0, rtol=1e-6)  # time
    # Same seed, same tasks as an agent's own rollout; one task per meta-episode.
    torch.testing.assert_close(histories.task, own.task)
    assert torch.equal(histories.task, histories.task[:1].expand_as(histories.task))


def test_sampled_histories_are_whole_meta_episodes_of_the_pool():
    histories = scripted_histories(ENV, {}, small_agent(), num_meta_episodes=4, seed=0)
    batch = sample_histories(histories, 8, torch.Generator().manual_seed(0))
    assert batch.inputs.shape[1] == 8
    for b in range(8):
        assert any(torch.equal(batch.inputs[:, b], histories.inputs[:, i]) for i in range(4))


def test_belief_steps_train_on_the_explorers_histories_when_asked(monkeypatch):
    config = TrainConfig(env_id=ENV, algorithm="svg0", agent={"kind": "belief", **SMALL},
                         svg0={"num_envs": 4, "batch_size": 3, "warmup_episodes": 4, "updates_per_rollout": 1,
                               "belief_updates_per_rollout": 2, "belief_histories": "explorer",
                               "belief_history_pool": 5})
    agent = build_agent(config)
    learner = build_learner(agent, config)
    pool = learner.belief_histories
    assert pool.inputs.shape[1] == 5
    assert torch.equal(pool.inputs, build_learner(agent, config).belief_histories.inputs)
    seen = []
    monkeypatch.setattr(learner, "belief_step", lambda batch: seen.append(batch) or {})
    learner.update(collect_rollout(envs.make_vector_env(ENV, 4), agent, seed=0))
    assert len(seen) == 2
    assert all(any(torch.equal(batch.inputs[:, b], pool.inputs[:, i]) for i in range(5))
               for batch in seen for b in range(3))
    assert SVG0(agent, config.svg0).belief_histories is None


def test_explorer_histories_need_belief_steps():
    with pytest.raises(ValueError, match="belief_updates_per_rollout > 0"):
        SVGConfig(belief_histories="explorer")
    with pytest.raises(ValueError, match="'own' or 'explorer'"):
        SVGConfig(belief_histories="oracle", belief_updates_per_rollout=1)
