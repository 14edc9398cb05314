"""The belief agent: a supervised task-inference network feeding a policy and critic.

The belief network reads the history and is trained only by the auxiliary
task-prediction loss (log-likelihood of ``info["task"]``) and the information
bottleneck. Its belief – the posterior's parameters or the bottleneck sample –
together with the current observation is the input of separate actor and critic
MLPs. By default RL gradients stop at the belief, which keeps the belief a pure
function of the history (and trainable off-policy); ``rl_grad_into_belief`` lets
them through. With ``policy_memory`` a recurrent core trained by RL sits between
the belief and the heads, so the policy can also remember its own search.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Distribution

from belief_rl.agents.base import Agent, FeatureOutput, SequenceBatch
from belief_rl.config import AgentConfig
from belief_rl.envs.task_specs import TaskSpec
from belief_rl.networks import GaussianBottleneck, RecurrentCore
from belief_rl.networks.componentwise import ComponentwiseCategoricalHead, ComponentwiseCritic
from belief_rl.networks.recurrent import State
from belief_rl.task_heads import TaskHead, make_task_head


class BeliefNetwork(nn.Module):
    """History → recurrent state → stochastic embedding z → ``q(task | history)``.

    The task head reads z directly, so everything it knows passed the bottleneck.
    """

    def __init__(self, input_dim: int, task_spec: TaskSpec, config: AgentConfig) -> None:
        super().__init__()
        self.core = RecurrentCore(input_dim, config.hidden_size, config.cell, config.embed_dim)
        self.bottleneck = GaussianBottleneck(config.hidden_size, config.latent_dim)
        self.head = make_task_head(task_spec, config.latent_dim, config.task_grid_bins)

    def embed(self, hidden: torch.Tensor, noise: torch.Tensor | None) -> tuple[Distribution, torch.Tensor]:
        """Bottleneck distribution and the embedding ``z = μ + σ·noise`` (``noise=None``: the mean)."""
        posterior = self.bottleneck(hidden)
        if noise is None:
            return posterior, posterior.mean
        return posterior, posterior.mean + posterior.stddev * noise

    def task_distribution(self, z: torch.Tensor) -> Distribution:
        return self.head.distribution(z)


class BeliefAgent(Agent):
    """Belief network + actor-critic on (belief, observation)."""

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.Space, task_spec: TaskSpec,
                 config: AgentConfig, critic: str = "value") -> None:
        super().__init__(observation_space, action_space, critic, config.time_scale)
        self.config = config
        self.belief_net = BeliefNetwork(self.input_dim, task_spec, config)
        # How many tensors of a joint recurrent state belong to the belief network (GRU: h; LSTM: h, c).
        self._belief_state_size = len(self.belief_net.core.initial_state(1))
        head = self.belief_net.head
        belief_dim = head.feature_dim if config.policy_input == "posterior" else config.latent_dim
        self.belief_dim = belief_dim
        policy_in = belief_dim + self.policy_obs_dim
        self.policy_core = None
        if config.policy_memory:
            self.policy_core = RecurrentCore(belief_dim + self.input_dim, config.policy_memory, config.cell,
                                             config.embed_dim)
            self.build_heads(config.policy_memory + (policy_in if config.memory_skip else 0),
                             config.policy_hidden)
        elif config.policy_head == "componentwise":
            _check_componentwise(head.num_components, action_space, config, critic)
            args = (head.component_features, belief_dim, belief_dim // head.num_components,
                    self.policy_obs_dim, config.policy_hidden)
            self.action_head = ComponentwiseCategoricalHead(*args)
            self.critic = ComponentwiseCritic(*args)
        else:
            self.build_heads(policy_in, config.policy_hidden)

    @property
    def rl_trains_torso(self) -> bool:
        return self.config.rl_grad_into_belief or self.policy_core is not None

    def initial_state(self, batch_size: int) -> State:
        """The belief network's state, followed by the policy core's (if any)."""
        state = self.belief_net.core.initial_state(batch_size)
        return state if self.policy_core is None else state + self.policy_core.initial_state(batch_size)

    def _split_state(self, state: State) -> tuple[State, State]:
        """``(belief state, policy-core state)`` of a joint state."""
        return state[: self._belief_state_size], state[self._belief_state_size:]

    def training_batch(self, batch: SequenceBatch, generator: torch.Generator | None = None) -> SequenceBatch:
        """With ``belief_dropout``: marks each meta-episode, with that probability, as one whose memory sees
        only the prior belief (``extras["belief_hidden"]``, ``[T, B]``)."""
        if not self.config.belief_dropout:
            return batch
        num_sequences = batch.inputs.shape[1]
        hidden = torch.rand(num_sequences, generator=generator) < self.config.belief_dropout
        extras = {**batch.extras, "belief_hidden": hidden.expand(batch.inputs.shape[0], num_sequences)}
        return SequenceBatch(batch.inputs, batch.actions, batch.task, extras)

    def _hide_belief(self, policy_input: torch.Tensor, batch: SequenceBatch) -> torch.Tensor:
        """``policy_input`` with the belief of marked meta-episodes replaced by their first step's, the belief
        before any evidence."""
        hidden = batch.extras.get("belief_hidden")
        if hidden is None:
            return policy_input
        belief, observation = policy_input[..., : self.belief_dim], policy_input[..., self.belief_dim:]
        belief = torch.where(hidden.unsqueeze(-1), belief[:1].expand_as(belief), belief)
        return torch.cat([belief, observation], dim=-1)

    def _memory_input(self, policy_input: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """What the policy core reads: the belief and the agent's whole step input (observation, previous
        action and reward, boundary)."""
        return torch.cat([policy_input[..., : self.belief_dim], inputs], dim=-1)

    def _policy_input(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        if self.config.policy_input == "posterior":
            belief = self.belief_net.head.belief_features(self.belief_net.task_distribution(z))
        else:
            belief = z
        return torch.cat([belief, self.observation(inputs)], dim=-1)

    def step_features(self, inputs: torch.Tensor, state: State,
                      deterministic: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor], State]:
        belief_state, memory_state = self._split_state(state)
        hidden, belief_state = self.belief_net.core.step(inputs, belief_state)
        noise = None if deterministic else torch.randn(hidden.shape[0], self.config.latent_dim)
        _, z = self.belief_net.embed(hidden, noise)
        policy_input = self._policy_input(z, inputs)
        extras = {"policy_input": policy_input}
        if noise is not None:
            extras["bottleneck_noise"] = noise
        if self.policy_core is None:
            return policy_input, extras, belief_state
        memory, memory_state = self.policy_core.step(self._memory_input(policy_input, inputs), memory_state)
        return self._head_input(memory, policy_input), extras, belief_state + memory_state

    def sequence_features(self, batch: SequenceBatch, with_aux: bool = True) -> FeatureOutput:
        """The belief the policy saw (stored at acting time when available, else recomputed), run through
        the policy core if the agent has one.

        Replayed sequences carry no stored belief: it is recomputed with the current
        belief network and fresh bottleneck noise. Unless ``rl_grad_into_belief``,
        the belief is detached, so RL losses never train the belief network (they do
        train the policy core).
        """
        out = self._belief_features(batch, with_aux)
        if self.policy_core is not None:
            out.features = self._hide_belief(out.features, batch)
            memory_input = self._memory_input(out.features, batch.inputs)
            start = self.policy_core.initial_state(batch.inputs.shape[1])
            memory, _ = self.policy_core.sequence(memory_input, start)
            out.features = self._head_input(memory, out.features)
        return out

    def _head_input(self, memory: torch.Tensor, policy_input: torch.Tensor) -> torch.Tensor:
        """What the heads of an agent with a policy memory read: its output, and with ``memory_skip`` the
        belief and observation too."""
        return torch.cat([memory, policy_input], dim=-1) if self.config.memory_skip else memory

    def _belief_features(self, batch: SequenceBatch, with_aux: bool) -> FeatureOutput:
        """The policy's input ``(belief, observation)`` over whole sequences, with the belief's losses."""
        stored = batch.extras.get("policy_input")
        needs_pass = with_aux or stored is None or self.config.rl_grad_into_belief
        if not needs_pass:
            return FeatureOutput(stored)
        start = self.belief_net.core.initial_state(batch.inputs.shape[1])
        hidden, _ = self.belief_net.core.sequence(batch.inputs, start)
        noise = batch.extras.get("bottleneck_noise")
        if noise is None:
            noise = torch.randn(*hidden.shape[:-1], self.config.latent_dim)
        posterior, z = self.belief_net.embed(hidden, noise)
        if self.config.rl_grad_into_belief:
            features = self._policy_input(z, batch.inputs)
        elif stored is not None:
            features = stored
        else:
            features = self._policy_input(z, batch.inputs).detach()
        if not with_aux:
            return FeatureOutput(features)
        belief = self.belief_net.task_distribution(z)
        task_nll = -self.belief_net.head.log_prob(belief, batch.task).mean()
        kl = GaussianBottleneck.kl_to_standard_normal(posterior).mean()
        return FeatureOutput(features,
                             {"task_nll": self.config.task_loss_coef * task_nll,
                              "bottleneck_kl": self.config.ib_beta * kl},
                             {"task_nll": task_nll.item(), "bottleneck_kl": kl.item()},
                             belief.entropy().detach())

    def gradient_groups(self) -> list[list[nn.Parameter]]:
        belief_params = self.belief_parameters()
        if not belief_params:
            return super().gradient_groups()
        ids = {id(p) for p in belief_params}
        return [belief_params, [p for p in self.parameters() if id(p) not in ids]]

    def belief_parameters(self) -> list[nn.Parameter]:
        return [] if self.config.rl_grad_into_belief else list(self.belief_net.parameters())

    def belief(self, inputs: torch.Tensor) -> Distribution:
        hidden, _ = self.belief_net.core.sequence(inputs, self.belief_net.core.initial_state(inputs.shape[1]))
        _, z = self.belief_net.embed(hidden, None)
        return self.belief_net.task_distribution(z)

    @property
    def belief_head(self) -> TaskHead:
        return self.belief_net.head

    def belief_from_state(self, state: State) -> Distribution:
        # The recurrent cells' output is their new hidden state h, the first tensor of the belief state.
        _, z = self.belief_net.embed(self._split_state(state)[0][0], None)
        return self.belief_net.task_distribution(z)


def _check_componentwise(num_components: int | None, action_space: gym.Space, config: AgentConfig,
                         critic: str) -> None:
    """The componentwise head needs one posterior component per discrete action."""
    if critic != "value":
        raise ValueError("policy_head 'componentwise' is a discrete-action head for PPO; off-policy learners "
                         "need policy_head 'mlp'")
    if config.policy_input != "posterior":
        raise ValueError("policy_head 'componentwise' needs policy_input 'posterior'")
    if not isinstance(action_space, gym.spaces.Discrete) or num_components != int(action_space.n):
        raise ValueError(f"policy_head 'componentwise' needs one belief component per discrete action; "
                         f"got {num_components} components for action space {action_space}")
