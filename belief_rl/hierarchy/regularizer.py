"""KL regularization towards a default policy learned alongside the agent, by distillation.

The agent's policy and critic are regularized towards a *target copy* of π0 (the learner's Polyak-averaged
target agent holds it), as with the other target networks; the online π0 is trained by minimizing the same
KL over its own parameters, with the policy's distributions held fixed (distillation on replayed data;
Tirumala et al., Algorithm 2). Both use the latents the learner drew for its gradient step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import Distribution

from belief_rl.agents.base import Agent, PolicyOutput
from belief_rl.algorithms.regularizers import PolicyRegularizer


class LearnedPriorRegularizer(PolicyRegularizer):
    """Penalty ``KL(π ‖ π0_target)`` (the two-level bound for a hierarchical agent), an optional entropy bonus
    for the actor, and a distillation step for the online π0 after every gradient step."""

    #: The prior reads the observation at each gradient step; nothing to precompute into replay.
    cache_context = False

    def __init__(self, agent: Agent, target_agent: Agent, lr: float, entropy_bonus: float = 0.0,
                 target_kl: float = 1.0) -> None:
        if not agent.has_learned_prior:
            raise ValueError("this agent has no learned default policy to regularize towards")
        self.agent, self.target_agent = agent, target_agent
        self.target = float(target_kl)
        self.entropy_bonus = float(entropy_bonus)
        params = [p for p in agent.prior_parameters() if p.requires_grad]
        self.lr = float(lr)
        self.optimizer = torch.optim.Adam(params, lr=lr) if params else None

    def set_progress(self, fraction_done: float) -> None:
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr * max(1.0 - fraction_done, 0.0)

    def context(self, observation: torch.Tensor) -> torch.Tensor:
        return observation

    def penalty(self, dist: Distribution, action: torch.Tensor, log_prob: torch.Tensor,
                context: torch.Tensor | None, latent: Any = None) -> torch.Tensor:
        terms = self.target_agent.prior_kl(PolicyOutput(dist, latent), context)
        return sum(terms.values())

    def actor_bonus(self, log_prob: torch.Tensor) -> torch.Tensor:
        """The entropy bonus ``entropy_bonus · (−log π(a | ·))`` per state, added to the actor's objective."""
        return -self.entropy_bonus * log_prob

    def distill(self, policy: PolicyOutput, context: torch.Tensor) -> dict[str, float]:
        """One step of the online π0 towards the (fixed) policy on the learner's batch; returns the KL terms
        before the step."""
        fixed = PolicyOutput(policy.dist.detach(),
                             None if policy.latent is None else policy.latent.detached())
        terms = self.agent.prior_kl(fixed, context)
        loss = sum(term.mean() for term in terms.values())
        if self.optimizer is not None and loss.requires_grad:
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return {f"prior_{name}": term.mean().item() for name, term in terms.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict() if self.optimizer is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.optimizer is not None and state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
