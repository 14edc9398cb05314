"""The agent protocol shared by every learner.

An agent sees history, never the task: its per-step input is (observation,
previous action, previous reward, episode-boundary flag), encoded by
:meth:`Agent.encode_inputs`. Every agent is a *torso* that turns history into
features, an ``action_head`` (features → action distribution) and a ``critic``.
A subclass implements two torso passes:

* ``step_features(inputs, state)`` – one step for the whole batch while acting;
* ``sequence_features(batch, with_aux)`` – a differentiable pass over whole
  sequences, plus (if ``with_aux``) the agent's own auxiliary losses (task
  log-likelihood, bottleneck KL), already weighted. Learners may ask for the
  auxiliary losses on fewer passes than the RL loss, which lets an agent skip
  work it only needs for them (the belief agent's recurrent pass).

On these the base class builds what learners call: ``initial_state``, ``act``
(no gradients), ``evaluate`` (PPO: log-probabilities, entropies, state values)
and ``q_values`` (off-policy learners: twin action values). Which critic an
agent has – a state value ``V(features)`` for PPO or twin ``Q(features, action)``
for SVG(0) – is chosen at construction (``critic="value"`` or ``"q"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Distribution

from belief_rl.networks.action_heads import (
    ActionHead,
    action_encoding_dim,
    encode_action_reward,
    make_action_head,
)
from belief_rl.networks.critics import TwinQCritic
from belief_rl.networks.mlp import mlp
from belief_rl.networks.recurrent import State
from belief_rl.task_heads import TaskHead

CRITICS = ("value", "q")


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
class FeatureOutput:
    """What :meth:`Agent.sequence_features` returns: ``features [T, B, F]`` and auxiliary losses."""

    features: torch.Tensor
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    # Entropy of q(task | history) at every step ``[T, B]``, detached: set with the auxiliary losses by
    # agents with a task head (learners may reward the information the agent gains, see SVGConfig).
    belief_entropy: torch.Tensor | None = None


@dataclass
class PolicyOutput:
    """π over replayed sequences, as an off-policy learner uses it: the action distribution and, for a
    policy with a latent (:mod:`belief_rl.agents.latent`), the latents it is conditioned on."""

    dist: Distribution
    latent: Any = None

    def with_latent(self, features: torch.Tensor) -> torch.Tensor:
        """What the critic reads: ``features``, with the latent appended (detached: the actor's gradient
        reaches Q through the action only)."""
        return features if self.latent is None else torch.cat([features, self.latent.z.detach()], dim=-1)


@dataclass
class SequenceOutput:
    """Differentiable outputs of :meth:`Agent.evaluate`, each ``[T, B]`` or scalar."""

    log_prob: torch.Tensor
    entropy: torch.Tensor
    value: torch.Tensor
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class Agent(nn.Module):
    """Base class: input encoding, heads, and the protocol every agent implements."""

    action_head: ActionHead
    critic: nn.Module

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.Space, critic: str = "value",
                 time_scale: float = 0.0) -> None:
        super().__init__()
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(f"agents need a flat Box observation space, got {observation_space}")
        if critic not in CRITICS:
            raise ValueError(f"unknown critic {critic!r}; choose one of {', '.join(CRITICS)}")
        self.obs_dim = int(observation_space.shape[0])
        self.action_space = action_space
        self.critic_kind = critic
        self.time_scale = time_scale
        # What a feed-forward policy sees besides the belief: the observation, plus the time feature.
        self.policy_obs_dim = self.obs_dim + (1 if time_scale > 0 else 0)
        self.input_dim = self.policy_obs_dim + action_encoding_dim(action_space) + 2

    def build_heads(self, feature_dim: int, hidden: tuple[int, ...]) -> None:
        """The default actor and critic MLPs on ``feature_dim`` torso features."""
        self.action_head = make_action_head(self.action_space, feature_dim, hidden,
                                            squashed=self.critic_kind == "q")
        if self.critic_kind == "q":
            self.critic = TwinQCritic(feature_dim, int(self.action_space.shape[0]), hidden)
        else:
            self.critic = mlp(feature_dim, hidden, 1)

    def encode_inputs(self, obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor,
                      boundary: torch.Tensor, step: int | torch.Tensor = 0) -> torch.Tensor:
        """Concatenate ``(obs, [step / time_scale], enc(prev_action), prev_reward, boundary)`` into
        ``[..., D]``.

        At a boundary (the first step of an episode) the previous action and reward
        belong to the last episode; they are kept, since across episodes of one
        meta-episode they still carry information about the task. ``step`` counts
        steps since the meta-episode began: a function of the history's length, so
        it reveals nothing about the task, but without it a feed-forward critic
        cannot tell how much of a finite meta-episode is left. It is one int for the batch, or one per
        row.
        """
        parts = [obs.float()]
        if self.time_scale > 0:
            steps = torch.as_tensor(step, dtype=torch.float64).expand(obs.shape[:-1])
            parts.append((steps / self.time_scale).float().unsqueeze(-1))
        parts += [encode_action_reward(prev_action, prev_reward, self.action_space),
                  prev_reward.float().unsqueeze(-1), boundary.float().unsqueeze(-1)]
        return torch.cat(parts, dim=-1)

    def observation(self, inputs: torch.Tensor) -> torch.Tensor:
        """What a policy sees besides the belief: the current observation (and time feature, if enabled)."""
        return inputs[..., : self.policy_obs_dim]

    def retrace_log_prob(self, policy: PolicyOutput, features: torch.Tensor,
                         actions: torch.Tensor) -> torch.Tensor:
        """log π(a | state) ``[T, B]`` of replayed ``actions`` in Retrace's importance weights: the policy's
        own density (an agent with latents may marginalize them, as its behaviour log-probabilities do)."""
        return policy.dist.log_prob(actions)

    def env_observation(self, inputs: torch.Tensor) -> torch.Tensor:
        """The environment's observation inside an encoded input."""
        return inputs[..., : self.obs_dim]

    @property
    def rl_trains_torso(self) -> bool:
        """Whether RL losses train the torso (then off-policy learners need target copies of it)."""
        return True

    @property
    def auxiliary_losses_separate(self) -> bool:
        """Whether the auxiliary losses train only parameters that the RL losses never reach, and the RL
        pass needs nothing from the auxiliary one (given the features stored at acting time): then a learner
        may run the two passes concurrently."""
        return not self.rl_trains_torso

    def training_batch(self, batch: SequenceBatch, generator: torch.Generator | None = None) -> SequenceBatch:
        """A replayed batch as an off-policy learner trains on it (unchanged unless the agent marks it up,
        e.g. the belief agent's belief dropout). The learner passes the same batch to the target copy."""
        return batch

    # -- implemented by subclasses ---------------------------------------------------------------
    def initial_state(self, batch_size: int) -> State:
        raise NotImplementedError

    def step_features(self, inputs: torch.Tensor, state: State,
                      deterministic: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor], State]:
        """One acting step: ``features [B, F]``, extras to store with the step, next state."""
        raise NotImplementedError

    def sequence_features(self, batch: SequenceBatch, with_aux: bool = True) -> FeatureOutput:
        """Features of whole sequences ``[T, B, F]`` (differentiable) and, if ``with_aux``, auxiliary
        losses."""
        raise NotImplementedError

    # -- built on the two torso passes -----------------------------------------------------------
    @torch.no_grad()
    def act(self, inputs: torch.Tensor, state: State, deterministic: bool = False) -> tuple[ActOutput, State]:
        """Sample (or, if ``deterministic``, take the mode of) one action per environment."""
        features, extras, state = self.step_features(inputs, state, deterministic)
        dist = self.action_head(features)
        action = self.action_head.mode(dist) if deterministic else dist.sample()
        if self.critic_kind == "q":
            value = self.q_values(features, action).min(-1).values
        else:
            value = self.critic(features).squeeze(-1)
        return ActOutput(action, dist.log_prob(action), value, extras), state

    def evaluate(self, batch: SequenceBatch, with_aux: bool = True) -> SequenceOutput:
        """PPO's pass: log-probabilities of the taken actions, entropies and state values ``[T, B]``."""
        if self.critic_kind != "value":
            raise ValueError("evaluate() needs an agent built with a state-value critic (critic='value')")
        out = self.sequence_features(batch, with_aux)
        dist = self.action_head(out.features)
        return SequenceOutput(dist.log_prob(batch.actions), dist.entropy(),
                              self.critic(out.features).squeeze(-1), out.aux_losses, out.metrics)

    def policy(self, features: torch.Tensor) -> PolicyOutput:
        """π at every step of sequence features ``[T, B, F]`` (off-policy learners)."""
        return PolicyOutput(self.action_head(features))

    def actor_parameters(self) -> list[nn.Parameter]:
        """What the actor loss trains (off-policy learners give it its own learning rate)."""
        return list(self.action_head.parameters())

    def prior_parameters(self) -> list[nn.Parameter]:
        """A learned default policy's parameters, trained by distillation alone (none by default)."""
        return []

    @property
    def has_learned_prior(self) -> bool:
        """Whether the agent carries a default policy π0 learned alongside it."""
        return False

    def q_values(self, features: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Twin ``Q(features, action)`` estimates ``[..., 2]``; actions are rescaled to [-1, 1] first."""
        head = self.action_head
        unit_action = (2 * action - (head.high + head.low)) / (head.high - head.low)
        return self.critic(features, unit_action)

    def gradient_groups(self) -> list[list[nn.Parameter]]:
        """Parameter groups whose gradients are clipped separately.

        Losses that train disjoint modules (e.g. a belief network trained only by
        the task loss) must not share one clipping norm, or the larger one would
        shrink the other's updates.
        """
        return [list(self.parameters())]

    def belief_parameters(self) -> list[nn.Parameter]:
        """Parameters trained by the auxiliary losses alone (none unless a belief network is kept apart
        from RL)."""
        return []

    def belief(self, inputs: torch.Tensor) -> Distribution | None:
        """``q(task | history)`` at every step of ``inputs [T, B, D]``, or None if the agent has no task
        head."""
        return None

    @property
    def belief_head(self) -> TaskHead | None:
        """The likelihood head that turns features into ``q(task | history)`` (None without a task head)."""
        return None

    def belief_from_state(self, state: State) -> Distribution | None:
        """``q(task | history)`` after the step that produced the recurrent ``state`` (as :meth:`act` returns
        it), with the state's batch shape; None if the agent has no task head."""
        return None
