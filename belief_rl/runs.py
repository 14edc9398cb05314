"""Run directories: the stored config, and building or loading the agent and learner a config describes.

A run directory holds ``config.json`` (the :class:`~belief_rl.config.TrainConfig`, plus the package version
and git commit that wrote it), ``checkpoint.pt`` (see :mod:`belief_rl.checkpoint`), ``metrics.csv`` and
TensorBoard events under ``tensorboard/``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import gymnasium as gym

from belief_rl import envs
from belief_rl.agents import Agent, make_agent
from belief_rl.agents.base import SequenceBatch
from belief_rl.algorithms import PPO, SVG0, Learner
from belief_rl.algorithms.regularizers import PolicyRegularizer
from belief_rl.checkpoint import (
    CHECKPOINT_NAME,
    WEIGHTS_ONLY,
    WEIGHTS_ONLY_KEYS,
    CheckpointError,
    atomic_write_bytes,
    load_checkpoint,
    save_checkpoint,
)
from belief_rl.config import TrainConfig
from belief_rl.histories import scripted_histories
from belief_rl.seeding import history_seed
from belief_rl.version import __version__

CONFIG_NAME = "config.json"
PROVENANCE_KEY = "provenance"  # in config.json beside the config's fields: package version and git commit
# The critic each learner needs its agent to be built with.
CRITIC_FOR_ALGORITHM = {"ppo": "value", "svg0": "q"}


def git_commit() -> str | None:
    """The commit of the package's source checkout (``+dirty`` with uncommitted changes), None outside git."""
    source = Path(__file__).resolve().parent
    try:
        # An installed copy inside someone else's repository (a venv in a project) is not that repository.
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=source, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        if Path(top).resolve() != source.parent:
            return None
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=source,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def write_config(run_dir: Path, config: TrainConfig) -> None:
    """Atomically write ``config.json`` with the package version and git commit that wrote it."""
    data = {**config.to_dict(),
            PROVENANCE_KEY: {"belief_rl_version": __version__, "git_commit": git_commit()}}
    atomic_write_bytes(Path(run_dir) / CONFIG_NAME, json.dumps(data, indent=2).encode())


def read_config(run_dir: Path) -> TrainConfig:
    """The :class:`TrainConfig` stored in a run directory."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory (no {CONFIG_NAME})")
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        data.pop(PROVENANCE_KEY, None)
        return TrainConfig.from_dict(data)
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} is corrupt ({str(exc).splitlines()[0]})") from None


# Settings a resumed run may change: neither changes what is learned, only for how long and how fast.
RESUMABLE_FIELDS = ("total_steps", "num_threads")


def config_differences(stored: TrainConfig, config: TrainConfig) -> list[str]:
    """The dotted settings (``agent.ib_beta``) in which ``config`` differs from the run's ``stored`` config,
    apart from :data:`RESUMABLE_FIELDS`. Empty when ``config`` can resume the stored run."""
    def flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[prefix + key] = value
        return out

    old, new = flat(stored.to_dict()), flat(config.to_dict())
    return [key for key in dict.fromkeys([*old, *new])
            if key not in RESUMABLE_FIELDS and old.get(key) != new.get(key)]


def read_provenance(run_dir: Path) -> dict[str, Any]:
    """The package version and git commit recorded in a run's ``config.json`` (empty for older runs)."""
    data = json.loads((Path(run_dir) / CONFIG_NAME).read_text())
    return dict(data.get(PROVENANCE_KEY, {}))


def build_agent(config: TrainConfig, env: gym.vector.VectorEnv | None = None) -> Agent:
    """The agent for ``config``, sized by the spaces and task spec of ``env`` (or of a one-task probe).

    Raises:
        belief_rl.envs.ContractError: if the env does not meet the environment contract.
    """
    probe = env if env is not None else envs.make_vector_env(config.env_id, 1, **config.env_kwargs)
    try:
        task_spec = envs.check_contract(probe, config.env_id) if env is None else probe.unwrapped.task_spec
        return make_agent(config.agent, probe.single_observation_space, probe.single_action_space, task_spec,
                          CRITIC_FOR_ALGORITHM[config.algorithm], config.hierarchy,
                          getattr(probe.unwrapped, "observation_groups", None))
    finally:
        if env is None:
            probe.close()


