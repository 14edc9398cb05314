"""Sequence replay: a ring buffer of whole meta-episodes.

Off-policy learners replay *whole* meta-episodes rather than fixed-length
chunks: every belief_rl environment has meta-episodes of a fixed, modest length
(100–500 steps), so a recurrent agent can always be unrolled from the true
initial state. That needs neither stored recurrent states nor burn-in, and the
belief network is trained on exactly the histories its posterior is defined on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from belief_rl.agents.base import SequenceBatch
from belief_rl.rollout import Rollout

_FIELDS = ("inputs", "actions", "task", "log_probs", "rewards", "dones")


class SequenceReplay:
    """Stores up to ``capacity`` meta-episodes; samples batches of them as ``[T, B, ...]``."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._storage: dict[str, torch.Tensor] = {}
        self._next = 0
        self.size = 0

    def add(self, rollout: Rollout, extras: dict[str, torch.Tensor] | None = None) -> None:
        """Append every meta-episode of ``rollout`` (overwriting the oldest when full).

        ``extras`` are further per-step tensors ``[T, B, ...]`` stored alongside (the same keys every
        time) and returned by :meth:`sample` with the learner's tensors.
        """
        data = {"inputs": rollout.batch.inputs, "actions": rollout.batch.actions, "task": rollout.batch.task,
                "log_probs": rollout.log_probs, "rewards": rollout.rewards, "dones": rollout.dones,
                **(extras or {})}
        if self._storage and set(data) != set(self._storage):
            raise ValueError(f"replay stores {sorted(self._storage)}, got {sorted(data)}")
        if not self._storage:
            self._storage = {k: torch.zeros((self.capacity, *v.transpose(0, 1).shape[1:]), dtype=v.dtype)
                             for k, v in data.items()}
        length = self._storage["rewards"].shape[1]
        if rollout.rewards.shape[0] != length:
            raise ValueError(f"meta-episodes of length {rollout.rewards.shape[0]} cannot join a replay of "
                             f"length-{length} meta-episodes")
        num = rollout.rewards.shape[1]
        index = (self._next + torch.arange(num)) % self.capacity
        for key, value in data.items():
            self._storage[key][index] = value.transpose(0, 1)
        self._next = int((self._next + num) % self.capacity)
        self.size = min(self.size + num, self.capacity)

    def sample(self, batch_size: int,
               generator: torch.Generator | None = None) -> tuple[SequenceBatch, dict[str, torch.Tensor]]:
        """``batch_size`` meta-episodes drawn uniformly (with replacement): the agent's batch and the
        learner's tensors (``log_probs`` of the behaviour policy, ``rewards``, ``dones`` and any extras),
        all time-major."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay")
        index = torch.randint(self.size, (batch_size,), generator=generator)
        data = {key: value[index].transpose(0, 1) for key, value in self._storage.items()}
        batch = SequenceBatch(data["inputs"], data["actions"], data["task"])
        return batch, {k: v for k, v in data.items() if k not in ("inputs", "actions", "task")}

    @property
    def fields(self) -> set[str]:
        """Names of the stored per-step tensors (empty before the first :meth:`add`)."""
        return set(self._storage)

    def add_field(self, key: str, compute: Callable[[torch.Tensor], torch.Tensor | None]) -> None:
        """Store a new per-step field ``compute(inputs)`` of the stored meta-episodes' ``inputs [N, T, D]``,
        e.g. after loading a replay saved without it. Nothing is stored if ``compute`` returns None."""
        if not self._storage:
            return
        # Rows fill in order, so these are the stored ones.
        value = compute(self._storage["inputs"][: self.size])
        if value is None:
            return
        field = torch.zeros((self.capacity, *value.shape[1:]), dtype=value.dtype)
        field[: self.size] = value
        self._storage[key] = field

    def state_dict(self) -> dict[str, Any]:
        return {"storage": self._storage, "next": self._next, "size": self.size, "capacity": self.capacity}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state["capacity"] != self.capacity
                or (state["storage"] and not set(_FIELDS) <= set(state["storage"]))):
            raise ValueError("replay state does not match this buffer's configuration")
        self._storage, self._next, self.size = state["storage"], state["next"], state["size"]
