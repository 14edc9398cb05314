"""A trained agent as a policy for gymnasium environments: :func:`load` a run, then ``reset``,
``act``, ``belief``.

The agent reads the whole history (observation, previous action, previous reward, episode-boundary flag),
carries a recurrent state, and, for agents with a task head, a belief ``q(task | history)``. :class:`Policy`
keeps all of that, so acting is one call per step::

    policy = belief_rl.load("runs/demo")
    obs, info = env.reset(seed=0)
    policy.reset()
    action = policy.act(obs)                                # first step of the meta-episode
    obs, reward, terminated, truncated, info = env.step(action)
    action = policy.act(obs, reward, info=info)             # the reward of the previous step
    policy.belief()                                         # q(task | history) as a torch Distribution
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.distributions import Distribution

from belief_rl.agents import Agent
from belief_rl.config import TrainConfig
from belief_rl.errors import BeliefRLError
from belief_rl.networks.recurrent import State
from belief_rl.runs import load_agent


class Policy:
    """A trained agent acting in one env (single observations) or a batch of envs (``[num_envs, ...]``)."""

    def __init__(self, agent: Agent, config: TrainConfig | None = None) -> None:
        self.agent = agent.eval()
        self.config = config
        self._state: State | None = None
        self._num_envs = 1
        self._single = True

    @property
    def action_space(self) -> gym.Space:
        """The action space of one env."""
        return self.agent.action_space

    @property
    def has_belief(self) -> bool:
        """Whether the agent has a task head, i.e. :meth:`belief` is defined."""
        return self.agent.belief_head is not None

    def reset(self, num_envs: int | None = None, autoreset: str = "next_step") -> None:
        """Start new meta-episodes: ``num_envs`` None for one env (single observations), else a batch.

        ``autoreset`` says how the vector env starts the next meta-episode after one ends (see :meth:`act`):
        ``"next_step"`` (gymnasium's default, and the belief_rl envs') or ``"same_step"``.
        """
        if autoreset not in ("next_step", "same_step"):
            raise ValueError(f"autoreset must be 'next_step' or 'same_step', got {autoreset!r}")
        self._single = num_envs is None
        self._num_envs = 1 if num_envs is None else int(num_envs)
        if self._num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self._autoreset = autoreset
        self._state = self.agent.initial_state(self._num_envs)
        self._prev_action = torch.zeros((self._num_envs, *self.action_space.shape),
                                        dtype=torch.long if isinstance(self.action_space, gym.spaces.Discrete)
                                        else torch.float32)
        self._prev_reward = torch.zeros(self._num_envs)
        self._step = torch.zeros(self._num_envs, dtype=torch.long)
        self._fresh = torch.ones(self._num_envs, dtype=torch.bool)  # no step taken yet in this meta-episode

    @torch.no_grad()
    def act(self, obs: Any, reward: Any = None, done: Any = None, info: dict[str, Any] | None = None,
            deterministic: bool = False) -> Any:
        """The action for ``obs``, having seen ``reward`` (the previous step's; needed after a meta-episode's
        first step) and ``info`` (its ``"boundary"`` flags episode starts inside the meta-episode).

        ``done`` is the previous step's ``terminated | truncated``: where True, that env's meta-episode ended.
        With ``"next_step"`` autoreset ``obs`` is its last observation, the action returned is ignored by the
        env, and the policy starts afresh at the next call; with ``"same_step"`` ``obs`` is already the first
        observation of the next meta-episode. ``deterministic`` takes each action distribution's mode instead
        of sampling. Returns an action of the env's action space (one per env for a batch).
        """
        if self._state is None:
            raise RuntimeError("call reset() before act()")
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(self._num_envs, -1)
        ended = (torch.as_tensor(np.asarray(done, dtype=bool)).reshape(self._num_envs) if done is not None
                 else torch.zeros(self._num_envs, dtype=torch.bool))
        if self._autoreset == "same_step":
            self._restart(ended)
        if reward is None and not bool((self._fresh | ended).all()):
            raise ValueError("act() needs the previous step's reward after the first step of a meta-episode")
        boundary = self._fresh.clone()
        if info is not None and "boundary" in info:
            boundary |= torch.as_tensor(np.asarray(info["boundary"], dtype=bool)).reshape(self._num_envs)
        if reward is not None:
            reward_t = torch.as_tensor(np.asarray(reward, dtype=np.float32)).reshape(self._num_envs)
            self._prev_reward = torch.where(self._fresh, torch.zeros(()), reward_t)
        inputs = self.agent.encode_inputs(obs_t, self._prev_action, self._prev_reward, boundary.float(),
                                          self._step)
        out, self._state = self.agent.act(inputs, self._state, deterministic)
        self._prev_action = out.action
        self._step += 1
        self._fresh[:] = False
        if self._autoreset == "next_step":
            self._restart(ended)  # this step's action goes nowhere; the next observation starts afresh
        action = out.action.numpy()
        if isinstance(self.action_space, gym.spaces.Discrete):
            return int(action[0]) if self._single else action
        return action[0] if self._single else action

    def _restart(self, done: torch.Tensor) -> None:
        """Forget the meta-episodes of the envs marked ``done``."""
        if not bool(done.any()):
            return
        initial = self.agent.initial_state(self._num_envs)
        self._state = tuple(torch.where(done.unsqueeze(-1), start, current)
                            for start, current in zip(initial, self._state))
        self._prev_action = torch.where(done.view(-1, *[1] * (self._prev_action.dim() - 1)),
                                        torch.zeros_like(self._prev_action), self._prev_action)
        self._prev_reward = torch.where(done, torch.zeros(()), self._prev_reward)
        self._step = torch.where(done, torch.zeros((), dtype=torch.long), self._step)
        self._fresh |= done

    @torch.no_grad()
    def belief(self) -> Distribution:
        """``q(task | history)`` after the last :meth:`act` (before any, the prior belief of an empty history
        is undefined: call ``act`` first), as a ``torch.distributions.Distribution`` with batch shape ``()``
        for one env and ``(num_envs,)`` for a batch. Its event shape is the task's (``(K,)`` Betas on a
        K-armed bandit, one categorical per NumPad position), except for a grid belief
        (``agent.task_grid_bins``), a categorical over grid cells: score points with
        ``policy.agent.belief_head.log_prob(belief, x)``.
        The bottleneck embedding is taken at its mean."""
        if not self.has_belief:
            raise BeliefRLError(f"the {type(self.agent).__name__} has no task head, so it has no belief")
        if self._state is None or bool(self._fresh.all()):
            raise RuntimeError("call act() first: the belief is read after the agent has seen an observation")
        state = tuple(s[0] for s in self._state) if self._single else self._state
        return self.agent.belief_from_state(state)


def load(run_dir: str | Path) -> Policy:
    """The trained agent of a run directory (``config.json`` + ``checkpoint.pt``) as a :class:`Policy`."""
    agent, config, _ = load_agent(Path(run_dir))
    return Policy(agent, config)