def build_learner(agent: Agent, config: TrainConfig) -> Learner:
    """The learner named by ``config.algorithm``, with its prior and scripted histories if configured."""
    if config.algorithm == "svg0":
        return SVG0(agent, config.svg0, _prior_regularizer(agent, config), _belief_histories(agent, config),
                    prior_lr=config.hierarchy.prior_lr, entropy_bonus=config.hierarchy.entropy_bonus)
    return PPO(agent, config.ppo, config.num_threads)


def _belief_histories(agent: Agent, config: TrainConfig) -> SequenceBatch | None:
    """The scripted explorer's meta-episodes for the belief's extra steps, if configured (seeded by the run's
    seed, so a resumed run collects the same pool; training tasks)."""
    if config.svg0.belief_histories != "explorer":
        return None
    return scripted_histories(config.env_id, config.env_kwargs, agent, config.svg0.belief_history_pool,
                              seed=history_seed(config.seed))


def _prior_regularizer(agent: Agent, config: TrainConfig) -> PolicyRegularizer | None:
    """The KL-to-prior regularizer of ``config.svg0.prior``, checked against the agent's spaces."""
    if not config.svg0.prior:
        return None
    # Behavioral priors need the optional gpytorch; runs without a prior never import them.
    from belief_rl.priors import KLPriorRegularizer, PriorError, load_prior

    prior, _ = load_prior(Path(config.svg0.prior), env_id=config.env_id)
    action_dim = int(agent.action_space.shape[0])
    if prior.obs_dim != agent.obs_dim or prior.action_dim != action_dim:
        raise PriorError(f"prior {config.svg0.prior} expects observation/action sizes {prior.obs_dim}/"
                         f"{prior.action_dim}, the env has {agent.obs_dim}/{action_dim}")
    return KLPriorRegularizer(prior, config.svg0.target_kl)


def load_agent(run_dir: Path) -> tuple[Agent, TrainConfig, dict[str, Any]]:
    """Rebuild a trained agent from a run directory's config and checkpoint."""
    config = read_config(run_dir)
    payload = load_checkpoint(Path(run_dir) / CHECKPOINT_NAME, expected_env_id=config.env_id)
    agent = build_agent(config)
    try:
        agent.load_state_dict(payload["agent"])
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint in {run_dir} does not match its config "
                              f"({str(exc).splitlines()[0]})") from None
    return agent, config, payload


def slim_checkpoint(run_dir: Path) -> tuple[int, int]:
    """Rewrite a finished run's checkpoint with its weights and counters only, dropping the learner's state
    (replay buffer, optimizers, target networks) and the RNG streams; returns the file's ``(bytes before,
    bytes after)``.

    What evaluation, belief plots and transfer read stays, so a slimmed run can be shipped as a trained
    artifact (an off-policy run's replay is most of its checkpoint). It cannot be trained further, so an
    unfinished run is refused (:class:`CheckpointError`). Slimming a slimmed run changes nothing.
    """
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT_NAME
    config = read_config(run_dir)
    payload = load_checkpoint(path, expected_env_id=config.env_id)
    before = path.stat().st_size
    if payload.get(WEIGHTS_ONLY):
        return before, before
    if payload["global_step"] < config.total_steps:
        done, budget = payload["global_step"], config.total_steps
        raise CheckpointError(f"{run_dir} has trained {done:,} of its {budget:,} steps: only a finished run "
                              "can be slimmed (a slimmed run cannot resume)")
    save_checkpoint(path, {**{key: payload[key] for key in WEIGHTS_ONLY_KEYS}, WEIGHTS_ONLY: True})
    return before, path.stat().st_size
