"""Named training presets: tested settings, applied before explicit flags and ``--set`` overrides.

A preset is a nested dict of :class:`~belief_rl.config.TrainConfig` fields, with an
optional per-agent part (``agent_overrides``) for settings that only one agent
kind can use. The bandit numbers in the README come from these presets.
"""

from __future__ import annotations

from typing import Any

# Recurrent PPO settings tuned on Bandit-v0 (512 meta-episodes per update, 16 minibatches of
# 32 whole meta-episodes, 2 epochs): many small updates, because the belief network needs
# thousands of gradient steps before the policy's inputs mean anything.
_PPO = {"num_envs": 512, "num_minibatches": 16, "update_epochs": 2, "aux_epochs": 2, "learning_rate": 2e-3,
        "gae_lambda": 0.8, "ent_coef": 0.01}
# The belief agent scores each arm from its own posterior with a shared network (see README).
_BELIEF = {"policy_head": "componentwise", "policy_hidden": (32, 32)}

PRESETS: dict[str, dict[str, Any]] = {
    # About five minutes on 2 CPU cores: the README's demo.
    "quick": {"total_steps": 3_000_000, "eval_every": 10, "ppo": _PPO, "agent_overrides": {"belief": _BELIEF}},
    # The benchmark setting (analysis/bandit_benchmark.py).
    "full": {"total_steps": 10_000_000, "eval_every": 10, "ppo": _PPO, "agent_overrides": {"belief": _BELIEF}},
}


def apply_preset(config: dict[str, Any], name: str, agent_kind: str) -> dict[str, Any]:
    """``config`` (a nested dict) updated with preset ``name`` for an agent of ``agent_kind``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
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
