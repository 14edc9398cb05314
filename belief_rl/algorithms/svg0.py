"""Off-policy SVG(0): a reparameterized actor-critic with Retrace(λ) targets over replayed meta-episodes.

Each iteration adds the freshly collected meta-episodes to a
:class:`~belief_rl.replay.SequenceReplay` and takes ``updates_per_rollout``
gradient steps, each on a batch of whole replayed meta-episodes:

* **Critic.** Twin Q-functions regress onto Retrace(λ) targets built from
  Polyak-averaged target networks: ``V(s) = E_π[min Q'(s, a)] − α·penalty``, traces
  truncated at ``λ·min(1, π/μ)`` against the stored behaviour log-probabilities.
* **Actor (SVG(0)).** ``a = f(ε; s)`` is sampled by reparameterization and the
  actor descends ``α·penalty(a) − min Q(s, a)``, so the policy gradient flows
  through the action into the critic. The critic is frozen for this term.
* **Torso and belief.** The recurrent torso of RNN/AuxHead agents (and the belief
  agent's policy memory) is trained by the critic loss – the actor reads detached
  features, as in SAC-AE, unless ``actor_grad_into_torso`` lets the actor's
  gradient through the action into it – and has a target copy; the belief network
  is trained only by its own task log-likelihood and bottleneck on the replayed
  histories – valid off-policy, because q(task | history) does not depend on which
  policy produced the history – so the target critic reads the online belief. It
  can take further steps of its own (``belief_updates_per_rollout``), on replay or
  on another policy's histories. An agent may mark a replayed batch up once for
  both the online and the target pass (:meth:`Agent.training_batch`: the belief
  agent's belief dropout).
* **Temperature.** α is fixed or tuned so the regularizer's penalty meets its
  target (entropy ≥ target entropy by default; a KL to a prior π0 plugs in via
  :class:`~belief_rl.algorithms.regularizers.PolicyRegularizer`).
* **Information reward.** With ``info_gain_coef`` η > 0, the rewards in the
  targets gain η times the drop of the entropy of the agent's task belief,
  recomputed on replay with the current belief network.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from belief_rl.agents.base import Agent, SequenceBatch
from belief_rl.algorithms.information import information_gain
from belief_rl.algorithms.regularizers import EntropyRegularizer, PolicyRegularizer
from belief_rl.algorithms.retrace import retrace_targets
from belief_rl.config import SVGConfig
from belief_rl.histories import sample_histories
from belief_rl.replay import SequenceReplay
from belief_rl.rollout import Rollout


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """Parameters of ``module`` take no gradients inside the block."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


