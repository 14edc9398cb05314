"""Run a sweep's trials on Ray Tune: locally (a Ray instance started for the sweep) or on a cluster.

Each trial is an ordinary run directory under ``SWEEP_DIR/trials/``, trained by :func:`belief_rl.train`
inside a Ray Tune trial. The run directories, not Ray's experiment state, are the record: a re-run skips
finished trials and resumes unfinished ones from their own checkpoints, so a sweep that was killed, or whose
machine went away, continues by being started again. Ray's own files go to ``SWEEP_DIR/ray/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from belief_rl.checkpoint import CheckpointError, atomic_write_bytes
from belief_rl.errors import BeliefRLError
from belief_rl.experiments import machine_description
from belief_rl.sweep.results import InvocationLog, trial_dir, trial_progress, write_summary
from belief_rl.sweep.spec import SweepSpec, Trial

RAY_MISSING = "belief-rl sweep runs on Ray Tune, which is not installed: pip install 'belief_rl[sweep]'"
SPEC_COPY = "spec.json"
LOCK_NAME = ".lock"


class SweepError(BeliefRLError):
    """A sweep that cannot start (Ray missing or unreachable)."""


def run_sweep(spec: SweepSpec, sweep_dir: str | Path, *, address: str | None = None,
              max_concurrent: int | None = None, progress: bool = True,
              echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train every unfinished trial of ``spec`` under ``sweep_dir`` on Ray Tune and return the summary
    (also written to ``summary.json`` and ``summary.csv``).

    ``address`` connects to a running Ray cluster (default: start a local instance with every core);
    ``max_concurrent`` caps the trials running at once (default: as many as the CPUs allow, given each
    trial's threads). A trial whose config is invalid or whose training raises fails alone: it is reported
    by name in the summary's ``error`` column and the others run on.
    """
    echo = echo or (lambda line: print(line, flush=True))
    sweep_dir = Path(sweep_dir).resolve()
    trials = spec.trials()
    errors: dict[str, str] = {}
    todo: list[tuple[Trial, dict[str, Any]]] = []
    finished = 0
    for trial in trials:
        try:
            # Invalid settings, corrupt runs and runs of an edited spec fail here, by name, before any run.
            steps = trial_progress(spec, sweep_dir, trial)
        except (ValueError, CheckpointError) as exc:
            errors[trial.name] = str(exc)
            continue
        if steps is not None and steps[0] >= steps[1]:
            finished += 1
        else:
            todo.append((trial, {"start_step": steps[0] if steps else 0}))
    if todo:
        _import_ray()  # before anything is written: without Ray this invocation runs nothing
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(sweep_dir):
        atomic_write_bytes(sweep_dir / SPEC_COPY, json.dumps(spec.to_dict(), indent=2).encode())
        for name, error in errors.items():
            echo(f"trial {name} failed: {error}")
        echo(f"sweep {spec.name}: {len(trials)} trials, {finished} finished before, {len(todo)} to run, "
             f"{len(errors)} invalid; in {sweep_dir}")
        if todo:
            log = InvocationLog(sweep_dir, len(todo))
            try:
                errors.update(_run_on_ray(spec, sweep_dir, todo, address, max_concurrent, progress, echo,
                                          log.touch))
            finally:
                log.touch()
        return write_summary(spec, sweep_dir, errors, machine_description())


