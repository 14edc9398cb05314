"""Atomic checkpoints with validation on load.

A checkpoint is written to a temporary file in the target directory, flushed
and fsynced, then renamed over the old one, so a run killed mid-write leaves the
previous checkpoint intact. Files hold only tensors and plain containers and are loaded with
``weights_only=True``, so a crafted file cannot run code: it is refused. Loading checks the format version
and that the checkpoint belongs to the expected environment, and turns every failure into a
:class:`CheckpointError` with a one-line message.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from belief_rl.errors import BeliefRLError

FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"
#: Set in a checkpoint that keeps a finished run's weights and counters only (``belief-rl slim``): no replay,
#: optimizer, target-network or RNG state, so it can be evaluated, plotted and transferred from, not trained.
WEIGHTS_ONLY = "weights_only"
WEIGHTS_ONLY_KEYS = ("config", "agent", "update", "global_step", "elapsed", "last_eval")


class CheckpointError(BeliefRLError):
    """A checkpoint is missing, unreadable, or does not match the run."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_versioned(path: Path, payload: dict[str, Any], version: int) -> None:
    """Atomically ``torch.save`` ``payload`` with ``format_version``."""
    buffer = io.BytesIO()
    torch.save({"format_version": version, **payload}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_versioned(path: Path, version: int, what: str, error: type[BeliefRLError]) -> dict[str, Any]:
    """Load a file written by :func:`save_versioned`; every problem raises ``error`` naming
    ``what`` it should be."""
    path = Path(path)
    if not path.is_file():
        raise error(f"no {what} at {path}")
    try:
        # weights_only: tensors and plain containers only. Unpickling anything else could
        # run code from the file.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # A pickled callable or class ("GLOBAL") is what a crafted file needs; anything else is just damage.
        if "global" in str(exc).lower():
            raise error(f"{what} {path} was refused: it holds objects other than tensors and plain data, "
                        "which loading would have to execute") from None
        raise error(f"{what} {path} is corrupt or unreadable (UnpicklingError)") from None
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise error(f"{what} {path} is corrupt or unreadable ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format_version") != version:
        raise error(f"{what} {path} has an unknown format (expected version {version})")
    return payload


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Atomically save ``payload`` (tensors, state dicts, plain data) with the format version."""
    save_versioned(path, payload, FORMAT_VERSION)


def load_checkpoint(path: Path, expected_env_id: str | None = None) -> dict[str, Any]:
    """Load and validate a checkpoint; raises :class:`CheckpointError` on any problem."""
    payload = load_versioned(path, FORMAT_VERSION, "checkpoint", CheckpointError)
    env_id = payload.get("config", {}).get("env_id")
    if expected_env_id is not None and env_id != expected_env_id:
        raise CheckpointError(f"checkpoint {path} was trained on {env_id!r}, not {expected_env_id!r}")
    return payload
