"""A tanh that is cheap on CPUs.

On the x86 CPU builds of torch measured here, ``torch.tanh`` costs about six times ``torch.sigmoid`` on
cache-sized tensors (0.58 ms against 0.09 ms for 512 × 20 × 32 floats, 2 threads), and acting with the
bandit's componentwise policy spent a quarter of its time in it. On CPU tensors :func:`tanh` computes
``2·sigmoid(2x) − 1``, equal to tanh in exact arithmetic; in float32 the two differ by at most 2e-7 in
absolute terms (relative error is larger only for |x| below about 1e-6, where both are tiny), which a network
does not notice. Elsewhere (GPUs) it is ``torch.tanh``.
"""

from __future__ import annotations

import torch
from torch import nn


class _SigmoidTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y = torch.sigmoid(x * 2).mul_(2).sub_(1)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)  # grad · (1 − y²)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """``tanh(x)``; on CPU computed as ``2·sigmoid(2x) − 1`` (see the module docstring for why)."""
    return _SigmoidTanh.apply(x) if x.device.type == "cpu" else torch.tanh(x)


class Tanh(nn.Module):
    """Drop-in for :class:`torch.nn.Tanh` computed with :func:`tanh`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tanh(x)
