"""Typed, validated configuration for agents, learners and runs.

Every config is a dataclass whose fields carry their help text (``belief-rl config show`` prints it) and that
checks itself in ``__post_init__``, raising a one-line ``ValueError``; the CLI turns those into
``error: ...`` with exit code 2. Configs round-trip through JSON (``to_dict`` / ``from_dict``) so a run
directory's ``config.json`` fully describes the run. :func:`apply_override` parses ``section.key=value``
assignments (the CLI's ``--set``) with the field's declared type.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

AGENT_KINDS = ("belief", "rnn", "aux_head", "feedforward", "hierarchical")
#: Agents for ordinary multi-task RL (the task observed): no memory, learned behavior priors.
LATENT_AGENT_KINDS = ("feedforward", "hierarchical")
ALGORITHMS = ("ppo", "svg0")


def setting(default: Any, help: str) -> Any:
    """A dataclass field with help text (mutable defaults are copied per instance)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass
class AgentConfig:
    """Architecture of an agent (see :mod:`belief_rl.agents`)."""

    kind: str = setting("belief", "agent: belief (belief network + policy), rnn (RL²), aux_head "
                                  "(RL² + task head), or, for multi-task RL with the task observed and "
                                  "SVG(0): feedforward (flat MLP policy) or hierarchical (two levels with a "
                                  "latent z; see the hierarchy section)")
    cell: str = setting("gru", "recurrent cell: gru or lstm")
    hidden_size: int = setting(128, "recurrent state size (belief network or RL² torso)")
    embed_dim: int = setting(128, "size of the input embedding before the recurrent cell")
    latent_dim: int = setting(64, "belief agent: size of the bottleneck embedding z")
    ib_beta: float = setting(0.0, "weight β of the bottleneck's KL(q(z|h) ‖ N(0, I)); 0 removes its pressure")
    task_loss_coef: float = setting(1.0, "weight of the task-prediction loss −log q(task | history)")
    task_grid_bins: int = setting(0, "> 0: believe a bounded real task (e.g. the Semicircle goal) as a "
                                     "histogram over a grid of this many cells per dimension, not a "
                                     "diagonal Gaussian")
    policy_input: str = setting("posterior", "belief agent: what the policy reads, posterior (the task "
                                             "head's parameters) or embedding (z)")
    rl_grad_into_belief: bool = setting(False, "belief agent: let RL gradients train the belief network too")
    policy_head: str = setting("mlp", "belief agent: mlp over the flat belief, or componentwise (one shared "
                                      "scorer per belief component; needs one component per discrete action)")
    policy_hidden: tuple[int, ...] = setting((256, 256), "hidden layer sizes of the actor and critic MLPs")
    policy_memory: int = setting(0, "belief agent: > 0 puts a recurrent core of this size, trained by RL, "
                                    "between the belief and the heads, so the policy can "
                                    "remember its own search")
    memory_skip: bool = setting(False, "with policy_memory: the heads also read "
                                       "(belief, observation) directly")
    belief_dropout: float = setting(0.0, "with policy_memory, SVG(0) only: probability that a replayed "
                                         "meta-episode reaches the memory with the prior "
                                         "belief at every step")
    time_scale: float = setting(0.0, "> 0: each input also holds t / time_scale (t = steps into the "
                                     "meta-episode), which feed-forward critics need to value "
                                     "finite meta-episodes")

    def __post_init__(self) -> None:
        self.policy_hidden = tuple(int(h) for h in self.policy_hidden)
        _require(self.kind in AGENT_KINDS,
                 f"unknown agent {self.kind!r}; choose one of {', '.join(AGENT_KINDS)}")
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
        _require(all(h > 0 for h in self.policy_hidden),
                 f"policy_hidden sizes must be positive: {self.policy_hidden}")
        _require(self.task_grid_bins == 0 or self.task_grid_bins >= 2,
                 f"task_grid_bins must be 0 (Gaussian belief) or >= 2, got {self.task_grid_bins}")
        _require(self.time_scale >= 0, f"time_scale must be >= 0, got {self.time_scale}")

