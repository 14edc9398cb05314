"""Agents for multi-task RL with the task observed, regularized towards a learned default policy π0.

Two agents on the same parts (Tirumala et al., "Exploiting hierarchy for learning and transfer in
KL-regularized RL"), both learned with SVG(0) and both without memory (the task is in the observation):

* ``feedforward``: a flat tanh-Gaussian policy π(a | x_H) on the observation groups ``high_inputs``;
  with ``hierarchy.prior=distral`` a flat Gaussian default policy π0(a | x_0) on ``prior_inputs``
  (the DISTRAL baseline), else entropy regularization only.
* ``hierarchical``: π(a, z | x) = π^H(z | x_H) π^L(a | z, x_L). π^H reads ``high_inputs`` (the task
  among them), π^L only z and ``low_inputs`` (e.g. proprioception). The default policy is π0^H(z | z_{t−1})
  (isotropic, AR(1) or a learned AR, never the observation) with π0^L = π^L (``shared_low``) or a separate
  π0^L(a | z, x_L). The critic is Q(x, z, a).

Which observation groups a module reads is configuration (``hierarchy.*_inputs``) over the groups the
environment declares in ``observation_groups``; an environment that declares none is one group named
``observation``. The modules are named for transfer: ``high`` (π^H or the flat policy), ``low`` (π^L) and
``prior`` (everything of π0 that has parameters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Independent, Normal

from belief_rl.agents.base import ActOutput, Agent, FeatureOutput, PolicyOutput, SequenceBatch
from belief_rl.config import AUTOREGRESSIVE_PRIORS, AgentConfig, HierarchyConfig
from belief_rl.envs.task_specs import TaskSpec
from belief_rl.hierarchy.priors import GaussianActionPrior, HighLevelPrior, make_high_prior, two_level_kl
from belief_rl.hierarchy.routing import ObservationRouter, all_groups
from belief_rl.networks.action_heads import DiagonalGaussianHead, SquashedGaussianActionHead, SquashedNormal
from belief_rl.networks.critics import TwinQCritic
from belief_rl.networks.recurrent import State

#: The name of the single group of an environment that declares no observation groups.
WHOLE_OBSERVATION = "observation"


@dataclass
class LatentSample:
    """The latents of a hierarchical policy over sequences ``[T, B, Z]``, resampled on the current π^H.

    ``high`` is π^H(z | x_t) at every step; ``previous`` the latent the prior conditions on (the one drawn
    at the previous resampling step); ``start`` marks the first draw of a meta-episode and ``resampled``
    the steps at which z is drawn (every ``latent_period`` steps; held in between).
    """

    z: torch.Tensor
    high: Independent
    previous: torch.Tensor
    start: torch.Tensor
    resampled: torch.Tensor

    def detached(self) -> LatentSample:
        """The same latents with no gradient path into π^H (for distilling the prior)."""
        return LatentSample(self.z.detach(), _detached(self.high), self.previous.detach(), self.start,
                            self.resampled)


def _detached(dist: Independent) -> Independent:
    return Independent(Normal(dist.mean.detach(), dist.stddev.detach()), 1)


class HighLevelPolicy(DiagonalGaussianHead):
    """π^H(z | x_H): a diagonal Gaussian over the latent."""


class LatentPolicyAgent(Agent):
    """The ``feedforward`` and ``hierarchical`` agents (see the module docstring)."""

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.Space, task_spec: TaskSpec,
                 config: AgentConfig, critic: str, hierarchy: HierarchyConfig,
                 observation_groups: dict[str, tuple[int, int]] | None = None) -> None:
        super().__init__(observation_space, action_space, critic, config.time_scale)
        if critic != "q" or not isinstance(action_space, gym.spaces.Box):
            raise ValueError(f"the {config.kind} agent learns with SVG(0): it needs twin Q critics and a Box "
                             "action space")
        self.hierarchy = hierarchy
        self.hierarchical = config.kind == "hierarchical"
        groups = observation_groups or {WHOLE_OBSERVATION: (0, self.obs_dim)}
        action_dim = int(action_space.shape[0])
        self.high_router = ObservationRouter(groups, all_groups(groups, hierarchy.high_inputs))
        self.high: nn.Module
        self.low: nn.Module | None = None
        self.high_prior: HighLevelPrior | None = None
        self.low_prior: GaussianActionPrior | None = None
        self.flat_prior: GaussianActionPrior | None = None
        self.latent_size = hierarchy.latent_size if self.hierarchical else 0
        self.high_reads_latent = False
        if self.hierarchical:
            # The paper's histories include the latents: under an autoregressive prior, π^H also reads the
            # previous latent, without which it could not follow the prior's dynamics (a memoryless π^H
            # pays a KL floor of ~0.3 nats per latent dimension against AR(1) with α = 0.9).
            self.high_reads_latent = hierarchy.prior in AUTOREGRESSIVE_PRIORS
            high_in = self.high_router.dim + (self.latent_size if self.high_reads_latent else 0)
            self.high = HighLevelPolicy(high_in, hierarchy.high_hidden, self.latent_size)
            self.low_router = ObservationRouter(groups, hierarchy.low_inputs)
            low_in = self.latent_size + self.low_router.dim
            self.low = SquashedGaussianActionHead(low_in, hierarchy.low_hidden, action_space)
            self.high_prior = make_high_prior(hierarchy)
            if not hierarchy.shared_low:
                self.low_prior = GaussianActionPrior(low_in, hierarchy.low_hidden, action_dim)
            self.action_head = self.low
        else:
            self.high = SquashedGaussianActionHead(self.high_router.dim, hierarchy.high_hidden, action_space)
            if hierarchy.prior == "distral":
                self.prior_router = ObservationRouter(groups, hierarchy.prior_inputs)
                self.flat_prior = GaussianActionPrior(self.prior_router.dim, hierarchy.prior_hidden,
                                                      action_dim)
            self.action_head = self.high
        self.critic = TwinQCritic(self.policy_obs_dim + self.latent_size, action_dim, hierarchy.critic_hidden)

    # -- module groups -----------------------------------------------------------------------------
    def modules_named(self, name: str) -> list[nn.Module]:
        """The modules a transfer setting names: ``high`` (π^H or the flat policy), ``low`` (π^L) or ``prior``
        (all of π0: with a shared low level that includes π^L, which is π0^L)."""
        if name == "high":
            return [self.high]
        if name == "low":
            return [self.low] if self.low is not None else []
        if name == "prior":
            shared_low = self.low if self.hierarchical and self.hierarchy.shared_low else None
            parts = (self.high_prior, self.low_prior, shared_low, self.flat_prior)
            return [m for m in parts if m is not None]
        raise ValueError(f"unknown module {name!r}; choose high, low or prior")

    def actor_parameters(self) -> list[nn.Parameter]:
        return [p for name in ("high", "low") for m in self.modules_named(name) for p in m.parameters()]

    def prior_parameters(self) -> list[nn.Parameter]:
        """The parameters only π0 has: trained by distillation alone, never by the RL losses (a shared low
        level is the policy's and learns by RL)."""
        return [p for m in (self.high_prior, self.low_prior, self.flat_prior) if m is not None
                for p in m.parameters()]

    def gradient_groups(self) -> list[list[nn.Parameter]]:
        return [self.actor_parameters(), list(self.critic.parameters())]

    @property
    def has_learned_prior(self) -> bool:
        return self.hierarchical or self.flat_prior is not None

    @property
    def rl_trains_torso(self) -> bool:
        return False  # no torso: the critic and the policy read the observation itself

    # -- the torso is the observation --------------------------------------------------------------
    def initial_state(self, batch_size: int) -> State:
        """The latent held from the last draw and the steps since the meta-episode began."""
        return torch.zeros(batch_size, self.latent_size), torch.zeros(batch_size, dtype=torch.long)

    def step_features(self, inputs: torch.Tensor, state: State,
                      deterministic: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor], State]:
        return self.observation(inputs), {}, state

    def sequence_features(self, batch: SequenceBatch, with_aux: bool = True) -> FeatureOutput:
        return FeatureOutput(self.observation(batch.inputs))

    # -- acting and learning -----------------------------------------------------------------------
    @torch.no_grad()
    def act(self, inputs: torch.Tensor, state: State, deterministic: bool = False) -> tuple[ActOutput, State]:
        features = self.observation(inputs)
        previous, step = state
        if self.hierarchical:
            high = self._high(self.high_router(self.env_observation(inputs)), previous)
            drawn = high.mean if deterministic else high.sample()
            resample = (step % self.hierarchy.latent_period == 0).unsqueeze(-1)
            z = torch.where(resample, drawn, previous)
            dist = self.low_policy(z, inputs)
        else:
            z = previous
            dist = self.high(self.high_router(self.env_observation(inputs)))
        action = dist.mode if deterministic else dist.sample()
        value = self.q_values(self._with_latent(features, z), action).min(-1).values
        # The behaviour log-probability: by default π^L(a | z, x) at the acted latent; with marginal_samples
        # the paper's μ(a | x), which does not depend on the latent the actor happened to draw.
        if self.hierarchical and self.hierarchy.marginal_samples and not deterministic:
            log_prob = self._marginal_log_prob(high, inputs, action)
        else:
            log_prob = dist.log_prob(action)
        return ActOutput(action, log_prob, value), (z, step + 1)

    def retrace_log_prob(self, policy: PolicyOutput, features: torch.Tensor,
                         actions: torch.Tensor) -> torch.Tensor:
        if self.hierarchical and self.hierarchy.marginal_samples:
            return self._marginal_log_prob(policy.latent.high, features, actions)
        return policy.dist.log_prob(actions)

    def _marginal_log_prob(self, high: Independent, features: torch.Tensor,
                           actions: torch.Tensor) -> torch.Tensor:
        """log π(a | x) = log E_{z∼π^H}[π^L(a | z, x)], a Monte Carlo mean over ``marginal_samples`` latents.

        On-policy, π^L(a | fresh z, x) / π^L(a | acted z, x) is below 1 on average (the action was drawn
        for the acted latent), so truncated traces are cut even with no policy change; the ratio of the
        marginals is 1 there. The mean of densities is unbiased; its log is biased low by O(1 / M).
        """
        samples = self.hierarchy.marginal_samples
        z = high.sample((samples,))
        low = self.low_policy(z, features.expand(samples, *features.shape))
        log_probs = low.log_prob(actions.expand(samples, *actions.shape))
        return torch.logsumexp(log_probs, dim=0) - math.log(samples)

    def policy(self, features: torch.Tensor) -> PolicyOutput:
        """π over whole sequences of features ``[T, B, F]``: for the hierarchical agent, fresh
        reparameterized latents from the current π^H (held for ``latent_period`` steps) and π^L given them.

        The latent the prior conditions on is detached: the KL at step t shapes π^H at step t only.
        """
        high_input = self.high_router(self.env_observation(features))
        if not self.hierarchical:
            return PolicyOutput(self.high(high_input))
        steps = torch.arange(high_input.shape[0])
        period = self.hierarchy.latent_period
        last_draw = steps - steps % period
        if self.high_reads_latent:
            high, drawn, previous = self._draw_in_turn(high_input, period)
        else:
            high = self.high(high_input)
            drawn = high.rsample()
            previous = drawn[(last_draw - period).clamp(min=0)].detach()
        batch_shape = drawn.shape[:-1]
        latent = LatentSample(z=drawn[last_draw], high=high, previous=previous,
                              start=(last_draw == 0).view(-1, 1).expand(batch_shape),
                              resampled=(steps % period == 0).view(-1, 1).expand(batch_shape))
        return PolicyOutput(self.low_policy(latent.z, features), latent)

    def _high(self, high_input: torch.Tensor, previous: torch.Tensor) -> Independent:
        """π^H given its observation groups (and the previous latent, if it reads it)."""
        if self.high_reads_latent:
            high_input = torch.cat([high_input, previous], dim=-1)
        return self.high(high_input)

    def _draw_in_turn(self, high_input: torch.Tensor,
                      period: int) -> tuple[Independent, torch.Tensor, torch.Tensor]:
        """Latents drawn one after the other, each π^H reading the (detached) previous draw: ``(π^H at every
        step, the draws, the latent each step's prior conditions on)``, all ``[T, ...]``."""
        previous = torch.zeros(*high_input.shape[1:-1], self.latent_size)
        means, stds, draws, previous_at = [], [], [], []
        for t in range(high_input.shape[0]):
            if t % period == 0:
                dist = self._high(high_input[t], previous)
                z = dist.rsample()
                last_previous, previous = previous, z.detach()
            means.append(dist.mean)
            stds.append(dist.stddev)
            draws.append(z)
            previous_at.append(last_previous)
        high = Independent(Normal(torch.stack(means), torch.stack(stds)), 1)
        return high, torch.stack(draws), torch.stack(previous_at)

    def low_policy(self, z: torch.Tensor, features: torch.Tensor) -> SquashedNormal:
        """π^L(a | z, x_L) for latents ``[..., Z]`` and features ``[..., F]``."""
        return self.low(torch.cat([z, self.low_router(self.env_observation(features))], dim=-1))

    def low_prior_policy(self, z: torch.Tensor, features: torch.Tensor) -> Independent | None:
        """A separate π0^L's Gaussian over pre-squash actions, or None when the low level is shared."""
        if self.low_prior is None:
            return None
        return self.low_prior(torch.cat([z, self.low_router(self.env_observation(features))], dim=-1))

    def _with_latent(self, features: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([features, z], dim=-1) if self.hierarchical else features

    def prior_kl(self, policy: PolicyOutput, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """This agent's π0 against ``policy`` at every step ``[T, B]``: ``{"kl_high", "kl_low"}`` (the two
        terms of the bound) for the hierarchical agent, ``{"kl": ...}`` for the flat DISTRAL prior.

        The high-level term counts only at the steps where z is drawn (a held latent costs nothing).
        """
        if not self.hierarchical:
            if self.flat_prior is None:
                raise ValueError("this agent has no learned prior")
            prior = self.flat_prior(self.prior_router(self.env_observation(features)))
            return {"kl": torch.distributions.kl_divergence(policy.dist.base, prior)}
        latent = policy.latent
        kl_high, kl_low = two_level_kl(latent.high, self.high_prior(latent.previous, latent.start),
                                       policy.dist.base, self.low_prior_policy(latent.z, features))
        return {"kl_high": kl_high * latent.resampled, "kl_low": kl_low}

    @property
    def latent_period(self) -> int:
        return self.hierarchy.latent_period
