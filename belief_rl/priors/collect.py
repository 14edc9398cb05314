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

import envs
from belief_rl.baselines.scripted import ScriptedPolicy, run_scripted
from belief_rl.priors.demos import DemoError, Demonstrations


def scripted_experts(env_id: str) -> dict[str, Callable[[gym.vector.VectorEnv], ScriptedPolicy]]:
    """The scripted policies that can demonstrate ``env_id``: ``{"oracle": ..., "scripted": ...}`` or ``{}``."""
    name = env_id.removeprefix("belief_rl/")
    if name.startswith("Semicircle"):
        from belief_rl.baselines.semicircle import SemicircleExplorer, SemicircleOracle
        return {"oracle": SemicircleOracle.for_env, "scripted": SemicircleExplorer.for_env}
    if name.startswith("NumPad"):
        from belief_rl.baselines.numpad import NumPadExplorer, NumPadOracle
        return {"oracle": NumPadOracle.for_env, "scripted": NumPadExplorer.for_env}
    if name.startswith("Reacher"):
        # The target is observed: the scripted expert is also the oracle.
        from belief_rl.baselines.reacher import ReacherExpert
        return {"oracle": ReacherExpert.for_env, "scripted": ReacherExpert.for_env}
    return {}


def collect_demonstrations(env_id: str, policy: str, episodes: int, seed: int = 0) -> Demonstrations:
    """``episodes`` meta-episodes of ``policy`` (``oracle``, ``scripted`` or a run directory) on ``env_id``."""
    if episodes < 1:
        raise DemoError(f"--episodes must be positive, got {episodes}")
    experts = scripted_experts(env_id)
    if policy not in experts and not Path(policy).is_dir():
        choices = ", ".join([*experts, "RUN_DIR"])
        raise DemoError(f"unknown demonstration policy {policy!r} for {env_id}; choose one of {choices}")
    env = envs.make_vector_env(env_id, episodes)
    try:
        if policy in experts:
            steps = _record_scripted(experts[policy](env), env, seed)
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


def _record_scripted(policy: ScriptedPolicy, env: gym.vector.VectorEnv, seed: int) -> tuple[list, ...]:
    record: tuple[list, ...] = ([], [], [], [])

    def on_step(obs: np.ndarray, action: np.ndarray, reward: np.ndarray, start: np.ndarray) -> None:
        for store, value in zip(record, (obs, action, reward, start)):
            store.append(np.array(value))

    run_scripted(policy, env, seed, on_step)
    return record


def _record_agent(run_dir: Path, env_id: str, env: gym.vector.VectorEnv, seed: int) -> tuple[np.ndarray, ...]:
    from belief_rl.rollout import collect_rollout
    from belief_rl.train import load_agent

    agent, config, _ = load_agent(run_dir)
    if config.env_id != env_id:
        raise DemoError(f"run {run_dir} was trained on {config.env_id!r}, not {env_id!r}")
    if not isinstance(env.single_action_space, gym.spaces.Box):
        raise DemoError("demonstrations need a continuous (Box) action space")
    with torch.random.fork_rng():  # the policy's sampling noise is seeded without touching the caller's RNG
        torch.manual_seed(seed)
        rollout = collect_rollout(env, agent, seed)
    inputs = rollout.batch.inputs
    # The boundary flag is the last input feature (see Agent.encode_inputs).
    return (agent.env_observation(inputs).numpy(), rollout.batch.actions.numpy(), rollout.rewards.numpy(),
            inputs[..., -1].numpy() > 0.5)
