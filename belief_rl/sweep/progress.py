"""The sweep's progress line: trials done / running / pending / failed, environment steps, rate and ETA."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from ray.tune import Callback


class SweepProgress(Callback):
    """A Ray Tune callback (it runs in the driver) that prints a progress line when a trial starts, ends or
    fails, and otherwise at most every ``interval_s`` seconds.

    The ETA is the steps left over the whole sweep divided by the rate at which this invocation has trained
    them so far (all running trials together), so it holds for any mix of concurrency and budgets.
    """

    def __init__(self, payloads: list[dict[str, Any]], echo: Callable[[str], None],
                 interval_s: float = 10.0, heartbeat: Callable[[], None] | None = None) -> None:
        """``heartbeat`` is called as trial results come in, at most every 10 s: the sweep records its
        running wall time with it."""
        self.echo, self.interval_s, self.heartbeat = echo, interval_s, heartbeat
        self.last_beat = -math.inf
        self.start_step = {p["name"]: p["start_step"] for p in payloads}
        self.step = dict(self.start_step)
        self.total = {p["name"]: p["config"]["total_steps"] for p in payloads}
        self.running: set[str] = set()
        self.done: set[str] = set()
        self.failed: set[str] = set()
        self.started = time.monotonic()
        self.last_line = -math.inf

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.add(trial.config["trial"]["name"])
        self._print()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.step[trial.config["trial"]["name"]] = int(result["global_step"])
        if time.monotonic() - self.last_line >= self.interval_s:
            self._print()
        if self.heartbeat is not None and time.monotonic() - self.last_beat >= 10.0:
            self.last_beat = time.monotonic()
            self.heartbeat()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        name = trial.config["trial"]["name"]
        self.running.discard(name)
        self.done.add(name)
        self.step[name] = max(self.step[name], self.total[name])
        self._print()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        name = trial.config["trial"]["name"]
        self.running.discard(name)
        self.failed.add(name)
        self.echo(f"trial {name} failed (its error is in the summary)")
        self._print()

    def line(self) -> str:
        """``done / running / pending / failed``, steps trained of the total, rate and ETA."""
        pending = len(self.total) - len(self.done) - len(self.running) - len(self.failed)
        trained = sum(self.step[name] - self.start_step[name] for name in self.step)
        left = sum(max(0, self.total[name] - self.step[name]) for name in self.total
                   if name not in self.failed)
        elapsed = time.monotonic() - self.started
        rate = trained / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {_duration(left / rate)}" if rate > 0 and left else "ETA -"
        return (f"[{_duration(elapsed)}] trials: {len(self.done)} done, {len(self.running)} running, "
                f"{pending} pending, {len(self.failed)} failed | {trained:,} steps ({rate:,.0f}/s) | {eta}")

    def _print(self) -> None:
        self.last_line = time.monotonic()
        self.echo(self.line())


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
