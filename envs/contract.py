"""The contract an environment meets to be trained on by belief_rl agents, and its check.

1. **Privileged task.** ``reset`` and every ``step`` return ``info["task"]``: the task of the meta-episode
   as a numpy array (or int) shaped as the task spec says. Agents never see it as input; belief and AuxHead
   agents learn to predict it, and only during meta-training.
2. **Task spec.** ``env.unwrapped.task_spec`` is a :class:`~belief_rl.envs.task_specs.TaskSpec` saying how
   ``info["task"]`` is encoded (:class:`BetaTask`, :class:`CategoricalTask`, :class:`MultiCategoricalTask`,
   :class:`GaussianTask`); the agents build their likelihood head from it.
3. **Meta-episodes of fixed length.** One gymnasium episode is one meta-episode (possibly several inner
   episodes of one task); it ends after the same number of steps for every task, so a batch of them ends
   together.
4. **Episode boundaries** (optional): ``info["boundary"]`` is True at the first step of each inner episode
   after the first. Agents read it as an input.
5. **Spaces:** a flat ``Box`` observation space; a ``Discrete`` or ``Box`` action space.
6. **Observation groups** (optional): ``env.unwrapped.observation_groups`` maps group names to
   ``(start, stop)`` columns of the observation; the feedforward and hierarchical agents route groups to the
   modules allowed to read them (information asymmetry). Without it the observation is one group,
   ``observation``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from belief_rl.envs.task_specs import TaskSpec


class ContractError(ValueError):
    """An environment does not meet the belief_rl environment contract."""


def check_contract(env: gymnasium.vector.VectorEnv, env_id: str = "the environment") -> TaskSpec:
    """Check a vector env against the contract on one reset and one random step; returns its task spec.

    Raises:
        ContractError: naming the first broken clause, on one line.
    """
    spec = getattr(env.unwrapped, "task_spec", None)
    if not isinstance(spec, TaskSpec):
        raise ContractError(f"{env_id} has no task spec: set env.task_spec to a belief_rl.envs TaskSpec "
                            "(BetaTask, CategoricalTask, MultiCategoricalTask or GaussianTask)")
    obs_space = env.single_observation_space
    if not isinstance(obs_space, gymnasium.spaces.Box) or len(obs_space.shape) != 1:
        raise ContractError(f"{env_id} needs a flat Box observation space, got {obs_space}")
    if not isinstance(env.single_action_space, (gymnasium.spaces.Box, gymnasium.spaces.Discrete)):
        raise ContractError(f"{env_id} needs a Discrete or Box action space, got {env.single_action_space}")
    _, info = env.reset(seed=0)
    _check_task(info, spec, env.num_envs, env_id, "reset")
    _, _, _, _, info = env.step(env.action_space.sample())
    _check_task(info, spec, env.num_envs, env_id, "step")
    return spec


def _check_task(info: dict[str, Any], spec: TaskSpec, num_envs: int, env_id: str, where: str) -> None:
    if "task" not in info:
        raise ContractError(f"{env_id} returns no info['task'] from {where}(): "
                            "the task must be revealed there")
    task = np.asarray(info["task"])
    if task.shape != (num_envs, *spec.shape):
        raise ContractError(f"{env_id}: info['task'] from {where}() has shape {task.shape[1:]} per env, "
                            f"its task spec {spec} says {spec.shape}")
    if not np.issubdtype(task.dtype, np.number):
        raise ContractError(f"{env_id}: info['task'] must be numeric, got dtype {task.dtype}")
