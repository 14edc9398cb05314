"""Information asymmetry: which named observation groups a module may read."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ObservationRouter(nn.Module):
    """Selects the columns of named groups from observations ``[..., obs_dim]``.

    ``groups`` maps a group name to its ``(start, stop)`` columns, as an environment declares them in
    ``observation_groups``; ``names`` are the groups this router passes on (in that order). A module fed
    through a router cannot depend on anything else: that is how the task is kept from a prior.
    """

    def __init__(self, groups: dict[str, tuple[int, int]], names: Sequence[str]) -> None:
        super().__init__()
        unknown = [name for name in names if name not in groups]
        if unknown:
            raise ValueError(f"unknown observation group(s) {', '.join(unknown)}; this environment has "
                             f"{', '.join(groups)}")
        self.names = tuple(names)
        columns = [i for name in self.names for i in range(*groups[name])]
        self.register_buffer("columns", torch.tensor(columns, dtype=torch.long), persistent=False)

    @property
    def dim(self) -> int:
        return int(self.columns.numel())

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        return observation.index_select(-1, self.columns)


def all_groups(groups: dict[str, tuple[int, int]], names: Sequence[str]) -> tuple[str, ...]:
    """``names``, or every group (in observation order) when ``names`` is empty."""
    return tuple(names) if names else tuple(sorted(groups, key=lambda name: groups[name][0]))
