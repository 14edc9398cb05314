"""Agents sharing one protocol (see :mod:`belief_rl.agents.base`)."""

from __future__ import annotations

import gymnasium as gym

from belief_rl.agents.base import CRITICS, ActOutput, Agent, FeatureOutput, SequenceBatch, SequenceOutput
from belief_rl.agents.belief import BeliefAgent
from belief_rl.agents.recurrent import AuxHeadAgent, RNNAgent
from belief_rl.config import AgentConfig
from belief_rl.envs.task_specs import TaskSpec

AGENTS: dict[str, type[Agent]] = {"belief": BeliefAgent, "rnn": RNNAgent, "aux_head": AuxHeadAgent}


def make_agent(config: AgentConfig, observation_space: gym.spaces.Box, action_space: gym.Space,
               task_spec: TaskSpec, critic: str = "value") -> Agent:
    """Build the agent named by ``config.kind`` with a state-value (``"value"``) or twin-Q (``"q"``)
    critic."""
    return AGENTS[config.kind](observation_space, action_space, task_spec, config, critic)


__all__ = ["AGENTS", "CRITICS", "ActOutput", "Agent", "AuxHeadAgent", "BeliefAgent", "FeatureOutput",
           "RNNAgent", "SequenceBatch", "SequenceOutput", "make_agent"]
