"""Recurrent history encoder shared by all agents.

One set of parameters serves two access patterns: single steps while acting
(``torch.gru_cell``/``torch.lstm_cell`` on the fused weights, much faster than a
length-1 ``nn.GRU`` call) and whole sequences while learning (``nn.GRU``/``nn.LSTM``
over ``[T, B, D]``). Rollouts hold whole meta-episodes, so the state is reset only
at the start of a sequence.
"""

from __future__ import annotations

import torch
from torch import nn

State = tuple[torch.Tensor, ...]

_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentCore(nn.Module):
    """Input embedding followed by a GRU or LSTM."""

    def __init__(self, input_dim: int, hidden_size: int, cell: str = "gru", embed_dim: int = 128) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"unknown recurrent cell {cell!r}; choose one of {sorted(_CELLS)}")
        self.cell = cell
        self.hidden_size = hidden_size
        # The embedding lets the cell see action×reward interactions (which arm paid)
        # through one nonlinearity instead of having to build them in its gates.
        self.embed = nn.Sequential(nn.Linear(input_dim, embed_dim), nn.ReLU())
        self.rnn = _CELLS[cell](embed_dim, hidden_size)

    def initial_state(self, batch_size: int, device: torch.device | None = None) -> State:
        """Zero state for ``batch_size`` sequences."""
        zeros = torch.zeros(batch_size, self.hidden_size, device=device)
        return (zeros,) if self.cell == "gru" else (zeros, zeros.clone())

    def step(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One time step: ``inputs [B, D]`` → ``output [B, H]``, next state."""
        x = self.embed(inputs)
        weights = (self.rnn.weight_ih_l0, self.rnn.weight_hh_l0, self.rnn.bias_ih_l0, self.rnn.bias_hh_l0)
        if self.cell == "gru":
            h = torch.gru_cell(x, state[0], *weights)
            return h, (h,)
        h, c = torch.lstm_cell(x, state, *weights)
        return h, (h, c)

    def sequence(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """A whole sequence: ``inputs [T, B, D]`` → ``outputs [T, B, H]``, final state."""
        x = self.embed(inputs)
        if self.cell == "gru":
            out, h = self.rnn(x, state[0].unsqueeze(0))
            return out, (h.squeeze(0),)
        out, (h, c) = self.rnn(x, (state[0].unsqueeze(0), state[1].unsqueeze(0)))
        return out, (h.squeeze(0), c.squeeze(0))
