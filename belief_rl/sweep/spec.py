"""Sweep specifications: a base run, overrides to vary, seeds; expanded into named trials.

A spec is a TOML (or JSON) file::

    name = "ib-vs-tasks"              # optional; default: the file's stem
    env = "belief_rl/Bandit-v0"
    agent = "belief"                  # optional, as `belief-rl train --agent`
    preset = "quick"                  # optional; default: the env family's preset
    seeds = [0, 1, 2]
    set = ["total_steps=2000000",     # overrides of every trial; "{seed}" in a value becomes the trial's
           "env_kwargs.task_seed={seed}"]  # seed (here: each seed trains on its own finite task set)
    threads_per_trial = 1             # optional: torch threads (and Ray CPUs) per trial; default: as many
                                      # as fill the CPUs with the trials to run

    [grid]                            # every combination of these values
    "env_kwargs.num_tasks" = [10, 100]

    [[variants]]                      # optional: alternatives crossed with the grid (a key is set by the
    "agent.ib_beta" = 0.0             # grid or by the variants, not both)
    [[variants]]
    "agent.ib_beta" = 0.01
    [[variants]]
    label = "rl2"                     # optional: names the variant's trials instead of its overrides
    "agent.kind" = "rnn"

Every trial is one ordinary run directory, named after its own overrides and seed, so the same spec always
maps a setting to the same directory: that is what lets a re-run skip finished trials and resume the others.
Nothing here imports Ray.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from pathlib import Path
from typing import Any

from belief_rl.config import TrainConfig
from belief_rl.errors import BeliefRLError
from belief_rl.presets import make_config

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

#: Written in an override's value, stands for the trial's seed (e.g. ``env_kwargs.task_seed={seed}``).
SEED_PLACEHOLDER = "{seed}"
#: A variant's optional name, used for its trials' directories instead of its overrides.
LABEL_KEY = "label"
_LABEL = r"[A-Za-z0-9._+-]+"
#: Longest trial (directory) name: file systems allow 255 bytes per name.
MAX_NAME_BYTES = 200

SPEC_KEYS = ("name", "env", "agent", "algorithm", "preset", "seeds", "set", "threads_per_trial", "grid",
             "variants")


class SpecError(BeliefRLError):
    """A sweep spec that cannot be read or does not describe a sweep."""


def format_value(value: Any) -> str:
    """A spec value (TOML scalar or list) as the text of a ``--set`` override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    if isinstance(value, (int, float, str)):
        return str(value)
    raise SpecError(f"unsupported value {value!r} (use numbers, strings, booleans or lists of them)")


@dataclasses.dataclass(frozen=True)
class Trial:
    """One cell of a sweep: its own overrides (on top of the spec's), a seed, and the name of its run
    directory."""

    name: str
    overrides: tuple[str, ...]
    seed: int
    label: str | None = None

    def settings(self) -> dict[str, str]:
        """The trial's own overrides as ``{key: value text}`` (for tables), after its variant's label."""
        settings = {"label": self.label} if self.label else {}
        return {**settings, **dict(override.split("=", 1) for override in self.overrides)}


