"""Named training presets: tested settings, applied before ``--set`` overrides.

A preset is a nested dict of :class:`~belief_rl.config.TrainConfig` fields. The
bandit presets are the settings behind the README's numbers.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # A few minutes on 2 CPU cores: the README's demo.
    "quick": {"total_steps": 3_000_000},
    # The benchmark setting (analysis/bandit_benchmark.py).
    "full": {"total_steps": 12_000_000},
}


def apply_preset(config: dict[str, Any], name: str) -> dict[str, Any]:
    """``config`` (a nested dict) updated with preset ``name``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return _merge(config, PRESETS[name])


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
