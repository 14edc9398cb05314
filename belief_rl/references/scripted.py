"""Scripted reference policies for the continuous-control meta-RL envs.

A scripted policy plays a whole batch of meta-episodes of a natively batched
env. Oracles may read ``info["task"]`` (they bound what any agent can reach);
explorers must not: they see exactly what an agent sees (observation, reward,
episode boundary) and so bound what a belief agent *should* reach.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from belief_rl import envs
from belief_rl.stats import summarize

# Safety cap on meta-episode length: a bug that never terminates must not hang a run.
_MAX_STEPS = 100_000


class ScriptedPolicy:
    """Base class: a batched, stateful, non-learning policy.

    ``reset`` is called once per meta-episode with the reset observation and info;
    then, alternately, ``act`` returns one action per sub-env and ``observe``
    receives the step's results (including ``info["boundary"]``).
    """

    #: Whether the policy reads ``info["task"]`` (oracles do, explorers must not).
    uses_task: bool = False

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        raise NotImplementedError

    def act(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def observe(self, obs: np.ndarray, reward: np.ndarray, done: np.ndarray, info: dict[str, Any]) -> None:
        """Receive one step's results (default: nothing to remember)."""


class UniformRandomPolicy(ScriptedPolicy):
    """Uniform random actions in a Box action space's bounds (the floor of the control tasks)."""

    def __init__(self, space: gym.spaces.Box, num_envs: int, seed: int = 0) -> None:
        self.low, self.high = space.low, space.high
        self.num_envs, self.rng = num_envs, np.random.default_rng(seed)

    @classmethod
    def for_env(cls, env: gym.vector.VectorEnv, seed: int = 0) -> UniformRandomPolicy:
        return cls(env.single_action_space, env.num_envs, seed)

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        """Stateless: nothing to reset."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.rng.uniform(self.low, self.high, size=(self.num_envs, *self.low.shape)).astype(np.float32)


StepCallback = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


def run_scripted(policy: ScriptedPolicy, env: gym.vector.VectorEnv, seed: int,
                 on_step: StepCallback | None = None,
                 perturb: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Play one meta-episode per sub-env of ``env`` (reset with ``seed``); returns ``[num_envs]`` returns.

    Explorers are handed an info without ``"task"``, so a leak is an error, not a silent cheat.
    ``on_step(obs, action, reward, episode_start)`` sees every step (e.g. to record demonstrations);
    ``episode_start`` is True where ``obs`` begins an episode of the meta-episode. ``perturb(action)``,
    if given, is the action executed instead of the policy's, while ``on_step`` still sees the policy's
    own: the expert labels the states a perturbed run of it visits (DART-style demonstrations).
    """
    obs, info = env.reset(seed=seed)
    policy.reset(obs, _visible(info, policy))
    returns = np.zeros(env.num_envs)
    starts = np.ones(env.num_envs, dtype=bool)
    for _ in range(_MAX_STEPS):
        action = policy.act(obs)
        previous_obs = obs
        obs, reward, terminated, truncated, info = env.step(action if perturb is None else perturb(action))
        if on_step is not None:
            on_step(previous_obs, action, reward, starts)
        starts = np.asarray(info.get("boundary", np.zeros(env.num_envs, dtype=bool)), dtype=bool)
        done = np.logical_or(terminated, truncated)
        returns += reward
        if done.all():
            return returns
        if done.any():
            raise ValueError("scripted policies need meta-episodes of equal length in every sub-environment")
        policy.observe(obs, reward, done, _visible(info, policy))
    raise RuntimeError(f"meta-episode did not end within {_MAX_STEPS} steps")


def reference_returns(
    env_id: str,
    num_tasks: int,
    seed: int,
    make_policies: Callable[[gym.vector.VectorEnv], dict[str, ScriptedPolicy]],
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Mean meta-episode return of each scripted policy on the same ``num_tasks`` tasks.

    Every policy of ``make_policies(env)`` plays one batch of ``num_tasks`` sub-envs
    of ``env_id`` (``env_kwargs`` override the registered arguments) reset with
    ``seed``, so sub-env ``i`` has the same task (seed ``seed + i``) for all of them.

    Returns:
        ``{name: {"mean", "stderr", "num_tasks"}}`` in the order of ``make_policies``;
        ``stderr`` is NaN for a single task.
    """
    if num_tasks < 1:
        raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
    env = envs.make_vector_env(env_id, num_tasks, **(env_kwargs or {}))
    try:
        results = {}
        for name, policy in make_policies(env).items():
            results[name] = summarize(run_scripted(policy, env, seed))
    finally:
        env.close()
    return results


def _visible(info: dict[str, Any], policy: ScriptedPolicy) -> dict[str, Any]:
    return info if policy.uses_task else {k: v for k, v in info.items() if k != "task"}
