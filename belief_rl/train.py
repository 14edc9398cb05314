"""The training run: build everything from a :class:`TrainConfig`, learn, checkpoint, resume.

A run directory holds ``config.json``, ``metrics.csv``, TensorBoard events under
``tensorboard/`` and ``checkpoint.pt``. Checkpoints are written atomically every
``checkpoint_every`` updates, at the end, and when the run is interrupted (Ctrl-C
or SIGTERM: after the update under way), and they carry every random state, so ``resume`` continues exactly
where the last checkpoint stopped.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from tqdm import tqdm

import envs
from belief_rl.agents import Agent, make_agent
from belief_rl.algorithms import CRITIC_FOR_ALGORITHM, make_learner
from belief_rl.checkpoint import CHECKPOINT_NAME, CheckpointError, atomic_write_bytes, load_checkpoint, save_checkpoint
from belief_rl.config import TrainConfig
from belief_rl.errors import BeliefRLError
from belief_rl.evaluation import evaluate_agent
from belief_rl.logging_utils import MetricsLogger
from belief_rl.rollout import collect_rollout
from belief_rl.seeding import training_seed

CONFIG_NAME = "config.json"
# Learning-curve evaluations use their own held-out tasks, apart from those of `belief-rl evaluate`
# (seed 0 by default), so nothing reported at the end was looked at during training.
MONITOR_EVAL_SEED = 999


class RunExistsError(BeliefRLError):
    """The run directory already holds a run and ``--resume`` was not given."""


def build_agent(config: TrainConfig, env: gym.vector.VectorEnv | None = None) -> Agent:
    """The agent for ``config``, sized by the spaces and task spec of ``env`` (or of a one-task probe)."""
    probe = env if env is not None else envs.make_vector_env(config.env_id, 1, **config.env_kwargs)
    agent = make_agent(config.agent, probe.single_observation_space, probe.single_action_space,
                       probe.unwrapped.task_spec, CRITIC_FOR_ALGORITHM[config.algorithm])
    if env is None:
        probe.close()
    return agent


def read_config(run_dir: Path) -> TrainConfig:
    """The :class:`TrainConfig` stored in a run directory."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory (no {CONFIG_NAME})")
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise CheckpointError(f"{path} is corrupt ({exc})") from None


def load_agent(run_dir: Path) -> tuple[Agent, TrainConfig, dict[str, Any]]:
    """Rebuild a trained agent from a run directory's config and checkpoint."""
    config = read_config(run_dir)
    payload = load_checkpoint(Path(run_dir) / CHECKPOINT_NAME, expected_env_id=config.env_id)
    agent = build_agent(config)
    try:
        agent.load_state_dict(payload["agent"])
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint in {run_dir} does not match its config ({str(exc).splitlines()[0]})") from None
    return agent, config, payload


