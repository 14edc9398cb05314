"""Histories of a scripted policy, encoded as an agent's inputs, for off-policy belief training.

The task posterior given a history does not depend on the policy that produced
the history, so a belief network can learn from anyone's meta-episodes. An
agent whose own policy rarely reaches some situations (on NumPad, a policy that
seldom presses past the first pad) gives its belief little to learn from there;
the env's scripted explorer visits them systematically.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from belief_rl import envs
from belief_rl.agents.base import Agent, SequenceBatch
from belief_rl.families import scripted_experts
from belief_rl.references.scripted import run_scripted


def scripted_histories(env_id: str, env_kwargs: dict[str, Any], agent: Agent, num_meta_episodes: int,
                       seed: int, policy: str = "scripted") -> SequenceBatch:
    """``num_meta_episodes`` meta-episodes of the env's scripted ``policy`` as ``agent``'s inputs
    ``[T, N, D]``.

    Inputs are encoded exactly as :func:`belief_rl.rollout.collect_rollout` encodes an agent's own steps
    (observation, time, previous action and reward, episode boundary); ``task`` is the meta-episode's task
    at every step, ``actions`` the scripted policy's.
    """
    experts = scripted_experts(env_id)
    if policy not in experts:
        raise ValueError(f"{env_id} has no scripted {policy!r} policy")
    env = envs.make_vector_env(env_id, num_meta_episodes, **env_kwargs)
    # The tasks are drawn at reset: run_scripted's reset with this seed redraws them.
    _, info = env.reset(seed=seed)
    task = torch.as_tensor(info["task"])
    steps: list[tuple[np.ndarray, ...]] = []
    run_scripted(experts[policy](env), env, seed,
                 lambda *step: steps.append(tuple(np.array(x) for x in step)))
    env.close()
    prev_action = torch.zeros((num_meta_episodes, *env.single_action_space.shape))
    prev_reward = torch.zeros(num_meta_episodes)
    inputs, actions = [], []
    for t, (obs, action, reward, start) in enumerate(steps):
        inputs.append(agent.encode_inputs(torch.as_tensor(obs), prev_action, prev_reward,
                                          torch.as_tensor(start, dtype=torch.float32), t))
        prev_action = torch.as_tensor(action, dtype=torch.float32)
        prev_reward = torch.as_tensor(reward, dtype=torch.float32)
        actions.append(prev_action)
    return SequenceBatch(torch.stack(inputs), torch.stack(actions),
                         task.expand(len(steps), *task.shape).clone())


def sample_histories(histories: SequenceBatch, batch_size: int,
                     generator: torch.Generator | None = None) -> SequenceBatch:
    """``batch_size`` meta-episodes of ``histories`` drawn uniformly (with replacement)."""
    index = torch.randint(histories.inputs.shape[1], (batch_size,), generator=generator)
    return SequenceBatch(histories.inputs[:, index], histories.actions[:, index], histories.task[:, index])
