"""Agents sharing one protocol (see :mod:`belief_rl.agents.base`)."""

from __future__ import annotations

import gymnasium as gym

from belief_rl.agents.base import (
    CRITICS,
    ActOutput,
    Agent,
    FeatureOutput,
    PolicyOutput,
    SequenceBatch,
    SequenceOutput,
)
from belief_rl.agents.belief import BeliefAgent
from belief_rl.agents.latent import LatentPolicyAgent
from belief_rl.agents.recurrent import AuxHeadAgent, RNNAgent
from belief_rl.config import LATENT_AGENT_KINDS, AgentConfig, HierarchyConfig
from belief_rl.envs.task_specs import TaskSpec

AGENTS: dict[str, type[Agent]] = {"belief": BeliefAgent, "rnn": RNNAgent, "aux_head": AuxHeadAgent,
                                  "feedforward": LatentPolicyAgent, "hierarchical": LatentPolicyAgent}


def make_agent(config: AgentConfig, observation_space: gym.spaces.Box, action_space: gym.Space,
               task_spec: TaskSpec, critic: str = "value", hierarchy: HierarchyConfig | None = None,
               observation_groups: dict[str, tuple[int, int]] | None = None) -> Agent:
    """Build the agent named by ``config.kind`` with a state-value (``"value"``) or twin-Q (``"q"``)
    critic. The feedforward and hierarchical agents also take the ``hierarchy`` settings and the env's
    ``observation_groups``."""
    if config.kind in LATENT_AGENT_KINDS:
        return LatentPolicyAgent(observation_space, action_space, task_spec, config, critic,
                                 hierarchy or HierarchyConfig(), observation_groups)
    return AGENTS[config.kind](observation_space, action_space, task_spec, config, critic)


__all__ = ["AGENTS", "CRITICS", "ActOutput", "Agent", "AuxHeadAgent", "BeliefAgent", "FeatureOutput",
           "LatentPolicyAgent", "PolicyOutput", "RNNAgent", "SequenceBatch", "SequenceOutput", "make_agent"]
