"""Sequence replay: a ring buffer of whole meta-episodes.

Off-policy learners replay *whole* meta-episodes rather than fixed-length
chunks: every belief_rl environment has meta-episodes of a fixed, modest length
(100–500 steps), so a recurrent agent can always be unrolled from the true
initial state. That needs neither stored recurrent states nor burn-in, and the
belief network is trained on exactly the histories its posterior is defined on.
"""

from __future__ import annotations

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

    def add(self, rollout: Rollout) -> None:
        """Append every meta-episode of ``rollout`` (overwriting the oldest when full)."""
        data = {"inputs": rollout.batch.inputs, "actions": rollout.batch.actions, "task": rollout.batch.task,
                "log_probs": rollout.log_probs, "rewards": rollout.rewards, "dones": rollout.dones}
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

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[SequenceBatch, dict[str, torch.Tensor]]:
        """``batch_size`` meta-episodes drawn uniformly (with replacement): the agent's batch and the
        learner's tensors (``log_probs`` of the behaviour policy, ``rewards``, ``dones``), all time-major."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay")
        index = torch.randint(self.size, (batch_size,), generator=generator)
        data = {key: value[index].transpose(0, 1) for key, value in self._storage.items()}
        batch = SequenceBatch(data["inputs"], data["actions"], data["task"])
        return batch, {k: data[k] for k in ("log_probs", "rewards", "dones")}

    def state_dict(self) -> dict[str, Any]:
        return {"storage": self._storage, "next": self._next, "size": self.size, "capacity": self.capacity}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity or set(state["storage"]) not in (set(), set(_FIELDS)):
            raise ValueError("replay state does not match this buffer's configuration")
        self._storage, self._next, self.size = state["storage"], state["next"], state["size"]
