"""Demonstration datasets: an ``.npz`` format with a schema, validation on load, and collection.

A file holds, for ``N`` transitions of any number of episodes:

* ``observations [N, obs_dim]`` and ``actions [N, action_dim]`` (float, finite),
* ``rewards [N]`` and ``episode_starts [N]`` (bool, True at the first step of each episode),
* ``env_id`` (str), ``observation_low/high [obs_dim]`` and ``action_low/high [action_dim]``
  (the env's spaces, infinite bounds allowed for observations), ``format_version``.

Every check failure is a one-line :class:`DemoError` naming the file and the field.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from belief_rl.checkpoint import atomic_write_bytes
from belief_rl.errors import BeliefRLError

DEMO_FORMAT_VERSION = 1
_ARRAYS = ("observations", "actions", "rewards", "episode_starts", "observation_low", "observation_high",
           "action_low", "action_high")


class DemoError(BeliefRLError):
    """A demonstration file is missing, malformed, or does not match the environment."""


@dataclass
class Demonstrations:
    """Transitions of expert episodes with the environment they came from."""

    env_id: str
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_starts: np.ndarray
    observation_low: np.ndarray
    observation_high: np.ndarray
    action_low: np.ndarray
    action_high: np.ndarray

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_episodes(self) -> int:
        return int(self.episode_starts.sum())

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return of every episode."""
        episode = np.cumsum(self.episode_starts) - 1
        return np.bincount(episode, weights=self.rewards, minlength=self.num_episodes)

    def validate(self, source: str = "demonstrations") -> None:
        """Raise :class:`DemoError` unless shapes, dtypes and values follow the schema."""
        obs, act = np.asarray(self.observations), np.asarray(self.actions)
        if obs.ndim != 2 or act.ndim != 2:
            raise DemoError(f"{source}: observations and actions must be 2-D [N, dim], got shapes "
                            f"{obs.shape} and {act.shape}")
        n = len(obs)
        if n == 0:
            raise DemoError(f"{source}: holds no transitions")
        for name, expected in (("actions", (n, act.shape[1])), ("rewards", (n,)), ("episode_starts", (n,)),
                               ("observation_low", (obs.shape[1],)), ("observation_high", (obs.shape[1],)),
                               ("action_low", (act.shape[1],)), ("action_high", (act.shape[1],))):
            if np.asarray(getattr(self, name)).shape != expected:
                raise DemoError(f"{source}: {name} has shape {np.asarray(getattr(self, name)).shape}, "
                                f"expected {expected}")
        for name in ("observations", "actions", "rewards", "action_low", "action_high"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise DemoError(f"{source}: {name} contains NaN or infinite values")
        if not np.all(self.action_low < self.action_high):
            raise DemoError(f"{source}: action_low must be below action_high")
        if np.any(act < self.action_low - 1e-6) or np.any(act > self.action_high + 1e-6):
            raise DemoError(f"{source}: actions lie outside the action bounds")
        if not bool(np.asarray(self.episode_starts)[0]):
            raise DemoError(f"{source}: episode_starts[0] must be True (the first step starts an episode)")

    def check_env(self, env_id: str, observation_dim: int, action_dim: int) -> None:
        """Raise :class:`DemoError` unless these demonstrations come from an env like ``env_id``'s."""
        if self.env_id != env_id:
            raise DemoError(f"demonstrations come from {self.env_id!r}, not {env_id!r}")
        if self.observations.shape[1] != observation_dim or self.actions.shape[1] != action_dim:
            raise DemoError(f"demonstrations have observation/action sizes {self.observations.shape[1]}/"
                            f"{self.actions.shape[1]}, the env {observation_dim}/{action_dim}")

    def save(self, path: Path) -> None:
        """Atomically write the ``.npz`` file."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, format_version=DEMO_FORMAT_VERSION, env_id=np.array(self.env_id),
                            **{name: np.asarray(getattr(self, name)) for name in _ARRAYS})
        atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> Demonstrations:
        """Read and validate a demonstration file."""
        path = Path(path)
        if not path.is_file():
            raise DemoError(f"no demonstration file at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = {key: data[key] for key in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DemoError(f"{path} is not a readable .npz file ({type(exc).__name__})") from None
        missing = [key for key in ("format_version", "env_id", *_ARRAYS) if key not in fields]
        if missing:
            raise DemoError(f"{path}: missing field(s) {', '.join(missing)}")
        if int(fields["format_version"]) != DEMO_FORMAT_VERSION:
            raise DemoError(f"{path}: unknown format version {int(fields['format_version'])}")
        arrays = {name: fields[name] for name in _ARRAYS}
        arrays["episode_starts"] = arrays["episode_starts"].astype(bool)
        # Built without __post_init__ so the validation error can name the file.
        demos = object.__new__(cls)
        for name, value in arrays.items():
            setattr(demos, name, value)
        demos.env_id = str(fields["env_id"])
        demos.validate(str(path))
        return demos
