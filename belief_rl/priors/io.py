"""Prior files: one ``.pt`` holding the prior's kind, constructor arguments, state and provenance.

Written atomically (like checkpoints); loading validates the format and turns
every failure into a one-line :class:`~belief_rl.priors.base.PriorError`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from belief_rl.checkpoint import atomic_write_bytes
from belief_rl.priors.base import BehaviorPrior, PriorError
from belief_rl.priors.gp import GPPrior
from belief_rl.priors.parametric import ParametricPrior

PRIOR_FORMAT_VERSION = 1
PRIOR_KINDS: dict[str, type[BehaviorPrior]] = {"gp": GPPrior, "parametric": ParametricPrior}


def save_prior(path: Path, prior: BehaviorPrior, metadata: dict[str, Any] | None = None) -> None:
    """Atomically save ``prior`` with ``metadata`` (e.g. the env id and demonstration file it was fit to)."""
    payload = {"format_version": PRIOR_FORMAT_VERSION, "kind": prior.kind, "init_kwargs": prior.init_kwargs(),
               "obs_dim": prior.obs_dim, "action_dim": prior.action_dim, "state_dict": prior.state_dict(),
               "metadata": dict(metadata or {})}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_prior(path: Path, env_id: str | None = None) -> tuple[BehaviorPrior, dict[str, Any]]:
    """The prior saved at ``path`` (in eval mode) and its metadata; checks ``env_id`` if given."""
    path = Path(path)
    if not path.is_file():
        raise PriorError(f"no prior file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise PriorError(f"prior file {path} is corrupt or unreadable ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format_version") != PRIOR_FORMAT_VERSION:
        raise PriorError(f"{path} is not a belief_rl prior file (format version {PRIOR_FORMAT_VERSION})")
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
        raise PriorError(f"prior file {path} does not match its own description ({str(exc).splitlines()[0]})") from None
    if isinstance(prior, GPPrior):
        prior.refresh()
    return prior.eval(), metadata
