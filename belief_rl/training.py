"""The training run: build everything from a :class:`TrainConfig`, learn, checkpoint, resume.

A run directory (see :mod:`belief_rl.runs`) holds ``config.json``, ``metrics.csv``, TensorBoard events under
``tensorboard/`` and ``checkpoint.pt``. Checkpoints are written atomically every ``checkpoint_every`` updates,
every ``checkpoint_seconds`` of training, at the end, and when the run is interrupted (Ctrl-C or SIGTERM:
after the update under way), and they carry every random state, so ``resume`` continues exactly where the last
checkpoint stopped. A run killed before its first checkpoint resumes by starting afresh from its config.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from tqdm import tqdm

from belief_rl import envs
from belief_rl.agents.latent import LatentPolicyAgent
from belief_rl.belief_report import belief_figure, has_belief_figure
from belief_rl.checkpoint import (
    CHECKPOINT_NAME,
    WEIGHTS_ONLY,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from belief_rl.config import TrainConfig
from belief_rl.errors import BeliefRLError
from belief_rl.evaluation import evaluate_agent
from belief_rl.hierarchy.transfer import freeze_modules, transfer_from_run
from belief_rl.logging_utils import METRICS_NAME, TENSORBOARD_DIR, MetricsLogger
from belief_rl.rollout import collect_rollout
from belief_rl.runs import (
    CONFIG_NAME,
    build_agent,
    build_learner,
    config_differences,
    read_config,
    write_config,
)
from belief_rl.seeding import training_seed

# Learning-curve evaluations use their own held-out tasks, apart from those of `belief-rl evaluate`
# (seed 0 by default), so nothing reported at the end was looked at during training.
MONITOR_EVAL_SEED = 999


class RunExistsError(BeliefRLError):
    """The run directory already holds a run and ``--resume`` was not given."""


class Trainer:
    """Owns one run: environment, agent, learner, logging and checkpoints."""

    def __init__(self, config: TrainConfig, run_dir: Path, transfer: bool = False) -> None:
        """``transfer``: load the modules ``config.hierarchy`` names from its ``transfer_from`` run (a new
        run; a resumed one has them in its own checkpoint)."""
        self.config = config
        self.run_dir = Path(run_dir)
        torch.set_num_threads(config.num_threads)
        torch.manual_seed(config.seed)
        self.env = envs.make_vector_env(config.env_id, config.num_envs, **config.env_kwargs)
        envs.check_contract(self.env, config.env_id)
        self.agent = build_agent(config, self.env)
        if isinstance(self.agent, LatentPolicyAgent):
            # Before the learner copies the agent into its target networks.
            if transfer and config.hierarchy.transfer_from:
                transfer_from_run(self.agent, config.hierarchy)
            freeze_modules(self.agent, config.hierarchy.freeze)
        self.learner = build_learner(self.agent, config)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.update = 0
        self.global_step = 0
        self.elapsed = 0.0  # training wall time across resumes
        self.last_eval = float("nan")
        self.weights_only = False  # restored from a slimmed checkpoint: nothing left to train
        self.pending_figure: Figure | None = None  # a belief figure for TensorBoard, drawn at an evaluation

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def create(cls, config: TrainConfig, run_dir: Path) -> Trainer:
        """Start a new run in ``run_dir`` (which must not hold one already)."""
        run_dir = Path(run_dir)
        if (run_dir / CHECKPOINT_NAME).exists() or (run_dir / CONFIG_NAME).exists():
            raise RunExistsError(f"{run_dir} already holds a run; pass --resume to continue it "
                                 "or choose another --run-dir")
        trainer = cls(config, run_dir, transfer=True)
        write_config(run_dir, config)
        return trainer

    @classmethod
    def resume(cls, run_dir: Path, total_steps: int | None = None, num_threads: int | None = None) -> Trainer:
        """Continue the run in ``run_dir`` from its last checkpoint (optionally with a new budget or thread
        count).

        A run with a config but no checkpoint yet (killed before its first one) starts afresh from its config;
        the metrics it had logged are dropped, since no saved state matches them.
        """
        run_dir = Path(run_dir)
        config = read_config(run_dir)
        has_checkpoint = (run_dir / CHECKPOINT_NAME).exists()
        payload = (load_checkpoint(run_dir / CHECKPOINT_NAME, expected_env_id=config.env_id)
                   if has_checkpoint else {})
        if payload.get(WEIGHTS_ONLY) and payload["global_step"] < (total_steps or config.total_steps):
            raise CheckpointError(f"{run_dir} keeps its final weights only (slimmed): it can be evaluated "
                                  "and transferred from, not trained further")
        changes = {name: value for name, value in (("total_steps", total_steps), ("num_threads", num_threads))
                   if value is not None and value != getattr(config, name)}
        if changes:
            config = dataclasses.replace(config, **changes)
            write_config(run_dir, config)
        if not has_checkpoint:
            print(f"{run_dir} has no checkpoint yet: starting it afresh from its config", file=sys.stderr)
            (run_dir / METRICS_NAME).unlink(missing_ok=True)
            shutil.rmtree(run_dir / TENSORBOARD_DIR, ignore_errors=True)
            return cls(config, run_dir, transfer=True)  # nothing saved yet: its transfer too
        trainer = cls(config, run_dir)
        trainer._restore(payload)
        return trainer

    def _state(self) -> dict[str, Any]:
        if self.weights_only:
            return {**self._weights_and_counters(), WEIGHTS_ONLY: True}
        return {**self._weights_and_counters(), "learner": self.learner.state_dict(),
                "torch_rng": torch.get_rng_state(), "generator": self.generator.get_state()}

    def _weights_and_counters(self) -> dict[str, Any]:
        """The config, the agent's weights and the progress counters: what a slimmed checkpoint keeps."""
        return {"config": self.config.to_dict(), "agent": self.agent.state_dict(), "update": self.update,
                "global_step": self.global_step, "elapsed": self.elapsed, "last_eval": self.last_eval}

    def _restore(self, payload: dict[str, Any]) -> None:
        try:
            self.agent.load_state_dict(payload["agent"])
            self.update, self.global_step = payload["update"], payload["global_step"]
            self.elapsed, self.last_eval = payload["elapsed"], payload["last_eval"]
            self.weights_only = bool(payload.get(WEIGHTS_ONLY))
            if not self.weights_only:
                self.learner.load_state_dict(payload["learner"])
                torch.set_rng_state(payload["torch_rng"])
                self.generator.set_state(payload["generator"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint in {self.run_dir} does not match its config "
                                  f"({str(exc).splitlines()[0]})") from None

    def save(self) -> None:
        """Atomically write the checkpoint."""
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, self._state())

    # -- training --------------------------------------------------------------------------------
    def train(self, progress: bool = True, max_updates: int | None = None,
              on_update: Callable[[dict[str, float]], None] | None = None) -> dict[str, float]:
        """Train until ``total_steps`` (or ``max_updates`` more updates); returns the last metrics.

        ``on_update`` is called with each update's metrics row once it is logged (a sweep reports them).
        """
        cfg = self.config
        logger = MetricsLogger(self.run_dir, resume_step=self.global_step if self.update else None)
        bar = tqdm(total=cfg.total_steps, initial=self.global_step, unit="step", unit_scale=True,
                   disable=not progress, mininterval=1.0, dynamic_ncols=True)
        row: dict[str, float] = {}
        updates_done = 0
        last_save = time.monotonic()
        stop = _StopRequest()
        # Signal handlers can only be set from the main thread; elsewhere (a thread of a sweep, say) a signal
        # interrupts as Python's default does.
        in_main = threading.current_thread() is threading.main_thread()
        previous_handlers = ({sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
                             if in_main else {})
        try:
            while self.global_step < cfg.total_steps and (max_updates is None or updates_done < max_updates):
                row = self._one_update()
                updates_done += 1
                logger.log(row)
                if on_update is not None:
                    on_update(row)
                if self.pending_figure is not None:
                    logger.add_figure("beliefs", self.pending_figure, self.global_step)
                    self.pending_figure = None
                bar.update(int(row["rollout_steps"]))
                bar.set_postfix(ret=f"{row['train_return']:.2f}", eval=f"{self.last_eval:.2f}",
                                sps=f"{row['steps_per_sec']:.0f}", refresh=False)
                if (self.update % cfg.checkpoint_every == 0
                        or time.monotonic() - last_save >= cfg.checkpoint_seconds):
                    self.save()
                    last_save = time.monotonic()
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
            print(f"interrupted: checkpoint saved at step {self.global_step}; continue with --resume",
                  file=sys.stderr)
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
        eval_return = eval_success = float("nan")  # logged only on updates that evaluate: real points only
        if self.update % cfg.eval_every == 0 or self.global_step >= cfg.total_steps:
            evaluation = evaluate_agent(self.agent, cfg.env_id, cfg.env_kwargs, cfg.eval_tasks,
                                        eval_seed=MONITOR_EVAL_SEED, deterministic=cfg.eval_deterministic)
            self.last_eval = eval_return = float(evaluation.returns.mean())
            if evaluation.success is not None:
                eval_success = float(evaluation.success.mean())
            if cfg.belief_figures and has_belief_figure(self.agent, cfg.env_id):
                self.pending_figure, _ = belief_figure(self.agent, cfg.env_id, cfg.env_kwargs,
                                                       eval_seed=MONITOR_EVAL_SEED,
                                                       num_tasks=cfg.belief_figure_tasks)
        self.elapsed += time.perf_counter() - start
        return {"update": self.update, "global_step": self.global_step, "wall_time": round(self.elapsed, 3),
                "steps_per_sec": rollout.num_steps / duration, "rollout_steps": rollout.num_steps,
                "train_return": float(rollout.returns().mean()), "eval_return": eval_return,
                **({"eval_success": eval_success} if rollout.success is not None else {}), **metrics}


def train(config: TrainConfig, run_dir: str | Path, progress: bool = True,
          on_update: Callable[[dict[str, float]], None] | None = None) -> Trainer:
    """Train ``config`` to completion in ``run_dir`` and return the trainer (agent, learner, metrics).

    A run directory that already holds this config is resumed from its last checkpoint (a finished one is
    returned as it is), with ``config``'s step budget and thread count; one that holds a different config
    raises :class:`RunExistsError`. ``on_update`` is passed to :meth:`Trainer.train`.
    """
    run_dir = Path(run_dir)
    if (run_dir / CONFIG_NAME).exists():
        differences = config_differences(read_config(run_dir), config)
        if differences:
            raise RunExistsError(f"{run_dir} holds a run with another config (it differs in "
                                 f"{', '.join(differences)}); choose another run directory")
        trainer = Trainer.resume(run_dir, total_steps=config.total_steps, num_threads=config.num_threads)
    else:
        trainer = Trainer.create(config, run_dir)
    if trainer.global_step < trainer.config.total_steps:
        trainer.train(progress=progress, on_update=on_update)
    return trainer


class _StopRequest:
    """SIGINT / SIGTERM handler. The first signal lets the current update finish, be logged and checkpointed
    (an update cut in half would leave the weights and optimizer between two checkpoints); a second stops at
    once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("stopping after the update under way (interrupt again to stop at once)", file=sys.stderr,
              flush=True)
