"""The agent protocol shared by every learner.

An agent sees history, never the task: its per-step input is (observation,
previous action, previous reward, episode-boundary flag), encoded by
:meth:`Agent.encode_inputs`. Learners drive agents through three calls:

* ``initial_state(batch)`` – recurrent state at the start of a meta-episode;
* ``act(inputs, state)`` – one step for the whole batch (no gradients);
* ``evaluate(batch, with_aux)`` – a differentiable pass over whole sequences
  returning the policy's log-probabilities, entropies and values plus (if
  ``with_aux``) the agent's own auxiliary losses (task log-likelihood,
  bottleneck KL), already weighted. Learners may ask for the auxiliary losses on
  fewer passes than the RL loss, which lets an agent skip work it only needs for
  them (the belief agent's recurrent pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Distribution

from belief_rl.networks.action_heads import ActionHead, action_encoding_dim, encode_action_reward
from belief_rl.networks.recurrent import State


@dataclass
class ActOutput:
    """What one acting step returns besides the new recurrent state."""

    action: torch.Tensor
    log_prob: torch.Tensor
    value: torch.Tensor
    # Agent-specific tensors the learner stores with the step and hands back in
    # ``SequenceBatch.extras`` (e.g. the belief features the policy saw).
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class SequenceBatch:
    """Whole sequences, time-major: every tensor is ``[T, B, ...]``."""

    inputs: torch.Tensor
    actions: torch.Tensor
    task: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class SequenceOutput:
    """Differentiable outputs of :meth:`Agent.evaluate`, each ``[T, B]`` or scalar."""

    log_prob: torch.Tensor
    entropy: torch.Tensor
    value: torch.Tensor
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class Agent(nn.Module):
    """Base class: input encoding plus the protocol every agent implements."""

    action_head: ActionHead

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.Space) -> None:
        super().__init__()
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(f"agents need a flat Box observation space, got {observation_space}")
        self.obs_dim = int(observation_space.shape[0])
        self.action_space = action_space
        self.input_dim = self.obs_dim + action_encoding_dim(action_space) + 2

    def encode_inputs(self, obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor,
                      boundary: torch.Tensor) -> torch.Tensor:
        """Concatenate ``(obs, enc(prev_action), prev_reward, boundary)`` into ``[..., D]``.

        At a boundary (the first step of an episode) the previous action and reward
        belong to the last episode; they are kept, since across episodes of one
        meta-episode they still carry information about the task.
        """
        return torch.cat([obs.float(), encode_action_reward(prev_action, prev_reward, self.action_space), prev_reward.float().unsqueeze(-1),
                          boundary.float().unsqueeze(-1)], dim=-1)

    def observation(self, inputs: torch.Tensor) -> torch.Tensor:
        """The current observation inside an encoded input."""
        return inputs[..., : self.obs_dim]

    def initial_state(self, batch_size: int) -> State:
        raise NotImplementedError

    def act(self, inputs: torch.Tensor, state: State, deterministic: bool = False) -> tuple[ActOutput, State]:
        raise NotImplementedError

    def evaluate(self, batch: SequenceBatch, with_aux: bool = True) -> SequenceOutput:
        raise NotImplementedError

    def gradient_groups(self) -> list[list[nn.Parameter]]:
        """Parameter groups whose gradients are clipped separately.

        Losses that train disjoint modules (e.g. a belief network trained only by
        the task loss) must not share one clipping norm, or the larger one would
        shrink the other's updates.
        """
        return [list(self.parameters())]

    def belief(self, inputs: torch.Tensor) -> Distribution | None:
        """``q(task | history)`` at every step of ``inputs [T, B, D]``, or None if the agent has no task head."""
        return None

    def _sample(self, dist: Distribution, deterministic: bool) -> torch.Tensor:
        return self.action_head.mode(dist) if deterministic else dist.sample()
