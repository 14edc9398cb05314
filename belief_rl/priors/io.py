"""Prior files: one ``.pt`` holding the prior's kind, constructor arguments, state and provenance.

Written atomically (like checkpoints); loading validates the format and turns
every failure into a one-line :class:`~belief_rl.priors.base.PriorError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from belief_rl.checkpoint import load_versioned, save_versioned
from belief_rl.priors.base import BehaviorPrior, PriorError
from belief_rl.priors.gp import GPPrior
from belief_rl.priors.parametric import ParametricPrior

PRIOR_FORMAT_VERSION = 1
PRIOR_KINDS: dict[str, type[BehaviorPrior]] = {"gp": GPPrior, "parametric": ParametricPrior}


def save_prior(path: Path, prior: BehaviorPrior, metadata: dict[str, Any] | None = None) -> None:
    """Atomically save ``prior`` with ``metadata`` (e.g. the env id and demonstration file it was fit to)."""
    payload = {"kind": prior.kind, "init_kwargs": prior.init_kwargs(), "obs_dim": prior.obs_dim,
               "action_dim": prior.action_dim, "state_dict": prior.state_dict(),
               "metadata": dict(metadata or {})}
    save_versioned(Path(path), payload, PRIOR_FORMAT_VERSION)


def load_prior(path: Path, env_id: str | None = None) -> tuple[BehaviorPrior, dict[str, Any]]:
    """The prior saved at ``path`` (in eval mode) and its metadata; checks ``env_id`` if given."""
    payload = load_versioned(path, PRIOR_FORMAT_VERSION, "prior file", PriorError)
    kind = payload.get("kind")
    if kind not in PRIOR_KINDS:
        raise PriorError(f"{path} holds an unknown prior kind {kind!r}")
    metadata = payload.get("metadata", {})
    if env_id is not None and metadata.get("env_id") not in (None, env_id):
        raise PriorError(f"prior {path} was fit on {metadata['env_id']!r}, not {env_id!r}")
    state = payload["state_dict"]
    try:
        obs_dim, action_dim = payload["obs_dim"], payload["action_dim"]
        prior = PRIOR_KINDS[kind](torch.zeros(obs_dim), torch.ones(obs_dim), -torch.ones(action_dim),
                                  torch.ones(action_dim), **payload["init_kwargs"])
        prior.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError) as exc:
        raise PriorError(f"prior file {path} does not match its own description "
                         f"({str(exc).splitlines()[0]})") from None
    if isinstance(prior, GPPrior):
        prior.refresh()
    return prior.eval(), metadata
