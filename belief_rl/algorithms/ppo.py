"""Recurrent PPO over whole meta-episodes.

Each update collects one meta-episode per environment, computes GAE advantages,
and runs ``update_epochs`` passes of the clipped objective over minibatches of
*environments* (whole sequences, so recurrent agents backpropagate through the
entire meta-episode). The agent's auxiliary losses (task log-likelihood,
bottleneck KL) are optimized on the same data in the same step.
"""

from __future__ import annotations

import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import nn

from belief_rl.agents.base import Agent, SequenceBatch
from belief_rl.config import PPOConfig
from belief_rl.rollout import Rollout


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
                gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation over ``[T, B]`` tensors.

    ``dones[t]`` marks that the step ``t`` ended the episode, so nothing is
    bootstrapped past it; ``last_value`` bootstraps an unfinished final step.
    Returns ``(advantages, returns)`` with ``returns = advantages + values``.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(rewards.shape[0])):
        not_done = 1.0 - dones[t].to(rewards.dtype)
        delta = rewards[t] + gamma * next_value * not_done - values[t]
        running = delta + gamma * lam * not_done * running
        advantages[t] = running
        next_value = values[t]
    return advantages, advantages + values


def _select_envs(batch: SequenceBatch, index: torch.Tensor) -> SequenceBatch:
    return SequenceBatch(batch.inputs[:, index], batch.actions[:, index], batch.task[:, index],
                         {k: v[:, index] for k, v in batch.extras.items()})


class PPO:
    """Clipped-objective PPO for agents implementing :class:`belief_rl.agents.Agent`.

    ``num_threads`` is the CPU budget of the update. When ``config.overlap_aux`` holds, the agent's
    auxiliary losses train a network of their own (:attr:`Agent.auxiliary_losses_separate`) and
    ``num_threads >= 2``, :meth:`update` computes the auxiliary pass (forward and backward) in a second thread
    while the calling thread computes the policy and critic pass, splitting ``num_threads`` between the two
    (torch's thread count is restored when the update returns). The gradients are those of one combined
    backward pass, since the two passes touch disjoint parameters. The small matrix products of a minibatch
    of 32 sequences do not keep two intra-op threads busy; two passes side by side do.
    """

    def __init__(self, agent: Agent, config: PPOConfig, num_threads: int | None = None) -> None:
        self.agent = agent
        self.config = config
        self.optimizer = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5)
        self.ent_coef = config.ent_coef
        self._aux_worker: ThreadPoolExecutor | None = None
        self._update_threads: int | None = None  # the calling thread's share while the worker runs
        overlap = config.overlap_aux and agent.auxiliary_losses_separate
        if overlap and num_threads is not None and num_threads >= 2:
            aux_threads = num_threads // 2
            self._update_threads = num_threads - aux_threads
            self._aux_worker = ThreadPoolExecutor(1, thread_name_prefix="ppo-aux",
                                                  initializer=torch.set_num_threads, initargs=(aux_threads,))
            weakref.finalize(self, self._aux_worker.shutdown, wait=False)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])

    def set_progress(self, fraction_done: float) -> None:
        """Linear annealing over the run: learning rate to zero, entropy weight to ``ent_coef_final``."""
        remaining = min(max(1.0 - fraction_done, 0.0), 1.0)
        if self.config.anneal_lr:
            for group in self.optimizer.param_groups:
                group["lr"] = self.config.learning_rate * remaining
        if self.config.ent_coef_final is not None:
            final = self.config.ent_coef_final
            self.ent_coef = final + (self.config.ent_coef - final) * remaining

    def update(self, rollout: Rollout, generator: torch.Generator | None = None) -> dict[str, float]:
        """One PPO update on a rollout of whole meta-episodes; returns mean metrics."""
        cfg = self.config
        advantages, returns = compute_gae(rollout.rewards, rollout.values, rollout.dones,
                                          torch.zeros_like(rollout.values[-1]), cfg.gamma, cfg.gae_lambda)
        num_envs = rollout.rewards.shape[1]
        totals: dict[str, list[float]] = {}
        threads = torch.get_num_threads()
        if self._update_threads is not None:
            torch.set_num_threads(self._update_threads)
        try:
            for epoch in range(cfg.update_epochs):
                order = torch.randperm(num_envs, generator=generator)
                for index in order.chunk(cfg.num_minibatches):
                    metrics = self._minibatch_step(_select_envs(rollout.batch, index),
                                                   rollout.log_probs[:, index], advantages[:, index],
                                                   returns[:, index], with_aux=epoch < cfg.aux_epochs)
                    for key, value in metrics.items():
                        totals.setdefault(key, []).append(value)
        finally:
            torch.set_num_threads(threads)
        return {key: float(np.mean(values)) for key, values in totals.items()}

    def _auxiliary_step(self, batch: SequenceBatch) -> dict[str, float]:
        """The auxiliary losses' forward and backward pass alone (run in the second thread)."""
        out = self.agent.sequence_features(batch, with_aux=True)
        sum(out.aux_losses.values(), torch.zeros(())).backward()
        return out.metrics

    def _minibatch_step(self, batch: SequenceBatch, old_log_probs: torch.Tensor, advantages: torch.Tensor,
                        returns: torch.Tensor, with_aux: bool) -> dict[str, float]:
        cfg = self.config
        self.optimizer.zero_grad(set_to_none=True)
        aux_future = None
        if with_aux and self._aux_worker is not None:
            aux_future = self._aux_worker.submit(self._auxiliary_step, batch)
            with_aux = False
        try:
            out = self.agent.evaluate(batch, with_aux)
            if cfg.norm_adv:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            log_ratio = out.log_prob - old_log_probs
            ratio = log_ratio.exp()
            policy_loss = torch.max(-advantages * ratio,
                                    -advantages * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()
            value_loss = 0.5 * (out.value - returns).pow(2).mean()
            entropy = out.entropy.mean()
            aux_loss = sum(out.aux_losses.values(), torch.zeros(()))
            loss = policy_loss + cfg.vf_coef * value_loss - self.ent_coef * entropy + aux_loss
            loss.backward()
        finally:  # never step (or leave) while the other thread still writes gradients
            aux_metrics = aux_future.result() if aux_future is not None else {}
        grad_norm = sum(float(nn.utils.clip_grad_norm_(group, cfg.max_grad_norm))
                        for group in self.agent.gradient_groups())
        self.optimizer.step()
        with torch.no_grad():
            approx_kl = ((ratio - 1) - log_ratio).mean().item()
            clip_fraction = ((ratio - 1).abs() > cfg.clip_coef).float().mean().item()
        return {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item(),
                "approx_kl": approx_kl, "clip_fraction": clip_fraction, "grad_norm": grad_norm,
                **out.metrics, **aux_metrics}
