"""Where a recurrent-PPO iteration's time goes, on Bandit-v0 at a bandit preset.

Runs a few PPO iterations (collect 512 meta-episodes, update) under ``torch.profiler`` with labelled ranges
around the parts that matter: the acting loop (agent steps, environment steps, the rest of the per-step
Python), the update's forward passes (whole-sequence recurrent passes, the componentwise policy head) and
backward passes, and the optimizer. Prints a table and writes ``profile_<agent>.json`` into ``--out``.

    python analysis/profile_ppo.py --agents belief rnn --out results/throughput
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from belief_rl.agents.base import Agent  # noqa: E402
from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.experiments import machine_description  # noqa: E402
from belief_rl.networks.componentwise import ComponentwiseCategoricalHead  # noqa: E402
from belief_rl.networks.recurrent import RecurrentCore  # noqa: E402
from belief_rl.presets import make_config  # noqa: E402
from belief_rl.training import Trainer  # noqa: E402

#: Labelled ranges: (label, owner, attribute). Nested ranges are reported as they are (a range's time includes
#: the ranges inside it).
RANGES = [
    ("iteration: collect rollout", "belief_rl.training", "collect_rollout"),
    ("  acting: agent.act", Agent, "act"),
    ("  acting: recurrent cell step", RecurrentCore, "step"),
    ("iteration: learner update", None, "update"),
    ("  update: agent.evaluate (forward)", Agent, "evaluate"),
    ("  update: recurrent sequence pass", RecurrentCore, "sequence"),
    ("  update: componentwise policy head", ComponentwiseCategoricalHead, "forward"),
    ("  update: backward", torch.Tensor, "backward"),
    ("  update: optimizer step", torch.optim.Adam, "step"),
]


def _labelled(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with record_function(label):
            return function(*args, **kwargs)
    return wrapper


@contextlib.contextmanager
def _ranges(trainer: Trainer):
    """Wrap the functions of :data:`RANGES` (and this trainer's env.step and learner.update) in labels."""
    patched = []
    targets = [(label, sys.modules[owner] if isinstance(owner, str) else owner, name)
               for label, owner, name in RANGES]
    targets = [(label, trainer.learner if owner is None else owner, name) for label, owner, name in targets]
    targets.append(("  acting: env.step", trainer.env, "step"))
    try:
        for label, owner, name in targets:
            original = getattr(owner, name)
            patched.append((owner, name, original))
            setattr(owner, name, _labelled(label, original))
        yield [label for label, _, _ in targets]
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


def profile_agent(agent: str, preset: str, iterations: int, threads: int) -> dict[str, Any]:
    config = make_config(env_id="belief_rl/Bandit-v0", agent=agent, preset=preset,
                         overrides=[f"num_threads={threads}", "eval_every=100000", "belief_figures=false"])
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer.create(config, Path(run_dir))
        trainer._one_update()  # warm-up: first-call allocations stay out of the profile
        with _ranges(trainer) as labels, profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            for _ in range(iterations):
                trainer._one_update()
            wall = time.perf_counter() - start
        trainer.env.close()
    events = {event.key: event for event in prof.key_averages()}
    steps = iterations * config.ppo.num_envs * 100
    ranges = {label.strip(): events[label].cpu_time_total / 1e6 for label in labels if label in events}
    ops = sorted((e for e in events.values() if e.key not in labels and not e.key.startswith("ProfilerStep")),
                 key=lambda e: -e.self_cpu_time_total)[:15]
    return {"agent": agent, "preset": preset, "iterations": iterations, "threads": threads,
            "env_steps": steps, "wall_s": wall, "env_steps_per_s": steps / wall,
            "ranges_s": ranges, "ranges_fraction": {k: v / wall for k, v in ranges.items()},
            "top_ops_self_s": {e.key: e.self_cpu_time_total / 1e6 for e in ops},
            "top_ops_calls": {e.key: e.count for e in ops}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", nargs="+", default=["belief", "rnn"],
                        choices=["belief", "rnn", "aux_head"])
    parser.add_argument("--preset", default="full", help="bandit preset (its PPO batch sizes)")
    parser.add_argument("--iterations", type=int, default=3, help="profiled PPO iterations per agent")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/throughput"))
    args = parser.parse_args()
    for agent in args.agents:
        result = {**profile_agent(agent, args.preset, args.iterations, args.threads),
                  "machine": machine_description()}
        print(f"\n{agent} agent, preset {args.preset}: {result['env_steps_per_s']:,.0f} env steps/s under "
              f"the profiler ({result['iterations']} iterations, {result['wall_s']:.1f} s)")
        for label, seconds in result["ranges_s"].items():
            print(f"  {label:40} {seconds:7.2f} s  {seconds / result['wall_s']:6.1%}")
        print("  top ops by self CPU time:")
        for op, seconds in list(result["top_ops_self_s"].items())[:10]:
            print(f"    {op:38} {seconds:7.2f} s  {seconds / result['wall_s']:6.1%}  "
                  f"({result['top_ops_calls'][op]:,} calls)")
        atomic_write_bytes(args.out / f"profile_{agent}.json", json.dumps(result, indent=2).encode())
    print(f"\nwrote {', '.join(str(args.out / f'profile_{a}.json') for a in args.agents)}")


if __name__ == "__main__":
    main()
