"""Multi-layer perceptrons."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from belief_rl.networks.activations import Tanh


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: type[nn.Module] = Tanh,
        out_gain: float = 1.0) -> nn.Sequential:
    """``in_dim → hidden... → out_dim`` with orthogonal init (the PPO convention).

    ``out_gain`` scales the last layer; small gains (0.01) keep an initial policy
    near uniform, which PPO relies on for early exploration.
    """
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden]
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layers += [_orthogonal(nn.Linear(d_in, d_out), gain=2**0.5), activation()]
    layers.append(_orthogonal(nn.Linear(dims[-1], out_dim), gain=out_gain))
    return nn.Sequential(*layers)


def _orthogonal(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer
