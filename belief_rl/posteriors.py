"""Exact task posteriors, against which a learned belief can be checked rather than only looked at.

* **Bandits** (p ~ U(0, 1)^K, Bernoulli rewards): arm k's posterior after ``s`` successes and ``f`` failures
  is Beta(1 + s, 1 + f), independently across arms.
* **NumPad** (sequences uniform over the valid ones, presses observed without noise): the posterior is uniform
  over the valid sequences consistent with the presses seen, found by elimination (the scripted explorer's
  candidate set, which reads presses from the observations exactly as the env makes them).

Both are indexed like a learned belief: the posterior at step ``t`` has seen the observations up to ``t`` and
the rewards up to ``t - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.distributions import Beta, Independent


def bandit_posterior(actions: torch.Tensor, rewards: torch.Tensor, num_arms: int) -> Independent:
    """The exact posterior over arm probabilities at each step of ``[T, B]`` pulls: batch ``[T, B]``, event
    ``[K]``; at step ``t`` it has seen pulls ``0 .. t-1``."""
    pulls = torch.nn.functional.one_hot(actions.long(), num_arms).to(rewards.dtype)  # [T, B, K]
    wins = pulls * rewards.unsqueeze(-1)
    successes = torch.cumsum(wins, 0) - wins
    failures = torch.cumsum(pulls - wins, 0) - (pulls - wins)
    return Independent(Beta(1.0 + successes, 1.0 + failures), 1)


@dataclass
class NumPadPosterior:
    """The exact NumPad posterior along trajectories: uniform over ``candidates`` among ``sequences``."""

    sequences: np.ndarray  # [S, L] the valid sequences (the prior's support)
    candidates: np.ndarray  # [T, n, S] bool: consistent with the history seen at step t
    num_pads: int

    def marginals(self) -> np.ndarray:
        """Probability of each pad at each sequence position, ``[T, n, L, num_pads]``."""
        weights = self.candidates / self.candidates.sum(-1, keepdims=True)  # [T, n, S]
        onehot = np.eye(self.num_pads)[self.sequences]  # [S, L, P]
        return np.einsum("tns,slp->tnlp", weights, onehot)

    def log_prob(self, tasks: np.ndarray) -> np.ndarray:
        """``log p(true sequence | history)`` of each trajectory's sequence ``tasks [n, L]``: ``[T, n]``."""
        index = _sequence_index(self.sequences, tasks)
        count = self.candidates.sum(-1)
        consistent = self.candidates[:, np.arange(len(index)), index]
        return np.where(consistent, -np.log(count), -np.inf)


def numpad_posterior(observations: np.ndarray, rewards: np.ndarray, size: int, length: int,
                     neighbourhood: str = "moore") -> NumPadPosterior:
    """The exact posterior at every step of NumPad trajectories: ``observations [T, n, D]`` as the env returns
    them, ``rewards [T, n]`` of the actions taken after each."""
    # NumPad's module needs MuJoCo (the ball): imported only for NumPad, so bandit-only use needs no mujoco.
    from belief_rl.references.numpad import NumPadExplorer

    explorer = NumPadExplorer(size, length, neighbourhood)
    steps, n = observations.shape[:2]
    explorer.reset(observations[0], {})
    candidates = np.empty((steps, n, len(explorer.sequences)), dtype=bool)
    candidates[0] = explorer.candidates
    for t in range(1, steps):
        explorer.observe(observations[t], rewards[t - 1], np.zeros(n, dtype=bool), {})
        candidates[t] = explorer.candidates
    return NumPadPosterior(np.asarray(explorer.sequences), candidates, size * size)


def numpad_active_counts(observations: np.ndarray, size: int) -> np.ndarray:
    """The progress each observation shows (its active pads, always a prefix of the sequence): ``[T, n]``."""
    return (observations[..., 4:4 + size * size] > 0.5).sum(-1)


def numpad_discoveries(active_counts: np.ndarray, rewards: np.ndarray, length: int) -> np.ndarray:
    """The step of each trajectory's first rewarded press of each sequence position, ``[n, L]`` (-1: never).

    The belief at that step has not yet seen the press pay: it is the belief just before the discovery.
    """
    counts, paid = np.asarray(active_counts), np.asarray(rewards) > 0
    firsts = np.full((counts.shape[1], length), -1, dtype=np.int64)
    for position in range(length):
        hits = paid & (counts == position)
        found = hits.any(0)
        firsts[found, position] = hits.argmax(0)[found]
    return firsts


def expected_calibration_error(predicted: np.ndarray, actual: np.ndarray,
                               bins: int = 10) -> tuple[float, dict[str, list[float]]]:
    """Expected calibration error of predicted probabilities against actual ones (or 0/1 outcomes).

    Predictions are grouped into ``bins`` equal-width bins; the error is the bin-size weighted mean of
    ``|mean prediction - mean actual|``. Returns it with the per-bin table (centre, prediction, actual,
    count).
    """
    predicted, actual = np.ravel(predicted).astype(np.float64), np.ravel(actual).astype(np.float64)
    which = np.minimum((predicted * bins).astype(np.int64), bins - 1)
    table: dict[str, list[float]] = {"centre": [], "predicted": [], "actual": [], "count": []}
    error = 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        table["centre"].append((b + 0.5) / bins)
        table["predicted"].append(float(predicted[mask].mean()))
        table["actual"].append(float(actual[mask].mean()))
        table["count"].append(int(mask.sum()))
        error += mask.mean() * abs(predicted[mask].mean() - actual[mask].mean())
    return float(error), table


def _sequence_index(sequences: np.ndarray, tasks: np.ndarray) -> np.ndarray:
    """The row of ``sequences`` equal to each task ``[n, L]``."""
    matches = (sequences[None, :, :] == np.asarray(tasks)[:, None, :]).all(-1)  # [n, S]
    if not matches.any(1).all():
        raise ValueError("a task is not a valid sequence of this NumPad")
    return matches.argmax(1)
