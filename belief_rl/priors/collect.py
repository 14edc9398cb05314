"""Collecting demonstrations from a scripted expert or a trained agent, without downloads.

``oracle`` and ``scripted`` are the reference policies of the env family (they
play the natively batched env); a run directory replays that run's agent
(sampling its policy). Each sub-env plays one meta-episode; the file stores them
one after another, with ``episode_starts`` at every episode boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from belief_rl import envs
from belief_rl.evaluation import seeded_rollout
from belief_rl.families import scripted_experts
from belief_rl.priors.base import from_raw_actions, to_raw_actions
from belief_rl.priors.demos import DemoError, Demonstrations
from belief_rl.references.scripted import ScriptedPolicy, run_scripted
from belief_rl.runs import load_agent


class NoisyExpert(ScriptedPolicy):
    """A scripted expert made stochastic: Gaussian noise of std ``noise`` on its pre-squash action.

    ``atanh`` of the action rescaled to [-1, 1] is the space the priors model, so the
    expert becomes a squashed-Gaussian policy around its own action, like a trained
    SAC-style expert. Deterministic experts give demonstrations without action noise,
    which leaves a prior with (near-)zero variance at the demonstrated states.
    """

    def __init__(self, expert: ScriptedPolicy, space: gym.spaces.Box, noise: float, seed: int) -> None:
        self.expert = expert
        self.uses_task = expert.uses_task
        self.noise = noise
        self.low, self.high = (torch.as_tensor(b, dtype=torch.float64) for b in (space.low, space.high))
        self.rng = np.random.default_rng(seed)

    def reset(self, obs: np.ndarray, info: dict) -> None:
        self.expert.reset(obs, info)

    def act(self, obs: np.ndarray) -> np.ndarray:
        action = torch.as_tensor(np.asarray(self.expert.act(obs), dtype=np.float64))
        raw = to_raw_actions(action, self.low, self.high)
        raw = raw + self.noise * torch.as_tensor(self.rng.standard_normal(raw.shape))
        return from_raw_actions(raw, self.low, self.high).numpy().astype(np.float32)

    def observe(self, obs: np.ndarray, reward: np.ndarray, done: np.ndarray, info: dict) -> None:
        self.expert.observe(obs, reward, done, info)


def collect_demonstrations(env_id: str, policy: str, episodes: int, seed: int = 0,
                           action_noise: float = 0.0, execution_noise: float = 0.0) -> Demonstrations:
    """``episodes`` meta-episodes of ``policy`` (``oracle``, ``scripted`` or a run directory) on ``env_id``.

    ``action_noise`` > 0 makes a scripted expert a :class:`NoisyExpert` (a run's agent samples its own
    policy). ``execution_noise`` > 0 executes the scripted expert's action plus Gaussian noise of that std
    (in units of the action box's half-width, clipped to the box) but records the expert's own action, so
    that the demonstrations also show how the expert recovers from states off its own path (DART-style).
    The recorded rewards are those of the perturbed run.
    """
    if episodes < 1:
        raise DemoError(f"--episodes must be positive, got {episodes}")
    for flag, value in (("--action-noise", action_noise), ("--execution-noise", execution_noise)):
        if not (np.isfinite(value) and value >= 0):
            raise DemoError(f"{flag} must be >= 0, got {value}")
    experts = scripted_experts(env_id)
    if policy not in experts and not Path(policy).is_dir():
        choices = ", ".join([*experts, "RUN_DIR"])
        raise DemoError(f"unknown demonstration policy {policy!r} for {env_id}; choose one of {choices}")
    env = envs.make_vector_env(env_id, episodes)
    try:
        if policy in experts:
            expert = experts[policy](env)
            if action_noise > 0:
                expert = NoisyExpert(expert, env.single_action_space, action_noise, seed)
            perturb = _execution_perturbation(env.single_action_space, execution_noise, seed)
            steps = _record_scripted(expert, env, seed, perturb)
        elif action_noise > 0 or execution_noise > 0:
            raise DemoError("--action-noise and --execution-noise apply to scripted experts; "
                            "a run's agent samples its own policy")
        else:
            steps = _record_agent(Path(policy), env_id, env, seed)
    finally:
        env.close()
    obs, actions, rewards, starts = (np.swapaxes(np.asarray(x), 0, 1) for x in steps)  # [B, T, ...]
    space_obs, space_act = env.single_observation_space, env.single_action_space
    return Demonstrations(env_id=env_id, observations=obs.reshape(-1, obs.shape[-1]).astype(np.float32),
                          actions=actions.reshape(-1, actions.shape[-1]).astype(np.float32),
                          rewards=rewards.reshape(-1).astype(np.float32), episode_starts=starts.reshape(-1),
                          observation_low=space_obs.low, observation_high=space_obs.high,
                          action_low=space_act.low, action_high=space_act.high)


def _execution_perturbation(space: gym.spaces.Box, noise: float,
                            seed: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """``action -> clip(action + noise·half_width·ε)`` with its own seeded stream, or None for no noise."""
    if noise == 0:
        return None
    # A stream apart from NoisyExpert's (seeded with ``seed``), so the two noises are independent.
    rng = np.random.default_rng([seed, 1])
    half_width = (space.high - space.low) / 2

    def perturb(action: np.ndarray) -> np.ndarray:
        noisy = action + noise * half_width * rng.standard_normal(action.shape)
        return np.clip(noisy, space.low, space.high).astype(space.dtype)

    return perturb


def _record_scripted(policy: ScriptedPolicy, env: gym.vector.VectorEnv, seed: int,
                     perturb: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[list, ...]:
    record: tuple[list, ...] = ([], [], [], [])

    def on_step(obs: np.ndarray, action: np.ndarray, reward: np.ndarray, start: np.ndarray) -> None:
        for store, value in zip(record, (obs, action, reward, start)):
            store.append(np.array(value))

    run_scripted(policy, env, seed, on_step, perturb)
    return record


def _record_agent(run_dir: Path, env_id: str, env: gym.vector.VectorEnv, seed: int) -> tuple[np.ndarray, ...]:
    agent, config, _ = load_agent(run_dir)
    if config.env_id != env_id:
        raise DemoError(f"run {run_dir} was trained on {config.env_id!r}, not {env_id!r}")
    if not isinstance(env.single_action_space, gym.spaces.Box):
        raise DemoError("demonstrations need a continuous (Box) action space")
    rollout = seeded_rollout(env, agent, seed)
    inputs = rollout.batch.inputs
    # The boundary flag is the last input feature (see Agent.encode_inputs).
    return (agent.env_observation(inputs).numpy(), rollout.batch.actions.numpy(), rollout.rewards.numpy(),
            inputs[..., -1].numpy() > 0.5)
