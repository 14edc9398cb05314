"""Batched collection of whole meta-episodes into ``[T, B, ...]`` tensors."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from belief_rl.agents.base import Agent, SequenceBatch

# Safety cap on meta-episode length: a bug that never terminates must not hang a run.
_MAX_STEPS = 100_000


@dataclass
class Rollout:
    """One meta-episode for every environment of a vector env."""

    batch: SequenceBatch
    log_probs: torch.Tensor  # [T, B] behaviour log-probabilities
    values: torch.Tensor  # [T, B]
    rewards: torch.Tensor  # [T, B]
    dones: torch.Tensor  # [T, B] True where the step ended the meta-episode
    # [B]: whether the env's ``info["success"]`` held at the last step (None if the env reports none).
    success: np.ndarray | None = None

    @property
    def num_steps(self) -> int:
        return self.rewards.numel()

    def returns(self) -> np.ndarray:
        """Undiscounted return of each meta-episode, ``[B]``."""
        return self.rewards.sum(0).numpy()


def collect_rollout(env: gym.vector.VectorEnv, agent: Agent, seed: int,
                    deterministic: bool = False) -> Rollout:
    """Reset ``env`` with ``seed`` and play one meta-episode in every sub-environment.

    All sub-environments must end their meta-episodes at the same step (true of
    every belief_rl environment: meta-episodes have a fixed length).
    """
    obs, info = env.reset(seed=seed)
    num_envs = env.num_envs
    action_shape = env.single_action_space.shape
    action_dtype = torch.long if isinstance(env.single_action_space, gym.spaces.Discrete) else torch.float32
    prev_action = torch.zeros((num_envs, *action_shape), dtype=action_dtype)
    prev_reward = torch.zeros(num_envs)
    boundary = torch.ones(num_envs)
    state = agent.initial_state(num_envs)
    steps: list[dict[str, torch.Tensor]] = []
    for step in range(_MAX_STEPS):
        inputs = agent.encode_inputs(torch.as_tensor(obs), prev_action, prev_reward, boundary, step)
        out, state = agent.act(inputs, state, deterministic)
        task = torch.as_tensor(info["task"])
        obs, reward, terminated, truncated, info = env.step(out.action.numpy())
        done = np.logical_or(terminated, truncated)
        prev_action, prev_reward = out.action, torch.as_tensor(reward, dtype=torch.float32)
        steps.append({"inputs": inputs, "actions": out.action, "task": task, "log_probs": out.log_prob,
                      "values": out.value, "rewards": prev_reward, "dones": torch.as_tensor(done),
                      **{f"extra/{k}": v for k, v in out.extras.items()}})
        if done.all():
            break
        if done.any():
            raise ValueError("whole-episode rollouts need meta-episodes of equal length in every "
                             "sub-environment")
        # Multi-episode meta-episodes flag the first step of each inner episode.
        boundary = torch.as_tensor(info.get("boundary", np.zeros(num_envs)), dtype=torch.float32)
    else:
        raise RuntimeError(f"meta-episode did not end within {_MAX_STEPS} steps")
    stacked = {key: torch.stack([step[key] for step in steps]) for key in steps[0]}
    extras = {key.removeprefix("extra/"): value for key, value in stacked.items() if key.startswith("extra/")}
    return Rollout(
        batch=SequenceBatch(stacked["inputs"], stacked["actions"], stacked["task"], extras),
        log_probs=stacked["log_probs"], values=stacked["values"], rewards=stacked["rewards"],
        dones=stacked["dones"],
        success=np.asarray(info["success"], dtype=bool) if "success" in info else None,
    )
