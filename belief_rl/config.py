"""Typed, validated configuration for agents, learners and runs.

Every config is a dataclass that checks itself in ``__post_init__`` and raises a
one-line ``ValueError``; the CLI turns those into ``error: ...`` with exit code 2.
Configs round-trip through JSON (``to_dict`` / ``from_dict``) so a run directory's
``config.json`` fully describes the run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

AGENT_KINDS = ("belief", "rnn", "aux_head")
ALGORITHMS = ("ppo", "svg0")

T = TypeVar("T")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass
class AgentConfig:
    """Architecture of an agent (see :mod:`belief_rl.agents`)."""

    kind: str = "belief"
    cell: str = "gru"  # "gru" or "lstm"
    hidden_size: int = 128
    embed_dim: int = 128
    latent_dim: int = 64  # bottleneck size (belief agent)
    ib_beta: float = 0.0  # weight of KL(q(z|h) ‖ N(0, I)); 0 disables the bottleneck's pressure
    task_loss_coef: float = 1.0
    # > 0: a bounded real task (e.g. the Semicircle goal) is believed as a histogram over a grid of this many
    # cells per dimension instead of a diagonal Gaussian (see belief_rl.tasks.GridHead).
    task_grid_bins: int = 0
    policy_input: str = "posterior"  # belief agent: "posterior" (task-head parameters) or "embedding" (z)
    rl_grad_into_belief: bool = False
    # Belief agent: "mlp" over the flat belief, or "componentwise": one shared scorer per belief
    # component (needs one component per discrete action, e.g. a Beta per bandit arm).
    policy_head: str = "mlp"
    policy_hidden: tuple[int, ...] = (256, 256)
    # Belief agent: > 0 puts a recurrent core of this size, trained by RL like the RNN agent's torso, between
    # the belief and the actor-critic heads; it reads (belief, observation, previous action and reward), so
    # the policy can remember its own search (where it has been, what it tried) besides what the task belief
    # keeps. 0: feed-forward heads on (belief, observation).
    policy_memory: int = 0
    # With policy_memory: the heads also read (belief, observation) directly beside the memory's output, so
    # the belief need not survive the memory's recurrence to steer the action.
    memory_skip: bool = False
    # With policy_memory, off-policy (SVG(0)) training only: the probability that a replayed meta-episode's
    # belief reaches the memory as the prior belief (the belief before any evidence) at every step, so the
    # memory also learns to track the search itself instead of leaning on the belief alone. Acting always
    # sees the belief.
    belief_dropout: float = 0.0
    # > 0: every step's input also holds t / time_scale, t = steps since the meta-episode began.
    # Feed-forward critics on a belief need it to value finite meta-episodes (see Agent.encode_inputs).
    time_scale: float = 0.0

    def __post_init__(self) -> None:
        self.policy_hidden = tuple(int(h) for h in self.policy_hidden)
        _require(self.kind in AGENT_KINDS, f"unknown agent {self.kind!r}; choose one of {', '.join(AGENT_KINDS)}")
        _require(self.cell in ("gru", "lstm"), f"unknown recurrent cell {self.cell!r}; choose gru or lstm")
        for name in ("hidden_size", "embed_dim", "latent_dim"):
            _require(getattr(self, name) > 0, f"{name} must be positive, got {getattr(self, name)}")
        _require(self.ib_beta >= 0, f"ib_beta must be >= 0, got {self.ib_beta}")
        _require(self.task_loss_coef >= 0, f"task_loss_coef must be >= 0, got {self.task_loss_coef}")
        _require(self.policy_input in ("posterior", "embedding"),
                 f"policy_input must be 'posterior' or 'embedding', got {self.policy_input!r}")
        _require(self.policy_head in ("mlp", "componentwise"),
                 f"policy_head must be 'mlp' or 'componentwise', got {self.policy_head!r}")
        _require(self.policy_memory >= 0, f"policy_memory must be >= 0, got {self.policy_memory}")
        _require(self.policy_memory or not self.memory_skip, "memory_skip needs policy_memory > 0")
        _require(0 <= self.belief_dropout < 1, f"belief_dropout must be in [0, 1), got {self.belief_dropout}")
        _require(self.policy_memory or not self.belief_dropout, "belief_dropout needs policy_memory > 0")
        _require(not (self.policy_memory and self.policy_head == "componentwise"),
                 "policy_memory needs policy_head 'mlp' (the componentwise head reads the belief directly)")
        _require(all(h > 0 for h in self.policy_hidden), f"policy_hidden sizes must be positive: {self.policy_hidden}")
        _require(self.task_grid_bins == 0 or self.task_grid_bins >= 2,
                 f"task_grid_bins must be 0 (Gaussian belief) or >= 2, got {self.task_grid_bins}")
        _require(self.time_scale >= 0, f"time_scale must be >= 0, got {self.time_scale}")


@dataclass
class PPOConfig:
    """Recurrent PPO over whole meta-episodes (see :mod:`belief_rl.algorithms.ppo`)."""

    num_envs: int = 1024  # meta-episodes per rollout
    learning_rate: float = 1e-3
    anneal_lr: bool = True
    gamma: float = 1.0
    gae_lambda: float = 0.9
    clip_coef: float = 0.2
    ent_coef: float = 0.003
    vf_coef: float = 0.5
    max_grad_norm: float = 1.0
    update_epochs: int = 4
    aux_epochs: int = 1  # epochs (of update_epochs) that also optimize the agent's auxiliary losses
    num_minibatches: int = 4
    norm_adv: bool = True

    def __post_init__(self) -> None:
        _require(self.num_envs > 0, f"num_envs must be positive, got {self.num_envs}")
        _require(self.learning_rate > 0, f"learning_rate must be positive, got {self.learning_rate}")
        _require(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        _require(0 <= self.gae_lambda <= 1, f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        _require(self.clip_coef > 0, f"clip_coef must be positive, got {self.clip_coef}")
        _require(self.ent_coef >= 0 and self.vf_coef >= 0, "ent_coef and vf_coef must be >= 0")
        _require(self.max_grad_norm > 0, f"max_grad_norm must be positive, got {self.max_grad_norm}")
        _require(self.update_epochs > 0, f"update_epochs must be positive, got {self.update_epochs}")
        _require(0 < self.aux_epochs <= self.update_epochs,
                 f"aux_epochs must be in [1, update_epochs={self.update_epochs}], got {self.aux_epochs}")
        _require(0 < self.num_minibatches <= self.num_envs,
                 f"num_minibatches must be in [1, num_envs={self.num_envs}], got {self.num_minibatches}")


@dataclass
class SVGConfig:
    """Off-policy SVG(0) with Retrace(λ) targets over replayed meta-episodes (see :mod:`belief_rl.algorithms.svg0`)."""

    num_envs: int = 16  # meta-episodes collected per iteration
    replay_capacity: int = 1000  # meta-episodes kept in replay
    batch_size: int = 16  # meta-episodes per gradient step
    updates_per_rollout: int = 8  # gradient steps per iteration (the replay ratio)
    # Further steps per iteration on the belief network's own losses alone (task NLL + bottleneck), each
    # on a fresh replayed batch: a belief trained apart from RL can learn from replay faster than the
    # actor-critic (belief agent without rl_grad_into_belief only).
    belief_updates_per_rollout: int = 0
    # What those steps train on: "own" (the agent's replay) or "explorer" (a pool of belief_history_pool
    # meta-episodes of the env's scripted explorer, on training tasks, collected at the start; see
    # belief_rl.histories).
    belief_histories: str = "own"
    belief_history_pool: int = 256
    # η > 0: the reward of step t gains η·(H_t − H_{t+1}), the drop of the entropy of the agent's task belief
    # q(task | history) (agents with a task head; see belief_rl.algorithms.information).
    info_gain_coef: float = 0.0
    # Whether the actor's loss also trains the recurrent torso (RNN/AuxHead) or the belief agent's policy
    # memory, through the reparameterized action only (the Q term's dependence on the state features stays
    # detached). Off (the default): the torso learns from the critic alone, as in SAC-AE.
    actor_grad_into_torso: bool = False
    warmup_episodes: int = 64  # meta-episodes collected before the first gradient step
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4  # also the torso's and the belief network's learning rate
    alpha_lr: float = 3e-4
    # Linear decay of the actor, critic and belief learning rates to zero over the run (not α's).
    anneal_lr: bool = False
    gamma: float = 0.99
    retrace_lambda: float = 0.95
    tau: float = 0.005  # Polyak rate of the target networks
    init_alpha: float = 0.1
    auto_alpha: bool = True  # tune α so the regularizer's penalty meets its target
    target_entropy: float | None = None  # None: −(action dimensions)
    max_grad_norm: float = 10.0
    # A behavioral prior file (``belief-rl prior fit``): replaces the entropy term by α·KL(π ‖ π0),
    # with α tuned (if auto_alpha) to hold the KL near target_kl.
    prior: str = ""
    target_kl: float = 1.0
    # Whether α·penalty enters the soft Bellman target (soft Q-learning, SAC's default) or only the actor
    # loss. With a prior and a sparse reward, a penalty in the target makes states where the prior is
    # confident look costly (the policy's KL is largest there), which can drive the agent off the
    # demonstrated states before it has seen a reward.
    penalty_in_target: bool = True

    def __post_init__(self) -> None:
        _require(self.target_kl > 0, f"target_kl must be positive, got {self.target_kl}")
        for name in ("num_envs", "replay_capacity", "batch_size", "updates_per_rollout"):
            _require(getattr(self, name) > 0, f"{name} must be positive, got {getattr(self, name)}")
        _require(self.warmup_episodes >= 0, f"warmup_episodes must be >= 0, got {self.warmup_episodes}")
        _require(self.belief_updates_per_rollout >= 0,
                 f"belief_updates_per_rollout must be >= 0, got {self.belief_updates_per_rollout}")
        _require(self.belief_histories in ("own", "explorer"),
                 f"belief_histories must be 'own' or 'explorer', got {self.belief_histories!r}")
        _require(self.belief_histories == "own" or self.belief_updates_per_rollout > 0,
                 "belief_histories='explorer' trains the belief in its extra steps: set belief_updates_per_rollout > 0")
        _require(self.info_gain_coef >= 0, f"info_gain_coef must be >= 0, got {self.info_gain_coef}")
        _require(self.belief_history_pool > 0, f"belief_history_pool must be positive, got {self.belief_history_pool}")
        _require(self.warmup_episodes <= self.replay_capacity,
                 f"warmup_episodes ({self.warmup_episodes}) cannot exceed replay_capacity ({self.replay_capacity})")
        for name in ("actor_lr", "critic_lr", "alpha_lr", "init_alpha", "max_grad_norm"):
            _require(getattr(self, name) > 0, f"{name} must be positive, got {getattr(self, name)}")
        _require(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        _require(0 <= self.retrace_lambda <= 1, f"retrace_lambda must be in [0, 1], got {self.retrace_lambda}")
        _require(0 < self.tau <= 1, f"tau must be in (0, 1], got {self.tau}")


@dataclass
class TrainConfig:
    """One training run: environment, agent, learner, budget and bookkeeping."""

    env_id: str = "belief_rl/Bandit-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algorithm: str = "ppo"
    agent: AgentConfig = field(default_factory=AgentConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    svg0: SVGConfig = field(default_factory=SVGConfig)
    total_steps: int = 5_000_000
    seed: int = 0
    num_threads: int = 2
    checkpoint_every: int = 20  # updates between checkpoints
    eval_tasks: int = 2000  # held-out tasks for the periodic evaluation logged during training
    eval_every: int = 25  # updates between periodic evaluations
    # Periodic evaluations act with each action distribution's mode: the usual score on control tasks
    # with a fixed expert to compare against, where exploration noise only costs reward.
    eval_deterministic: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.agent, dict):
            self.agent = AgentConfig(**self.agent)
        if isinstance(self.ppo, dict):
            self.ppo = PPOConfig(**self.ppo)
        if isinstance(self.svg0, dict):
            self.svg0 = SVGConfig(**self.svg0)
        _require(self.algorithm in ALGORITHMS, f"unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        _require(self.total_steps > 0, f"total steps must be positive, got {self.total_steps}")
        _require(self.num_threads > 0, f"num_threads must be positive, got {self.num_threads}")
        _require(self.checkpoint_every > 0, f"checkpoint_every must be positive, got {self.checkpoint_every}")
        _require(self.eval_tasks > 0 and self.eval_every > 0, "eval_tasks and eval_every must be positive")
        _require(not self.svg0.prior or self.algorithm == "svg0",
                 "a behavioral prior (KL regularization) needs --algorithm svg0")
        _require(not self.svg0.belief_updates_per_rollout or self.algorithm == "svg0",
                 "svg0.belief_updates_per_rollout needs --algorithm svg0")
        _require(not self.svg0.belief_updates_per_rollout or (self.agent.kind == "belief"
                                                              and not self.agent.rl_grad_into_belief),
                 "svg0.belief_updates_per_rollout needs the belief agent with its belief trained apart from RL "
                 "(agent.rl_grad_into_belief=false)")
        _require(not self.agent.belief_dropout or self.algorithm == "svg0",
                 "agent.belief_dropout hides the belief from replayed meta-episodes: it needs --algorithm svg0")

        has_task_head = self.agent.kind in ("belief", "aux_head")
        _require(not self.svg0.info_gain_coef or (self.algorithm == "svg0" and has_task_head),
                 "svg0.info_gain_coef rewards the gain of a task belief: it needs --algorithm svg0 and the belief "
                 "or aux_head agent")

    @property
    def num_envs(self) -> int:
        """Meta-episodes collected per iteration by the configured learner."""
        return self.ppo.num_envs if self.algorithm == "ppo" else self.svg0.num_envs

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        _require(not unknown, f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**data)


def replace(config: T, **changes: Any) -> T:
    """``dataclasses.replace`` that re-runs validation."""
    return dataclasses.replace(config, **changes)
