"""Named training presets: tested settings, applied before explicit flags and ``--set`` overrides.

A preset is a nested dict of :class:`~belief_rl.config.TrainConfig` fields, with an
optional per-agent part (``agent_overrides``) for settings that only one agent
kind can use. Every environment family names its default preset (:mod:`belief_rl.families`); the
published numbers come from these presets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from belief_rl.config import AgentConfig, TrainConfig, apply_override
from belief_rl.families import preset_for_env

#: ``preset=NO_PRESET`` trains with the plain dataclass defaults, even on an env whose family has a preset.
NO_PRESET = "none"

# Recurrent PPO settings tuned on Bandit-v0 (512 meta-episodes per update, 16 minibatches of
# 32 whole meta-episodes, 2 epochs): many small updates, because the belief network needs
# thousands of gradient steps before the policy's inputs mean anything.
_PPO = {"num_envs": 512, "num_minibatches": 16, "update_epochs": 2, "aux_epochs": 2, "learning_rate": 2e-3,
        "gae_lambda": 0.8, "ent_coef": 0.01}
# The belief agent scores each arm from its own posterior with a shared network (see docs/bandits.md).
_BELIEF = {"policy_head": "componentwise", "policy_hidden": (32, 32)}
# Settled on Bandit-v0 with seed 0 (docs/bandits.md): GAE λ = 0.95 instead of 0.8 and the entropy weight
# annealed to zero. The belief agent's greedy policy then plays as well as its stochastic one (84.81 against
# 84.89 at 11 M steps; with λ = 0.8 it lost 1.6): its exploration comes from the index it learned, not from
# sampling.
_PPO_INDEX = {**_PPO, "gae_lambda": 0.95, "ent_coef_final": 0.0}

# Off-policy SVG(0) on the continuous-control envs: 16 meta-episodes per iteration, 16 gradient
# steps on 16 replayed meta-episodes each. Settled on Semicircle-v0 and NumPad-2x2 with short runs
# (seed 0, ~0.6 M steps each, see docs/meta_rl.md): a replay ratio of 16 roughly doubles the return at equal
# environment steps over 8 (at twice the compute per step); a small starting temperature with a
# fast-adapting α (per-step Q differences are small, one step moves 0.1, so α = 0.1 keeps the
# policy near uniform for hundreds of thousands of steps); γ = 0.9, because finding the goal pays within the
# episode and what carries over to later episodes is the belief, not a long-horizon value (γ = 0.95 and 0.99
# learned more slowly); τ = 0.02 (0.005 propagated values too slowly).
_SVG0 = {"num_envs": 16, "batch_size": 16, "updates_per_rollout": 16, "actor_lr": 1e-3, "critic_lr": 1e-3,
         "init_alpha": 0.01, "alpha_lr": 1e-3, "gamma": 0.9, "tau": 0.02}
# The time feature lets feed-forward critics on the belief value the finite meta-episode.
_CONTROL_AGENT = {"hidden_size": 64, "embed_dim": 64, "latent_dim": 32, "policy_hidden": (128, 128),
                  "time_scale": 100.0}
# On the meta-RL envs the belief agent's policy also has a memory of its own (a GRU trained by RL between
# the belief and the heads): with feed-forward heads on the belief, the policy farmed the first NumPad pad
# instead of searching for the second (76% of the explorer; 85% with it) – see docs/meta_rl.md.
_CONTROL_BELIEF = {"policy_memory": 64}
_META_RL = {"algorithm": "svg0", "total_steps": 1_200_000, "eval_every": 10, "eval_tasks": 200, "svg0": _SVG0,
            "agent": _CONTROL_AGENT}
# On NumPad-2x2 (24 sequences) the memory can learn the search by itself, and hiding the belief from half of
# the replayed meta-episodes makes it do so: fewer seeds farm the first pad (70.0 against 65.0 over five
# seeds). On 3×3/L=4 the same setting costs more than half the return (12.3 against 27.2), so it stays off
# there – see docs/meta_rl.md.
_NUMPAD_2X2_BELIEF = {**_CONTROL_BELIEF, "belief_dropout": 0.5}

# The multi-task ball arenas (learned behavior priors): the Semicircle SVG(0) settings with a bigger batch and
# a shorter horizon (γ = 0.95: reaching a target pays within ~20 steps). Piloted on BallTargets-K1, seed 0:
# the feedforward agent reaches 90 (expert 93) in about 26 k steps. The entropy bonus keeps a shared low level
# exploring: without it the hierarchical agent never found the target (docs/behavior_priors.md).
_BALL_SVG0 = {**_SVG0, "batch_size": 32, "gamma": 0.95}
_BALL_TASKS = {"algorithm": "svg0", "total_steps": 200_000, "eval_every": 4, "eval_tasks": 64,
               "svg0": _BALL_SVG0, "agent": {"kind": "feedforward"}, "hierarchy": {"entropy_bonus": 0.01}}

PRESETS: dict[str, dict[str, Any]] = {
    # About five minutes on 2 CPU cores: the README's demo.
    "quick": {"total_steps": 3_000_000, "eval_every": 10, "ppo": _PPO,
              "agent_overrides": {"belief": _BELIEF}},
    # The benchmark setting (analysis/bandit_benchmark.py).
    "full": {"total_steps": 10_000_000, "eval_every": 10, "ppo": _PPO,
             "agent_overrides": {"belief": _BELIEF}},
    # The belief agent's best bandit setting: 10 M steps, 12.5–15 min of training on 2 CPU cores.
    "gittins": {"total_steps": 10_000_000, "eval_every": 10, "ppo": _PPO_INDEX,
                "agent_overrides": {"belief": _BELIEF}},
    # The meta-RL benchmark settings (analysis/meta_rl_benchmark.py).
    "semicircle": {**_META_RL, "agent_overrides": {"belief": _CONTROL_BELIEF}},
    "numpad": {**_META_RL, "agent_overrides": {"belief": _CONTROL_BELIEF}},
    "numpad-2x2": {**_META_RL, "agent_overrides": {"belief": _NUMPAD_2X2_BELIEF}},
    # The single-goal Semicircle of the behavioral-prior study (analysis/prior_learning_curves.py):
    # one task, so a few deterministic evaluation episodes measure the policy exactly. The penalty stays
    # out of the Bellman target: with it, the states where the prior is confident look costly (the KL is
    # largest there) and the agent left the demonstrated path before it ever saw the sparse reward.
    "semicircle-fixed-goal": {"algorithm": "svg0", "total_steps": 300_000, "eval_every": 2, "eval_tasks": 8,
                              "eval_deterministic": True, "svg0": {**_SVG0, "penalty_in_target": False},
                              "agent": _CONTROL_AGENT},
    "ball-tasks": _BALL_TASKS,
    # gymnasium's Reacher-v5 (50-step episodes, dense reward) for the behavioral-prior study
    # (analysis/prior_learning_curves.py); not tuned beyond the Semicircle settings.
    "reacher": {"algorithm": "svg0", "total_steps": 100_000, "eval_every": 5, "eval_tasks": 100,
                "eval_deterministic": True, "svg0": {**_SVG0, "gamma": 0.95, "updates_per_rollout": 8},
                "agent": {**_CONTROL_AGENT, "time_scale": 0.0}},
}


def make_config(env_id: str | None = None, agent: str | None = None, algorithm: str | None = None,
                preset: str | None = None, overrides: Sequence[str] = (), **fields: Any) -> TrainConfig:
    """A validated :class:`TrainConfig`: defaults, then the preset, then the named arguments and ``fields``
    (top-level fields, e.g. ``total_steps=10_000``, or sections as dicts, merged), then ``overrides``
    (``"section.key=value"`` strings).

    ``preset=None`` takes the preset of the env's family for its final env kwargs (none for envs outside
    belief_rl); ``preset="none"`` none at all. See :func:`chosen_preset`.
    """
    preset, kind = chosen_preset(env_id, agent, algorithm, preset, overrides, **fields)
    return TrainConfig(**_assemble(env_id, agent, algorithm, overrides, fields, preset, kind))


def chosen_preset(env_id: str | None = None, agent: str | None = None, algorithm: str | None = None,
                  preset: str | None = None, overrides: Sequence[str] = (),
                  **fields: Any) -> tuple[str, str]:
    """``(preset, agent kind)`` that :func:`make_config` applies: the family's preset is chosen from the env
    kwargs and the agent's preset part from the agent kind as they stand after every override."""
    final = _assemble(env_id, agent, algorithm, overrides, fields)
    kind = final["agent"].get("kind", AgentConfig.kind)
    if preset is None:
        preset = preset_for_env(final["env_id"], final.get("env_kwargs")) or NO_PRESET
    return preset, kind


