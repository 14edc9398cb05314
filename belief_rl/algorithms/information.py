"""The information an agent's belief gains at each step, as an exploration reward.

With a task head the agent knows how unsure it is: ``H_t = H[q(task | h_t)]``.
A step that shrinks the belief's entropy gained information, and rewarding
``η · (H_t − H_{t+1})`` pays for the exploratory steps whose value the task reward
only shows many steps later (e.g. trying an untested NumPad pad instead of
farming a known one). Over a meta-episode the bonus telescopes to
``η · (H_0 − H_{T-1})``: it cannot be farmed, and a step that only repeats what the
agent already knows earns nothing.
"""

from __future__ import annotations

import torch


def information_gain(belief_entropy: torch.Tensor) -> torch.Tensor:
    """``H_t − H_{t+1}`` for every step of ``[T, B]`` whole sequences; 0 at the last step (no later
    belief)."""
    gain = torch.zeros_like(belief_entropy)
    gain[:-1] = belief_entropy[:-1] - belief_entropy[1:]
    return gain
