"""Learners: recurrent PPO (on-policy) and SVG(0) with Retrace (off-policy).

:func:`belief_rl.runs.build_learner` builds the one a config names.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from belief_rl.algorithms.ppo import PPO
from belief_rl.algorithms.svg0 import SVG0
from belief_rl.rollout import Rollout


class Learner(Protocol):
    """What the trainer drives: one update per collected batch of meta-episodes."""

    def update(self, rollout: Rollout, generator: torch.Generator | None = None) -> dict[str, float]: ...

    def set_progress(self, fraction_done: float) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


__all__ = ["PPO", "SVG0", "Learner"]