def _assemble(env_id: str | None, agent: str | None, algorithm: str | None, overrides: Sequence[str],
              fields: dict[str, Any], preset: str = NO_PRESET,
              kind: str = AgentConfig.kind) -> dict[str, Any]:
    """The nested config dict: ``preset`` (its part for agent ``kind``), the arguments, then overrides."""
    config: dict[str, Any] = {"agent": {}, "ppo": {}, "svg0": {}, "hierarchy": {}}
    if preset != NO_PRESET:
        config = apply_preset(config, preset, kind)
    sections = {key: dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
                for key, value in fields.items()}
    config = _merge(config, {"env_id": env_id or TrainConfig.env_id, **sections})
    if algorithm is not None:
        config["algorithm"] = algorithm
    if agent is not None:
        config["agent"]["kind"] = agent
    for assignment in overrides:
        apply_override(config, assignment)
    return config


def apply_preset(config: dict[str, Any], name: str, agent_kind: str) -> dict[str, Any]:
    """``config`` (a nested dict) updated with preset ``name`` for an agent of ``agent_kind``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)} (or {NO_PRESET})")
    preset = dict(PRESETS[name])
    agent_part = preset.pop("agent_overrides", {}).get(agent_kind, {})
    return _merge(config, {**preset, "agent": {**preset.get("agent", {}), **agent_part}})


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