class SVG0:
    """SVG(0) with Retrace for agents built with twin-Q critics (``critic="q"``)."""

    def __init__(self, agent: Agent, config: SVGConfig, regularizer: PolicyRegularizer | None = None,
                 belief_histories: SequenceBatch | None = None, prior_lr: float = 1e-3,
                 entropy_bonus: float = 0.0) -> None:
        """``belief_histories``: meta-episodes for the extra belief steps instead of the replay (e.g. a
        scripted explorer's, :func:`belief_rl.histories.scripted_histories`). An agent with a learned
        default policy is regularized towards it (:class:`~belief_rl.hierarchy.regularizer.
        LearnedPriorRegularizer`, distilled with ``prior_lr``, with an ``entropy_bonus`` on the actor)."""
        if agent.critic_kind != "q":
            raise ValueError("SVG(0) needs an agent built with twin Q critics (critic='q')")
        self.agent = agent
        self.config = config
        self.belief_histories = belief_histories
        action_dim = int(agent.action_space.shape[0])
        target_entropy = -float(action_dim) if config.target_entropy is None else config.target_entropy
        self.target_agent = copy.deepcopy(agent).requires_grad_(False)
        if agent.has_learned_prior:
            if regularizer is not None:
                raise ValueError("an agent with a learned default policy takes no other prior")
            # Imported here: the hierarchy package builds on the agents, which this module does not need.
            from belief_rl.hierarchy.regularizer import LearnedPriorRegularizer

            regularizer = LearnedPriorRegularizer(agent, self.target_agent, prior_lr, entropy_bonus,
                                                  config.target_kl)
        self.regularizer = regularizer or EntropyRegularizer(target_entropy)
        self.replay = SequenceReplay(config.replay_capacity)
        actor_params = agent.actor_parameters()
        actor_ids = {id(p) for p in actor_params}
        # Every other group of the agent (torso + critic, the belief network) is clipped on its own.
        other_groups = [[p for p in group if id(p) not in actor_ids] for group in agent.gradient_groups()]
        self.gradient_groups = [actor_params] + [group for group in other_groups if group]
        self.optimizer = torch.optim.Adam([{"params": actor_params, "lr": config.actor_lr},
                                           {"params": [p for g in self.gradient_groups[1:] for p in g],
                                            "lr": config.critic_lr}])
        self.log_alpha = torch.tensor(float(np.log(config.init_alpha)), requires_grad=True)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=config.alpha_lr)

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    def set_progress(self, fraction_done: float) -> None:
        """Linear learning-rate annealing to zero over the run (a learned prior's too), if ``anneal_lr``; else
        constant rates."""
        if self.config.anneal_lr:
            for group, base in zip(self.optimizer.param_groups,
                                   (self.config.actor_lr, self.config.critic_lr)):
                group["lr"] = base * max(1.0 - fraction_done, 0.0)
            self.regularizer.set_progress(fraction_done)

    def update(self, rollout: Rollout, generator: torch.Generator | None = None) -> dict[str, float]:
        """Store the rollout's meta-episodes, then take ``updates_per_rollout`` gradient steps."""
        self.replay.add(rollout, self._replay_extras(rollout.batch.inputs))
        if self.replay.size < max(self.config.warmup_episodes, 1):
            return {"replay_size": float(self.replay.size)}
        totals: dict[str, list[float]] = {}
        for _ in range(self.config.updates_per_rollout):
            batch, data = self.replay.sample(self.config.batch_size, generator)
            batch = self.agent.training_batch(batch, generator)
            metrics = self.gradient_step(batch, data["log_probs"], data["rewards"], data["dones"],
                                         data.get("regularizer_context"))
            for key, value in metrics.items():
                totals.setdefault(key, []).append(value)
        for _ in range(self.config.belief_updates_per_rollout):
            if self.belief_histories is None:
                belief_metrics = self.belief_step(self.replay.sample(self.config.batch_size, generator)[0])
            else:
                belief_metrics = self.belief_step(
                    sample_histories(self.belief_histories, self.config.batch_size, generator))
            # Logged apart from the RL steps' own belief losses: these steps train on other batches.
            for key, value in belief_metrics.items():
                totals.setdefault(f"belief_step_{key}", []).append(value)
        metrics = {key: float(np.mean(values)) for key, values in totals.items()}
        metrics["replay_size"] = float(self.replay.size)
        return metrics

    def belief_step(self, batch: SequenceBatch) -> dict[str, float]:
        """One step of the belief network alone on its own losses over replayed sequences.

        Valid on any replayed history: the task posterior does not depend on the policy that acted.
        """
        params = self.agent.belief_parameters()
        if not params:
            raise ValueError("this agent has no belief network trained apart from RL")
        out = self.agent.sequence_features(batch, with_aux=True)
        self.optimizer.zero_grad(set_to_none=True)
        sum(out.aux_losses.values(), torch.zeros(())).backward()
        nn.utils.clip_grad_norm_(params, self.config.max_grad_norm)
        self.optimizer.step()  # only the belief's parameters hold gradients, so Adam moves only them
        return out.metrics

    def _context(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """The regularizer's per-step context of agent inputs ``[..., D]`` (None if it needs none)."""
        return self.regularizer.context(self.agent.env_observation(inputs))

    def _replay_extras(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """What replay stores besides the rollout: the regularizer's per-step context, if it has one that
        is worth computing once."""
        if not self.regularizer.cache_context:
            return {}
        context = self._context(inputs)
        return {} if context is None else {"regularizer_context": context}

    def gradient_step(self, batch: SequenceBatch, behaviour_log_probs: torch.Tensor, rewards: torch.Tensor,
                      dones: torch.Tensor, context: torch.Tensor | None = None) -> dict[str, float]:
        """One actor, critic, torso/belief and temperature step on ``[T, B]`` replayed sequences.

        ``context`` is the regularizer's context of the batch's states (computed here if not given).
        """
        cfg, agent = self.config, self.agent
        alpha = self.log_alpha.exp().detach()
        if context is None:
            context = self._context(batch.inputs)
        out = agent.sequence_features(batch, with_aux=True)
        detached_features = out.features.detach()  # the state as the actor's Q term and the targets see it
        # Latents, if the policy has them, are drawn afresh from the current policy (no importance weight).
        policy = agent.policy(out.features if cfg.actor_grad_into_torso else detached_features)
        dist = policy.dist
        info_metrics: dict[str, float] = {}
        if cfg.info_gain_coef > 0:
            if out.belief_entropy is None:
                raise ValueError("info_gain_coef needs an agent with a task belief (belief or aux_head)")
            bonus = cfg.info_gain_coef * information_gain(out.belief_entropy)
            rewards = rewards + bonus
            info_metrics["info_bonus"] = bonus.sum(0).mean().item()

        with torch.no_grad():
            # A belief trained only by its own losses needs no target copy: the online belief
            # is as stable a target input, and skipping the second recurrent pass halves its cost.
            if agent.rl_trains_torso:
                target_features = self.target_agent.sequence_features(batch, with_aux=False).features
            else:
                target_features = detached_features
            target_features = policy.with_latent(target_features)
            next_action, next_log_prob = dist.rsample_with_log_prob()
            values = self.target_agent.q_values(target_features, next_action).min(-1).values
            if cfg.penalty_in_target:
                values = values - alpha * self.regularizer.penalty(dist, next_action, next_log_prob, context,
                                                                   policy.latent)
            q_taken = self.target_agent.q_values(target_features, batch.actions).min(-1).values
            if cfg.retrace_correction:
                log_pis = agent.retrace_log_prob(policy, detached_features, batch.actions)
                log_rhos = log_pis - behaviour_log_probs
            else:  # every trace is λ: the uncorrected λ-return
                log_rhos = torch.zeros_like(rewards)
            discounts = cfg.gamma * (1.0 - dones.float())
            targets = retrace_targets(rewards, discounts, q_taken, values, log_rhos, cfg.retrace_lambda,
                                      torch.zeros_like(rewards[-1]))

        q = agent.q_values(policy.with_latent(out.features), batch.actions)
        critic_loss = 0.5 * (q - targets.unsqueeze(-1)).pow(2).sum(-1).mean()

        action, log_prob = dist.rsample_with_log_prob()
        with _frozen(agent.critic):
            q_new = agent.q_values(policy.with_latent(detached_features), action).min(-1).values
        actor_penalty = self.regularizer.penalty(dist, action, log_prob, context, policy.latent)
        actor_loss = (alpha * actor_penalty - q_new - self.regularizer.actor_bonus(log_prob)).mean()

        aux_loss = sum(out.aux_losses.values(), torch.zeros(()))
        self.optimizer.zero_grad(set_to_none=True)
        (critic_loss + actor_loss + aux_loss).backward()
        grad_norms = [float(nn.utils.clip_grad_norm_(group, cfg.max_grad_norm))
                      for group in self.gradient_groups]
        self.optimizer.step()
        prior_metrics = self.regularizer.distill(policy, context)

        if cfg.auto_alpha:
            alpha_loss = -(self.log_alpha * (actor_penalty.detach().mean() - self.regularizer.target))
            self.alpha_optimizer.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_optimizer.step()
        self._update_target()
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(), "alpha": float(alpha),
                "penalty": actor_penalty.mean().item(), "q_mean": q.mean().item(),
                "target_mean": targets.mean().item(),
                "trace_mean": (cfg.retrace_lambda * log_rhos.exp().clamp(max=1.0)).mean().item(),
                "actor_grad_norm": grad_norms[0], **info_metrics, **prior_metrics, **out.metrics}

    @torch.no_grad()
    def _update_target(self) -> None:
        for target, online in zip(self.target_agent.parameters(), self.agent.parameters()):
            target.lerp_(online, self.config.tau)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(),
                "alpha_optimizer": self.alpha_optimizer.state_dict(),
                "log_alpha": self.log_alpha.detach().clone(), "target_agent": self.target_agent.state_dict(),
                "replay": self.replay.state_dict(), "regularizer": self.regularizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.target_agent.load_state_dict(state["target_agent"])
        self.replay.load_state_dict(state["replay"])
        self.regularizer.load_state_dict(state.get("regularizer", {}))
        # A replay saved before contexts were stored.
        if self.regularizer.cache_context and "regularizer_context" not in self.replay.fields:
            self.replay.add_field("regularizer_context", self._context)