@dataclass
class PPOConfig:
    """Recurrent PPO over whole meta-episodes (see :mod:`belief_rl.algorithms.ppo`)."""

    num_envs: int = setting(1024, "meta-episodes per rollout")
    learning_rate: float = setting(1e-3, "Adam learning rate")
    anneal_lr: bool = setting(True, "decay the learning rate linearly to zero over the run")
    gamma: float = setting(1.0, "discount factor")
    gae_lambda: float = setting(0.9, "GAE λ")
    clip_coef: float = setting(0.2, "PPO clipping range")
    ent_coef: float = setting(0.003, "entropy bonus weight")
    ent_coef_final: float | None = setting(None, "if set, the entropy weight moves linearly from ent_coef to "
                                                 "this over the run (Bayes-optimal play is deterministic)")
    vf_coef: float = setting(0.5, "value loss weight")
    max_grad_norm: float = setting(1.0, "gradient clipping norm (per gradient group)")
    update_epochs: int = setting(4, "passes over each rollout")
    aux_epochs: int = setting(1, "epochs (of update_epochs) that also optimize the agent's auxiliary losses")
    num_minibatches: int = setting(4, "minibatches of whole meta-episodes per epoch")
    norm_adv: bool = setting(True, "normalize advantages per minibatch")
    overlap_aux: bool = setting(True, "when the agent's auxiliary losses train a network of their own (the "
                                      "belief agent), run its pass in a second thread beside the policy and "
                                      "critic pass, each on half of num_threads (same gradients, less time)")

    def __post_init__(self) -> None:
        _require(self.num_envs > 0, f"num_envs must be positive, got {self.num_envs}")
        _require(self.learning_rate > 0, f"learning_rate must be positive, got {self.learning_rate}")
        _require(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        _require(0 <= self.gae_lambda <= 1, f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        _require(self.clip_coef > 0, f"clip_coef must be positive, got {self.clip_coef}")
        _require(self.ent_coef >= 0 and self.vf_coef >= 0, "ent_coef and vf_coef must be >= 0")
        _require(self.ent_coef_final is None or self.ent_coef_final >= 0,
                 f"ent_coef_final must be >= 0, got {self.ent_coef_final}")
        _require(self.max_grad_norm > 0, f"max_grad_norm must be positive, got {self.max_grad_norm}")
        _require(self.update_epochs > 0, f"update_epochs must be positive, got {self.update_epochs}")
        _require(0 < self.aux_epochs <= self.update_epochs,
                 f"aux_epochs must be in [1, update_epochs={self.update_epochs}], got {self.aux_epochs}")
        _require(0 < self.num_minibatches <= self.num_envs,
                 f"num_minibatches must be in [1, num_envs={self.num_envs}], got {self.num_minibatches}")

@dataclass
class SVGConfig:
    """Off-policy SVG(0) with Retrace(λ) targets over replayed meta-episodes
    (see :mod:`belief_rl.algorithms.svg0`)."""

    num_envs: int = setting(16, "meta-episodes collected per iteration")
    replay_capacity: int = setting(1000, "meta-episodes kept in replay")
    batch_size: int = setting(16, "meta-episodes per gradient step")
    updates_per_rollout: int = setting(8, "gradient steps per iteration (the replay ratio)")
    belief_updates_per_rollout: int = setting(0, "extra steps per iteration on the belief network's own "
                                                 "losses (task NLL + bottleneck), each on a "
                                                 "fresh replayed batch")
    belief_histories: str = setting("own", "what those steps train on: own (the agent's replay) or explorer "
                                           "(meta-episodes of the env's scripted explorer on training tasks)")
    belief_history_pool: int = setting(256, "scripted explorer meta-episodes collected for "
                                            "belief_histories=explorer")
    info_gain_coef: float = setting(0.0, "η > 0: reward also gains η·(drop of the entropy of "
                                         "the task belief)")
    actor_grad_into_torso: bool = setting(False, "the actor's loss also trains the recurrent torso or policy "
                                                 "memory, through the reparameterized action only")
    warmup_episodes: int = setting(64, "meta-episodes collected before the first gradient step")
    actor_lr: float = setting(3e-4, "actor learning rate")
    critic_lr: float = setting(3e-4, "critic learning rate (also the torso's and the belief network's)")
    alpha_lr: float = setting(3e-4, "temperature α learning rate")
    anneal_lr: bool = setting(False, "decay the actor, critic and belief learning rates linearly to zero")
    gamma: float = setting(0.99, "discount factor")
    retrace_lambda: float = setting(0.95, "Retrace λ")
    retrace_correction: bool = setting(True, "traces c = λ·min(1, π/μ) (Retrace); off: c = λ, uncorrected "
                                             "λ-returns, biased off-policy (a diagnostic of what cut "
                                             "traces cost)")
    tau: float = setting(0.005, "Polyak rate of the target networks")
    init_alpha: float = setting(0.1, "initial temperature α")
    auto_alpha: bool = setting(True, "tune α so the regularizer's penalty meets its target")
    target_entropy: float | None = setting(None, "entropy target of auto_alpha; none: −(action dimensions)")
    max_grad_norm: float = setting(10.0, "gradient clipping norm (per gradient group)")
    prior: str = setting("", "behavioral prior file (belief-rl prior fit): the regularizer "
                             "becomes α·KL(π ‖ π0)")
    target_kl: float = setting(1.0, "with a prior and auto_alpha: the KL per step that α holds (held "
                                    "latents count as 0)")
    penalty_in_target: bool = setting(True, "α·penalty also enters the soft Bellman target (soft "
                                            "Q-learning); off: only the actor loss")

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
                 "belief_histories='explorer' trains the belief in its extra steps: set "
                 "belief_updates_per_rollout > 0")
        _require(self.info_gain_coef >= 0, f"info_gain_coef must be >= 0, got {self.info_gain_coef}")
        _require(self.belief_history_pool > 0,
                 f"belief_history_pool must be positive, got {self.belief_history_pool}")
        _require(self.warmup_episodes <= self.replay_capacity,
                 f"warmup_episodes ({self.warmup_episodes}) cannot exceed replay_capacity "
                 f"({self.replay_capacity})")
        for name in ("actor_lr", "critic_lr", "alpha_lr", "init_alpha", "max_grad_norm"):
            _require(getattr(self, name) > 0, f"{name} must be positive, got {getattr(self, name)}")
        _require(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        _require(0 <= self.retrace_lambda <= 1,
                 f"retrace_lambda must be in [0, 1], got {self.retrace_lambda}")
        _require(0 < self.tau <= 1, f"tau must be in (0, 1], got {self.tau}")

HIGH_PRIORS = ("isotropic", "ar1", "learned_ar")
#: High-level priors over z_t given z_{t-1}; under them π^H reads the previous latent too.
AUTOREGRESSIVE_PRIORS = ("ar1", "learned_ar")
PRIORS = ("none", "distral", *HIGH_PRIORS)
TRANSFERABLE = ("high", "low", "prior")


@dataclass
class HierarchyConfig:
    """Feed-forward and two-level agents with learned behavior priors (Tirumala et al.): which observation
    groups each module sees, the default policy π0, and transfer from a trained run."""

    latent_size: int = setting(8, "hierarchical: size of the latent z between π^H and π^L")
    high_inputs: tuple[str, ...] = setting((), "observation groups π^H (or the flat policy) reads; "
                                                "empty: all")
    low_inputs: tuple[str, ...] = setting(("proprio",), "hierarchical: groups π^L (and a separate π0^L) "
                                                        "reads besides z")
    prior_inputs: tuple[str, ...] = setting(("proprio",), "distral: groups the flat prior π0(a | x) "
                                                          "reads (no task, for information asymmetry)")
    high_hidden: tuple[int, ...] = setting((128, 128), "hidden sizes of π^H (or the flat policy)")
    low_hidden: tuple[int, ...] = setting((128, 128), "hidden sizes of π^L and π0^L")
    prior_hidden: tuple[int, ...] = setting((128, 128), "hidden sizes of a learned π0 (distral, learned_ar)")
    critic_hidden: tuple[int, ...] = setting((256, 256), "hidden sizes of the twin Q critic")
    prior: str = setting("none", "default policy π0: none (entropy only), distral (flat Gaussian π0(a | x), "
                                 "feedforward agent), or the high-level prior of a hierarchical agent: "
                                 "isotropic N(0, I), ar1 N(α z_{t−1}, 1 − α²), learned_ar N(μ(z_{t−1}), "
                                 "σ(z_{t−1}))")
    ar_alpha: float = setting(0.9, "ar1: the autoregressive coefficient α in [0, 1)")
    shared_low: bool = setting(True, "hierarchical: π0^L is π^L itself (its KL term vanishes); false: a "
                                     "separate π0^L, distilled like the rest of π0")
    latent_period: int = setting(1, "hierarchical: z is resampled every this many steps (held between)")
    marginal_samples: int = setting(0, "hierarchical: 0 weighs Retrace's traces by π^L(a | fresh z, x) over "
                                       "π^L(a | acted z, x); M > 0 by the latent-marginal densities "
                                       "π(a | x) = E_{z∼π^H}[π^L(a | z, x)] of the current and the behaviour "
                                       "policy, each a Monte Carlo mean over M fresh latents (needs "
                                       "latent_period = 1 and the isotropic prior)")
    prior_lr: float = setting(1e-3, "learning rate of the prior's distillation")
    entropy_bonus: float = setting(0.0, "weight of π's entropy bonus in the actor loss (next to α·KL)")
    transfer_from: str = setting("", "a trained run directory to start from: its modules named in "
                                     "transfer_modules are loaded, the rest start afresh")
    transfer_modules: tuple[str, ...] = setting(("prior",), "modules taken from transfer_from: any of high, "
                                                            "low, prior")
    freeze: tuple[str, ...] = setting((), "modules not trained further (transferred or not): any of high, "
                                          "low, prior")

    def __post_init__(self) -> None:
        for name in ("high_inputs", "low_inputs", "prior_inputs", "transfer_modules", "freeze"):
            setattr(self, name, tuple(str(v) for v in getattr(self, name)))
        for name in ("high_hidden", "low_hidden", "prior_hidden", "critic_hidden"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        _require(self.latent_size > 0, f"latent_size must be positive, got {self.latent_size}")
        _require(self.prior in PRIORS, f"unknown prior {self.prior!r}; choose one of {', '.join(PRIORS)}")
        _require(0 <= self.ar_alpha < 1, f"ar_alpha must lie in [0, 1), got {self.ar_alpha}")
        _require(self.latent_period >= 1, f"latent_period must be >= 1, got {self.latent_period}")
        _require(self.marginal_samples >= 0, f"marginal_samples must be >= 0, got {self.marginal_samples}")
        _require(self.marginal_samples == 0 or self.latent_period == 1,
                 "marginal_samples needs latent_period = 1 (a held latent has no per-step marginal)")
        # Under an autoregressive prior π^H reads z_{t-1}, so Q depends on the latent through the steps after
        # it, and a ratio averaged over latents no longer weighs the (z, a) pair that Retrace's target uses.
        _require(self.marginal_samples == 0 or self.prior not in AUTOREGRESSIVE_PRIORS,
                 f"marginal_samples needs a π^H that does not read the previous latent (prior isotropic), "
                 f"got prior {self.prior}")
        _require(self.prior_lr > 0, f"prior_lr must be positive, got {self.prior_lr}")
        _require(self.entropy_bonus >= 0, f"entropy_bonus must be >= 0, got {self.entropy_bonus}")
        for name in ("transfer_modules", "freeze"):
            unknown = [m for m in getattr(self, name) if m not in TRANSFERABLE]
            _require(not unknown, f"unknown module(s) in {name}: {', '.join(unknown)}; choose from "
                                  f"{', '.join(TRANSFERABLE)}")


@dataclass
class TrainConfig:
    """One training run: environment, agent, learner, budget and bookkeeping."""

    env_id: str = setting("belief_rl/Bandit-v0", "gymnasium id of an environment meeting the "
                                                 "belief_rl contract")
    env_kwargs: dict[str, Any] = setting({}, "constructor arguments overriding the registered ones "
                                             "(e.g. num_tasks for a finite task set)")
    algorithm: str = setting("ppo", "learner: ppo (recurrent PPO) or svg0 (off-policy SVG(0) with Retrace)")
    agent: AgentConfig = field(default_factory=AgentConfig, metadata={"help": "agent architecture"})
    ppo: PPOConfig = field(default_factory=PPOConfig, metadata={"help": "PPO settings"})
    svg0: SVGConfig = field(default_factory=SVGConfig, metadata={"help": "SVG(0) settings"})
    hierarchy: HierarchyConfig = field(default_factory=HierarchyConfig,
                                       metadata={"help": "feedforward / hierarchical agents, learned priors"})
    total_steps: int = setting(5_000_000, "environment steps to train for")
    seed: int = setting(0, "training seed (network initialization, sampling, training tasks)")
    num_threads: int = setting(2, "torch CPU threads")
    checkpoint_every: int = setting(20, "updates between checkpoints")
    checkpoint_seconds: float = setting(120.0, "also checkpoint once this many seconds passed "
                                               "since the last one")
    eval_tasks: int = setting(2000, "held-out tasks of the periodic evaluation logged during training")
    eval_every: int = setting(25, "updates between periodic evaluations")
    eval_deterministic: bool = setting(False, "periodic evaluations act with each action distribution's mode")
    belief_figures: bool = setting(True, "draw the belief figure (belief-rl plot beliefs) to TensorBoard at "
                                         "every periodic evaluation (agents with a task head on bandits, "
                                         "NumPad, Semicircle)")
    belief_figure_tasks: int = setting(64, "held-out tasks the TensorBoard belief figure plays")

    def __post_init__(self) -> None:
        if isinstance(self.agent, dict):
            self.agent = AgentConfig(**self.agent)
        if isinstance(self.ppo, dict):
            self.ppo = PPOConfig(**self.ppo)
        if isinstance(self.svg0, dict):
            self.svg0 = SVGConfig(**self.svg0)
        if isinstance(self.hierarchy, dict):
            self.hierarchy = HierarchyConfig(**self.hierarchy)
        _require(self.algorithm in ALGORITHMS,
                 f"unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        _require(self.total_steps > 0, f"total steps must be positive, got {self.total_steps}")
        _require(self.num_threads > 0, f"num_threads must be positive, got {self.num_threads}")
        _require(self.checkpoint_every > 0, f"checkpoint_every must be positive, got {self.checkpoint_every}")
        _require(self.checkpoint_seconds > 0,
                 f"checkpoint_seconds must be positive, got {self.checkpoint_seconds}")
        _require(self.eval_tasks > 0 and self.eval_every > 0, "eval_tasks and eval_every must be positive")
        _require(self.belief_figure_tasks > 0,
                 f"belief_figure_tasks must be positive, got {self.belief_figure_tasks}")
        _require(not self.svg0.prior or self.algorithm == "svg0",
                 "a behavioral prior (KL regularization) needs --algorithm svg0")
        _require(not self.svg0.belief_updates_per_rollout or self.algorithm == "svg0",
                 "svg0.belief_updates_per_rollout needs --algorithm svg0")
        _require(not self.svg0.belief_updates_per_rollout or (self.agent.kind == "belief"
                                                              and not self.agent.rl_grad_into_belief),
                 "svg0.belief_updates_per_rollout needs the belief agent with its belief trained apart from "
                 "RL (agent.rl_grad_into_belief=false)")
        _require(not self.agent.belief_dropout or self.algorithm == "svg0",
                 "agent.belief_dropout hides the belief from replayed meta-episodes: it needs "
                 "--algorithm svg0")

        self._check_hierarchy()
        has_task_head = self.agent.kind in ("belief", "aux_head")
        _require(not self.svg0.info_gain_coef or (self.algorithm == "svg0" and has_task_head),
                 "svg0.info_gain_coef rewards the gain of a task belief: it needs --algorithm svg0 and the "
                 "belief or aux_head agent")

    def _check_hierarchy(self) -> None:
        """The hierarchy section's settings against the agent kind and learner."""
        kind, h = self.agent.kind, self.hierarchy
        latent = kind in LATENT_AGENT_KINDS
        _require(not latent or self.algorithm == "svg0", f"the {kind} agent learns with --algorithm svg0")
        _require(not latent or not self.svg0.prior, "a learned default policy (hierarchy.prior) replaces a "
                                                    "fitted behavioral prior (svg0.prior): give one of them")
        if h.prior in HIGH_PRIORS:
            _require(kind == "hierarchical", f"hierarchy.prior={h.prior} is a high-level prior: it needs "
                                             "--agent hierarchical")
        if h.prior == "distral":
            _require(kind == "feedforward", "hierarchy.prior=distral is a flat prior: it needs "
                                            "--agent feedforward")
        _require(kind != "hierarchical" or h.prior != "none",
                 "the hierarchical agent needs a high-level prior: hierarchy.prior=isotropic, ar1 or "
                 "learned_ar")
        _require(not h.transfer_from or latent, "hierarchy.transfer_from needs the feedforward or "
                                                "hierarchical agent")

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


SECTIONS: dict[str, type] = {"agent": AgentConfig, "ppo": PPOConfig, "svg0": SVGConfig,
                             "hierarchy": HierarchyConfig}


def coerce(text: str, annotation: Any) -> Any:
    """Parse a ``--set`` value as the field type ``annotation`` (bool, int, float, str, tuple, optional,
    union); raises ValueError if it is not one."""
    text = text.strip()
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = typing.get_args(annotation)
        if type(None) in options and text.lower() in ("none", "null"):
            return None
        for option in (o for o in options if o is not type(None)):
            try:
                return coerce(text, option)
            except ValueError:
                continue
        raise ValueError(f"{text!r} is none of {annotation}")
    if annotation is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() in ("true", "1")
    if annotation is int:
        number = float(text)
        if not number.is_integer():
            raise ValueError(f"expected an integer, got {text!r}")
        return int(number) if "e" in text.lower() or "." in text else int(text)
    if annotation is float:
        return float(text)
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        # "64,64", or a JSON list "[64, 64]" / '["low", "prior"]' (as a sweep spec's list values are written)
        if text.startswith("[") and text.endswith("]"):
            try:
                values = json.loads(text)
                return tuple(coerce(v if isinstance(v, str) else json.dumps(v), item) for v in values)
            except json.JSONDecodeError:
                text = text[1:-1]
        return tuple(coerce(v, item) for v in text.split(",") if v.strip())
    if annotation is str:
        return text
    # Untyped (env kwargs): JSON where it parses as such, else the plain string; none as for typed fields.
    if text.lower() == "none":
        return None
    return json.loads(text) if text[:1] in "[{0123456789-" or text in ("true", "false", "null") else text


def field_types(cls: type) -> dict[str, Any]:
    """The resolved type of each field of a config dataclass."""
    return typing.get_type_hints(cls)


def apply_override(config: dict[str, Any], assignment: str) -> None:
    """Apply ``section.key=value`` (or ``key=value`` at the top level, ``env_kwargs.name=value``) to a nested
    config dict, parsing the value with the field's type. Raises ValueError with a one-line message."""
    if "=" not in assignment:
        raise ValueError(f"override {assignment!r} is not KEY=VALUE")
    key, value = assignment.split("=", 1)
    parts = key.split(".")
    if len(parts) == 2 and parts[0] == "env_kwargs":
        section, hints = config.setdefault("env_kwargs", {}), {parts[1]: Any}
    elif len(parts) == 2 and parts[0] in SECTIONS:
        section, hints = config.setdefault(parts[0], {}), field_types(SECTIONS[parts[0]])
    elif len(parts) == 1 and parts[0] not in (*SECTIONS, "env_kwargs"):
        section, hints = config, field_types(TrainConfig)
    else:
        raise ValueError(f"unknown setting {key!r}")
    if parts[-1] not in hints:
        raise ValueError(f"unknown setting {key!r}")
    try:
        section[parts[-1]] = coerce(value, hints[parts[-1]])
    except (ValueError, json.JSONDecodeError):
        raise ValueError(f"invalid value for {key}: {value!r}") from None


def describe(cls: type, values: Any | None = None) -> list[tuple[str, str, str, str]]:
    """``(name, type, value, help)`` of every field of a config dataclass (nested sections flattened as
    ``section.name``); ``values`` is an instance whose values to show (default: the defaults)."""
    values = values if values is not None else cls()
    hints = field_types(cls)
    rows = []
    for f in dataclasses.fields(cls):
        value = getattr(values, f.name)
        if f.name in SECTIONS:
            rows += [(f"{f.name}.{name}", *rest) for name, *rest in describe(SECTIONS[f.name], value)]
            continue
        kind = getattr(hints[f.name], "__name__", None) or str(hints[f.name])
        rows.append((f.name, kind.replace("typing.", ""), json.dumps(value, default=list),
                     f.metadata.get("help", "")))
    return rows
