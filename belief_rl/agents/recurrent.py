"""Baselines with one shared recurrent torso.

* :class:`RNNAgent` (RL²): the torso's state feeds actor and critic heads; no task
  supervision at all.
* :class:`AuxHeadAgent`: the same, plus a task head on the torso trained with the
  task log-likelihood as an auxiliary loss, so task inference *shapes* the
  representation the policy uses instead of being its explicit input.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from torch.distributions import Distribution

from belief_rl.agents.base import Agent, FeatureOutput, SequenceBatch
from belief_rl.config import AgentConfig
from belief_rl.envs.task_specs import TaskSpec
from belief_rl.networks import RecurrentCore
from belief_rl.networks.recurrent import State
from belief_rl.task_heads import TaskHead, make_task_head


class RNNAgent(Agent):
    """RL²: a recurrent actor-critic trained by the RL loss alone."""

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.Space, task_spec: TaskSpec,
                 config: AgentConfig, critic: str = "value") -> None:
        super().__init__(observation_space, action_space, critic, config.time_scale)
        self.config = config
        self.core = RecurrentCore(self.input_dim, config.hidden_size, config.cell, config.embed_dim)
        self.build_heads(config.hidden_size, config.policy_hidden)

    def initial_state(self, batch_size: int) -> State:
        return self.core.initial_state(batch_size)

    def step_features(self, inputs: torch.Tensor, state: State,
                      deterministic: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor], State]:
        hidden, state = self.core.step(inputs, state)
        return hidden, {}, state

    def sequence_features(self, batch: SequenceBatch, with_aux: bool = True) -> FeatureOutput:
        hidden, _ = self.core.sequence(batch.inputs, self.initial_state(batch.inputs.shape[1]))
        output = FeatureOutput(hidden)
        if with_aux:
            self._add_aux_losses(hidden, batch, output)
        return output

    def _add_aux_losses(self, hidden: torch.Tensor, batch: SequenceBatch, output: FeatureOutput) -> None:
        """Hook for subclasses that supervise the torso."""


class AuxHeadAgent(RNNAgent):
    """RL² torso shaped by an auxiliary task-prediction head."""

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.Space, task_spec: TaskSpec,
                 config: AgentConfig, critic: str = "value") -> None:
        super().__init__(observation_space, action_space, task_spec, config, critic)
        self.task_head = make_task_head(task_spec, config.hidden_size, config.task_grid_bins)

    def _add_aux_losses(self, hidden: torch.Tensor, batch: SequenceBatch, output: FeatureOutput) -> None:
        belief = self.task_head.distribution(hidden)
        task_nll = -self.task_head.log_prob(belief, batch.task).mean()
        output.aux_losses["task_nll"] = self.config.task_loss_coef * task_nll
        output.metrics["task_nll"] = task_nll.item()
        output.belief_entropy = belief.entropy().detach()

    def belief(self, inputs: torch.Tensor) -> Distribution:
        hidden, _ = self.core.sequence(inputs, self.initial_state(inputs.shape[1]))
        return self.task_head.distribution(hidden)

    @property
    def belief_head(self) -> TaskHead:
        return self.task_head

    def belief_from_state(self, state: State) -> Distribution:
        return self.task_head.distribution(state[0])  # the cell's output is its new hidden state