class Trainer:
    """Owns one run: environment, agent, learner, logging and checkpoints."""

    def __init__(self, config: TrainConfig, run_dir: Path) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        torch.set_num_threads(config.num_threads)
        torch.manual_seed(config.seed)
        self.env = envs.make_vector_env(config.env_id, config.num_envs, **config.env_kwargs)
        self.agent = build_agent(config, self.env)
        self.learner = make_learner(self.agent, config)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.update = 0
        self.global_step = 0
        self.elapsed = 0.0  # training wall time across resumes
        self.last_eval = float("nan")

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def create(cls, config: TrainConfig, run_dir: Path) -> Trainer:
        """Start a new run in ``run_dir`` (which must not hold one already)."""
        run_dir = Path(run_dir)
        if (run_dir / CHECKPOINT_NAME).exists() or (run_dir / CONFIG_NAME).exists():
            raise RunExistsError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --run-dir")
        trainer = cls(config, run_dir)
        atomic_write_bytes(run_dir / CONFIG_NAME, json.dumps(config.to_dict(), indent=2).encode())
        return trainer

    @classmethod
    def resume(cls, run_dir: Path, total_steps: int | None = None) -> Trainer:
        """Continue the run in ``run_dir`` from its last checkpoint (optionally with a new budget)."""
        config = read_config(run_dir)
        payload = load_checkpoint(Path(run_dir) / CHECKPOINT_NAME, expected_env_id=config.env_id)
        if total_steps is not None:
            config.total_steps = total_steps
            atomic_write_bytes(Path(run_dir) / CONFIG_NAME, json.dumps(config.to_dict(), indent=2).encode())
        trainer = cls(config, run_dir)
        trainer._restore(payload)
        return trainer

    def _state(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "agent": self.agent.state_dict(),
                "learner": self.learner.state_dict(), "update": self.update,
                "global_step": self.global_step, "elapsed": self.elapsed, "last_eval": self.last_eval,
                "torch_rng": torch.get_rng_state(), "generator": self.generator.get_state()}

    def _restore(self, payload: dict[str, Any]) -> None:
        try:
            self.agent.load_state_dict(payload["agent"])
            self.learner.load_state_dict(payload["learner"])
            self.update, self.global_step = payload["update"], payload["global_step"]
            self.elapsed, self.last_eval = payload["elapsed"], payload["last_eval"]
            torch.set_rng_state(payload["torch_rng"])
            self.generator.set_state(payload["generator"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint in {self.run_dir} does not match its config ({str(exc).splitlines()[0]})") from None

    def save(self) -> None:
        """Atomically write the checkpoint."""
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, self._state())

    # -- training --------------------------------------------------------------------------------
    def train(self, progress: bool = True, max_updates: int | None = None) -> dict[str, float]:
        """Train until ``total_steps`` (or ``max_updates`` more updates); returns the last metrics."""
        cfg = self.config
        logger = MetricsLogger(self.run_dir, resume_step=self.global_step if self.update else None)
        bar = tqdm(total=cfg.total_steps, initial=self.global_step, unit="step", unit_scale=True,
                   disable=not progress, mininterval=1.0, dynamic_ncols=True)
        row: dict[str, float] = {}
        updates_done = 0
        stop = _StopRequest()
        previous_handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.global_step < cfg.total_steps and (max_updates is None or updates_done < max_updates):
                row = self._one_update()
                updates_done += 1
                logger.log(row)
                bar.update(int(row["rollout_steps"]))
                bar.set_postfix(ret=f"{row['train_return']:.2f}", eval=f"{self.last_eval:.2f}",
                                sps=f"{row['steps_per_sec']:.0f}", refresh=False)
                if self.update % cfg.checkpoint_every == 0:
                    self.save()
                if stop.requested:
                    break
            self.save()
        except KeyboardInterrupt:
            print("interrupted twice: stopped mid-update; --resume continues from the last checkpoint",
                  file=sys.stderr)
            raise
        finally:
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
            bar.close()
            logger.close()
            self.env.close()
        if stop.requested:
            print(f"interrupted: checkpoint saved at step {self.global_step}; continue with --resume", file=sys.stderr)
            raise KeyboardInterrupt
        return row

    def _one_update(self) -> dict[str, float]:
        cfg = self.config
        start = time.perf_counter()
        self.learner.set_progress(self.global_step / cfg.total_steps)
        rollout = collect_rollout(self.env, self.agent, training_seed(cfg.seed, self.update, cfg.num_envs))
        metrics = self.learner.update(rollout, self.generator)
        self.update += 1
        self.global_step += rollout.num_steps
        duration = time.perf_counter() - start
        eval_return = float("nan")  # logged only on updates that evaluate, so curves show real points
        if self.update % cfg.eval_every == 0 or self.global_step >= cfg.total_steps:
            returns = evaluate_agent(self.agent, cfg.env_id, cfg.env_kwargs, cfg.eval_tasks,
                                     eval_seed=MONITOR_EVAL_SEED, deterministic=cfg.eval_deterministic).returns
            self.last_eval = eval_return = float(returns.mean())
        self.elapsed += time.perf_counter() - start
        return {"update": self.update, "global_step": self.global_step, "wall_time": round(self.elapsed, 3),
                "steps_per_sec": rollout.num_steps / duration, "rollout_steps": rollout.num_steps,
                "train_return": float(rollout.returns().mean()), "eval_return": eval_return, **metrics}


class _StopRequest:
    """SIGINT / SIGTERM handler. The first signal lets the current update finish, be logged and checkpointed (an
    update cut in half would leave the weights and optimizer between two checkpoints); a second stops at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("stopping after the update under way (interrupt again to stop at once)", file=sys.stderr, flush=True)