@contextlib.contextmanager
def _exclusive(sweep_dir: Path) -> Iterator[None]:
    """Hold ``SWEEP_DIR/.lock`` while this invocation runs: two at once would train the same run directories
    and overwrite each other's invocation log."""
    with open(sweep_dir / LOCK_NAME, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepError(f"another invocation is running the sweep in {sweep_dir}; wait for it to end or "
                             "stop it") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_on_ray(spec: SweepSpec, sweep_dir: Path, todo: list[tuple[Trial, dict[str, Any]]],
                address: str | None, max_concurrent: int | None, progress: bool,
                echo: Callable[[str], None], heartbeat: Callable[[], None]) -> dict[str, str]:
    """Run ``todo`` as one Ray Tune experiment; returns ``{trial name: error}`` for the trials that failed."""
    ray, tune = _import_ray()
    from belief_rl.sweep.progress import SweepProgress

    started_here = not ray.is_initialized()
    if started_here:
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's own tables off; SweepProgress reports
        try:
            ray.init(address=address, num_cpus=None if address else os.cpu_count(), include_dashboard=False,
                     logging_level="ERROR", log_to_driver=False, configure_logging=True)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"reach the Ray cluster at {address}" if address else "start a local Ray instance"
            raise SweepError(f"cannot {where}: {one_line(exc)}") from None
    try:
        node_cpus = _largest_node_cpus()
        if spec.threads_per_trial and spec.threads_per_trial > node_cpus:
            # Ray would wait for a node that can hold the trial, forever and without a word.
            raise SweepError(f"threads_per_trial = {spec.threads_per_trial} exceeds the {node_cpus} CPUs of "
                             "the largest Ray node")
        threads = spec.threads_per_trial or _threads_to_fill(len(todo), node_cpus)
        payloads = [{"name": trial.name, "run_dir": str(trial_dir(sweep_dir, trial)),
                     "config": spec.config(trial, num_threads=threads).to_dict(), **state}
                    for trial, state in todo]
        echo(f"running {len(payloads)} trial(s) with {threads} thread(s) each on "
             f"{int(ray.cluster_resources().get('CPU', 0))} CPUs")
        tuner = tune.Tuner(
            tune.with_resources(train_trial, {"cpu": threads}),
            param_space={"trial": tune.grid_search(payloads)},
            tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent,
                                        trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(
                name=f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=str(sweep_dir / "ray"),
                verbose=0, failure_config=tune.FailureConfig(max_failures=0),
                callbacks=[SweepProgress(payloads, echo, interval_s=10.0 if progress else math.inf,
                                         heartbeat=heartbeat)]))
        results = tuner.fit()
        return {result.config["trial"]["name"]: one_line(result.error) for result in results if result.error}
    finally:
        if started_here:
            ray.shutdown()


def _import_ray() -> tuple[Any, Any]:
    """``ray`` and ``ray.tune``, or a :class:`SweepError` that says how to install them."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise SweepError(RAY_MISSING) from None
    return ray, tune


def _largest_node_cpus() -> int:
    """The CPUs of the connected Ray cluster's largest live node."""
    import ray

    return max((int(node["Resources"].get("CPU", 0)) for node in ray.nodes() if node["Alive"]), default=1)


def _threads_to_fill(num_trials: int, node_cpus: int) -> int:
    """Threads per trial that fill the cluster's CPUs with ``num_trials`` (at least 1, at most a node's)."""
    import ray

    total = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(node_cpus, total // max(1, min(num_trials, total))))


def _trial_name(trial: Any) -> str:
    return trial.config["trial"]["name"]


def one_line(error: BaseException) -> str:
    """The last line of a trial's (remote) traceback: ``ErrorClass: message``, without module paths."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = lines[-1] if lines else type(error).__name__
    head, sep, message = last.partition(": ")
    return f"{head.rsplit('.', 1)[-1]}: {message}" if sep and " " not in head else last


def train_trial(params: dict[str, Any]) -> None:
    """Ray Tune trainable: train one trial's run directory to completion, reporting every update."""
    from ray import tune

    from belief_rl.config import TrainConfig
    from belief_rl.training import train

    trial = params["trial"]
    config = TrainConfig.from_dict(trial["config"])

    def report(row: dict[str, float]) -> None:
        tune.report({"global_step": int(row["global_step"]), "total_steps": config.total_steps,
                     "train_return": float(row["train_return"]), "eval_return": float(row["eval_return"]),
                     "wall_time": float(row["wall_time"])})

    print(f"trial {trial['name']}: training in {trial['run_dir']}", file=sys.stderr, flush=True)
    train(config, trial["run_dir"], progress=False, on_update=report)
