"""Acting with a learned default policy π0 alone: what behavior the prior carries, without the task.

A learned prior is meant to capture task-agnostic behavior that is worth transferring (Tirumala et al.,
Sec. 7; the blog post's "what does the prior do by itself"). :class:`PriorActor` plays π0 in place of the
policy: for a hierarchical agent, latents drawn from π0^H (held for the agent's latent period) through
π0^L (π^L itself when the low level is shared); for a flat DISTRAL prior, its Gaussian over pre-squash
actions, squashed like the policy's. It has the acting interface :func:`belief_rl.rollout.collect_rollout`
uses, so any rollout or evaluation loop can play it.
"""

from __future__ import annotations

import torch

from belief_rl.agents.base import ActOutput, State
from belief_rl.agents.latent import LatentPolicyAgent
from belief_rl.networks.action_heads import SquashedNormal


class PriorActor:
    """Plays ``agent``'s default policy π0; values are zeros (π0 has no critic of its own)."""

    def __init__(self, agent: LatentPolicyAgent) -> None:
        if not agent.has_learned_prior:
            raise ValueError("this agent has no learned default policy to act with")
        self.agent = agent

    def initial_state(self, batch_size: int) -> State:
        return self.agent.initial_state(batch_size)

    def encode_inputs(self, obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor,
                      boundary: torch.Tensor, step: int | torch.Tensor = 0) -> torch.Tensor:
        return self.agent.encode_inputs(obs, prev_action, prev_reward, boundary, step)

    @torch.no_grad()
    def act(self, inputs: torch.Tensor, state: State, deterministic: bool = False) -> tuple[ActOutput, State]:
        agent = self.agent
        features = agent.observation(inputs)
        previous, step = state
        if agent.hierarchical:
            high = agent.high_prior(previous, step == 0)
            drawn = high.mean if deterministic else high.sample()
            resample = (step % agent.latent_period == 0).unsqueeze(-1)
            z = torch.where(resample, drawn, previous)
            low = agent.low_prior_policy(z, features)
            dist = agent.low_policy(z, features) if low is None else self._squashed(low)
        else:
            z = previous
            dist = self._squashed(agent.flat_prior(agent.prior_router(agent.env_observation(inputs))))
        action = dist.mode if deterministic else dist.sample()
        return ActOutput(action, dist.log_prob(action), torch.zeros(action.shape[0])), (z, step + 1)

    def _squashed(self, base: torch.distributions.Independent) -> SquashedNormal:
        """A Gaussian over pre-squash actions, squashed into the action box as the policy's actions are."""
        head = self.agent.action_head
        return SquashedNormal(base.base_dist.loc, base.base_dist.scale, head.low, head.high)