@dataclasses.dataclass
class SweepSpec:
    """What to run: a base config (env, agent, algorithm, preset, ``base_overrides``), what to vary
    (``grid``: every combination; ``variants``: alternatives crossed with the grid) and ``seeds``."""

    name: str
    env: str | None = None
    agent: str | None = None
    algorithm: str | None = None
    preset: str | None = None
    seeds: tuple[int, ...] = (0,)
    base_overrides: tuple[str, ...] = ()
    grid: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    variants: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    threads_per_trial: int | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.name):
            raise SpecError(f"sweep name {self.name!r} may hold only letters, digits, '.', '_' and '-'")
        if not self.seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in self.seeds):
            raise SpecError(f"seeds must be a non-empty list of integers, got {list(self.seeds)!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise SpecError(f"seeds repeat: {list(self.seeds)!r}")
        if self.threads_per_trial is not None and (not isinstance(self.threads_per_trial, int)
                                                   or isinstance(self.threads_per_trial, bool)
                                                   or self.threads_per_trial < 1):
            raise SpecError(f"threads_per_trial must be a positive integer, got {self.threads_per_trial!r}")
        for key, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise SpecError(f"grid entry {key!r} must be a non-empty list of values")
        if not isinstance(self.variants, list) or not all(isinstance(v, dict) for v in self.variants):
            raise SpecError("variants must be a list of tables of overrides")
        for variant in self.variants:
            both = sorted(set(variant) & set(self.grid))
            if both:
                # The grid's value would silently win, crossing the variant with values it meant to fix.
                raise SpecError(f"{', '.join(map(repr, both))} is set both by the grid and by a variant; "
                                "set each key in one of them")
            label = variant.get(LABEL_KEY)
            if label is not None and not (isinstance(label, str) and re.fullmatch(_LABEL, label)):
                raise SpecError(f"variant label {label!r} may hold only letters, digits, '.', '_', '+', '-'")
        base_keys = (override.split("=", 1)[0].strip() for override in self.base_overrides)
        variant_keys = (key for variant in self.variants for key in variant if key != LABEL_KEY)
        for key in (*base_keys, *self.grid, *variant_keys):
            if key in ("seed", "env_id"):
                raise SpecError(f"{key!r} cannot vary inside a sweep: use seeds (or one spec per env)")

    # -- reading ------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], default_name: str = "sweep") -> SweepSpec:
        """A spec from the parsed TOML/JSON document (see the module docstring for the keys)."""
        unknown = sorted(set(data) - set(SPEC_KEYS))
        if unknown:
            raise SpecError(f"unknown key(s) {', '.join(map(repr, unknown))} in sweep spec; "
                            f"known: {', '.join(SPEC_KEYS)}")
        base = data.get("set", [])
        if not isinstance(base, list) or not all(isinstance(o, str) for o in base):
            raise SpecError("set must be a list of KEY=VALUE strings")
        for key in ("name", "env", "agent", "algorithm", "preset"):
            if key in data and not isinstance(data[key], str):
                raise SpecError(f"{key} must be a string, got {data[key]!r}")
        grid = data.get("grid", {})
        if not isinstance(grid, dict):
            raise SpecError("grid must be a table of KEY = [values]")
        seeds = data.get("seeds", [0])
        return cls(name=data.get("name", default_name), env=data.get("env"), agent=data.get("agent"),
                   algorithm=data.get("algorithm"), preset=data.get("preset"),
                   seeds=tuple(seeds) if isinstance(seeds, list) else (seeds,), base_overrides=tuple(base),
                   grid=dict(grid), variants=data.get("variants", []),
                   threads_per_trial=data.get("threads_per_trial"))

    @classmethod
    def from_file(cls, path: str | Path) -> SweepSpec:
        """Read a ``.toml`` or ``.json`` spec; the sweep's default name is the file's stem."""
        path = Path(path)
        if path.suffix not in (".toml", ".json"):
            raise SpecError(f"sweep spec {path} must be a .toml or .json file")
        try:
            text = path.read_text()
        except OSError as exc:
            raise SpecError(f"cannot read sweep spec {path}: {exc.strerror}") from None
        if path.suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SpecError(f"{path} is not valid JSON ({exc})") from None
        else:
            if tomllib is None:
                raise SpecError("TOML sweep specs need Python 3.11+; write the spec as JSON instead")
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise SpecError(f"{path} is not valid TOML ({exc})") from None
        if not isinstance(data, dict):
            raise SpecError(f"{path} must hold a table of settings")
        return cls.from_dict(data, default_name=path.stem)

    def to_dict(self) -> dict[str, Any]:
        """The spec as written in a file (round-trips through :meth:`from_dict`)."""
        data = {"name": self.name, "env": self.env, "agent": self.agent, "algorithm": self.algorithm,
                "preset": self.preset, "seeds": list(self.seeds), "set": list(self.base_overrides),
                "threads_per_trial": self.threads_per_trial, "grid": self.grid, "variants": self.variants}
        return {key: value for key, value in data.items() if value is not None}

    # -- expansion ----------------------------------------------------------------------------------
    def trials(self) -> list[Trial]:
        """Every (seed × variant × grid cell), seed-major, in a fixed order; names are unique."""
        keys = list(self.grid)
        cells = [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]
        trials = []
        # Seed-major: a sweep stopped part-way has every setting at its first seeds.
        for seed in self.seeds:
            for variant in self.variants or [{}]:
                label = variant.get(LABEL_KEY)
                own = {key: value for key, value in variant.items() if key != LABEL_KEY}
                for cell in cells:
                    overrides = _overrides({**own, **cell})
                    name = trial_name((label, *_overrides(cell)) if label else overrides, seed)
                    trials.append(Trial(name, overrides, seed, label))
        too_long = next((trial.name for trial in trials if len(trial.name.encode()) > MAX_NAME_BYTES), None)
        if too_long:
            raise SpecError(f"trial name {too_long[:60]}... is longer than {MAX_NAME_BYTES} bytes, too long "
                            "for a directory: give the variants a label")
        names = [trial.name for trial in trials]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise SpecError(f"the spec yields the same trial more than once: {', '.join(repeated)}")
        return trials

    def config(self, trial: Trial, num_threads: int | None = None) -> TrainConfig:
        """The trial's validated config: the spec's base, then the trial's overrides and seed; torch threads
        ``num_threads`` (default: the spec's ``threads_per_trial``, else the preset's). Raises ValueError, one
        line, on an unknown setting or invalid value."""
        threads = num_threads if num_threads is not None else self.threads_per_trial
        fields: dict[str, Any] = {"seed": trial.seed, **({"num_threads": threads} if threads else {})}
        overrides = [override.replace(SEED_PLACEHOLDER, str(trial.seed))
                     for override in (*self.base_overrides, *trial.overrides)]
        return absolute_paths(make_config(self.env, self.agent, self.algorithm, self.preset, overrides,
                                          **fields))


def _overrides(settings: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f"{key}={format_value(value)}" for key, value in settings.items())


def absolute_paths(config: TrainConfig) -> TrainConfig:
    """``config`` with its file settings (a fitted prior, a run to transfer from) made absolute: relative to
    where the sweep is started, since the trials may run in other working directories."""
    svg0, hierarchy = config.svg0, config.hierarchy
    if svg0.prior:
        svg0 = dataclasses.replace(svg0, prior=str(Path(svg0.prior).resolve()))
    if hierarchy.transfer_from:
        hierarchy = dataclasses.replace(hierarchy, transfer_from=str(Path(hierarchy.transfer_from).resolve()))
    return dataclasses.replace(config, svg0=svg0, hierarchy=hierarchy)


def trial_name(overrides: tuple[str, ...], seed: int) -> str:
    """A directory name that says what the trial is: ``agent.ib_beta=0.01,env_kwargs.num_tasks=10,seed=0``
    (characters a file name should not hold become ``-``)."""
    name = ",".join([*overrides, f"seed={seed}"])
    return re.sub(r"[^A-Za-z0-9._=,+-]", "-", name)
