"""Throughput on this machine: environment steps/s (batched, random actions) and learner updates/s.

    python analysis/throughput.py --out results/throughput
    python analysis/throughput.py --sections ppo --before ec4575e --out results/throughput

Environment rows step each natively batched env with uniformly random actions
(no agent). SVG(0) rows time one gradient step (16 replayed meta-episodes)
and one full iteration (collecting 16 meta-episodes with the agent plus the
preset's ``updates_per_rollout`` gradient steps; the ``semicircle``/``numpad``
presets, so the belief agent has its policy memory) for each agent, after one
warm-up call. PPO rows time whole recurrent-PPO iterations on Bandit-v0 at the
benchmark (``full``) preset's batch sizes (collect 512 meta-episodes, 2 epochs of
16 minibatches) for each agent; with ``--before REV`` the same measurement also
runs on the package as of git revision ``REV``, alternating with the working tree's
in separate processes, so the before/after table compares code on one machine in
one sitting. Writes ``throughput.json`` and ``throughput.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from belief_rl import envs  # noqa: E402
from belief_rl.algorithms import SVG0  # noqa: E402
from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.config import TrainConfig  # noqa: E402
from belief_rl.experiments import machine_description  # noqa: E402
from belief_rl.families import preset_for_env  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402
from belief_rl.presets import apply_preset, make_config  # noqa: E402
from belief_rl.rollout import collect_rollout  # noqa: E402
from belief_rl.runs import build_agent, build_learner  # noqa: E402
from belief_rl.stats import summarize  # noqa: E402

ENV_BATCHES = {"belief_rl/Bandit-v0": (64, 1024), "belief_rl/Semicircle-v0": (64, 1024),
               "belief_rl/SemicircleBall-v0": (64, 256), "belief_rl/NumPad-2x2-L3-v0": (64, 256),
               "belief_rl/NumPad-3x3-L4-v0": (64, 256)}
LEARNER_ENVS = ("belief_rl/Semicircle-v0", "belief_rl/SemicircleBall-v0", "belief_rl/NumPad-2x2-L3-v0")
AGENTS = ("belief", "aux_head", "rnn")
SECTIONS = ("env", "svg0", "ppo", "floor")
PPO_ENV, PPO_PRESET = "belief_rl/Bandit-v0", "full"
REPOSITORY = Path(__file__).resolve().parents[1]


def env_steps_per_second(env_id: str, num_envs: int, steps: int = 300) -> float:
    env = envs.make_vector_env(env_id, num_envs)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    elapsed = time.perf_counter() - start
    env.close()
    return num_envs * steps / elapsed


def learner_speed(env_id: str, agent_kind: str) -> dict[str, float]:
    """Gradient steps/s and environment steps/s of whole training iterations for one agent."""
    config = TrainConfig(**apply_preset({"env_id": env_id, "agent": {"kind": agent_kind}},
                                        preset_for_env(env_id), agent_kind))
    env = envs.make_vector_env(env_id, config.svg0.num_envs)
    agent = build_agent(config, env)
    # No warm-up: every timed iteration must include its gradient steps.
    learner = SVG0(agent, dataclasses.replace(config.svg0, warmup_episodes=0))
    rollout = collect_rollout(env, agent, seed=0)
    learner.replay.add(rollout)
    batch, data = learner.replay.sample(config.svg0.batch_size)
    learner.gradient_step(batch, data["log_probs"], data["rewards"], data["dones"])  # warm-up
    repeats = 10
    start = time.perf_counter()
    for _ in range(repeats):
        learner.gradient_step(batch, data["log_probs"], data["rewards"], data["dones"])
    gradient_step_s = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for i in range(3):
        rollout = collect_rollout(env, agent, seed=1 + i)
        learner.update(rollout)
    iteration_s = (time.perf_counter() - start) / 3
    env.close()
    return {"gradient_steps_per_sec": 1.0 / gradient_step_s, "iteration_s": iteration_s,
            "env_steps_per_sec_training": rollout.num_steps / iteration_s,
            "sequence_length": int(rollout.rewards.shape[0])}


def ppo_speed(agent_kind: str, iterations: int, threads: int) -> dict[str, float]:
    """Seconds per PPO iteration (rollout, update) and env steps/s for one agent, after one warm-up iteration.

    Builds the learner as training does (``build_learner``, with ``num_threads=threads``), through API that
    older versions of the package have too (``make_config``, ``make_vector_env``, ``build_agent``,
    ``build_learner``, ``collect_rollout``), so it measures older code as well.
    """
    torch.manual_seed(0)
    config = make_config(PPO_ENV, agent_kind, preset=PPO_PRESET, num_threads=threads)
    env = envs.make_vector_env(config.env_id, config.ppo.num_envs)
    agent = build_agent(config, env)
    learner = build_learner(agent, config)
    generator = torch.Generator().manual_seed(0)
    rollout_s = update_s = 0.0
    for i in range(iterations + 1):
        start = time.perf_counter()
        rollout = collect_rollout(env, agent, seed=i)
        middle = time.perf_counter()
        learner.update(rollout, generator)
        if i > 0:  # the first iteration warms up allocators and caches
            rollout_s += middle - start
            update_s += time.perf_counter() - middle
    env.close()
    rollout_s, update_s = rollout_s / iterations, update_s / iterations
    return {"rollout_s": rollout_s, "update_s": update_s, "iteration_s": rollout_s + update_s,
            "env_steps_per_sec": rollout.num_steps / (rollout_s + update_s),
            "steps_per_iteration": rollout.num_steps}


def recurrent_pass_rates(hidden: int = 128, steps: int = 100, batches: tuple[int, ...] = (32, 1024),
                         repeats: int = 10) -> dict[str, dict[str, float]]:
    """What one GRU torso (input embedding + ``nn.GRU``: the agents' ``RecurrentCore`` at the bandit size)
    costs per forward+backward pass over ``steps × batch`` inputs, for PPO's minibatch of 32 sequences and a
    large batch: the floor under a learner that must run it on every minibatch."""
    from belief_rl.networks.recurrent import RecurrentCore

    def forward_backward(core: RecurrentCore, inputs: torch.Tensor) -> None:
        outputs, _ = core.sequence(inputs, core.initial_state(inputs.shape[1]))
        outputs.sum().backward()

    env = envs.make_vector_env(PPO_ENV, 1)
    input_dim = build_agent(make_config(PPO_ENV, "rnn", preset=PPO_PRESET), env).input_dim  # encoded input
    env.close()
    rates = {}
    for batch in batches:
        core = RecurrentCore(input_dim, hidden, "gru", hidden)
        inputs = torch.randn(steps, batch, input_dim)
        forward_backward(core, inputs)
        start = time.perf_counter()
        for _ in range(repeats):
            forward_backward(core, inputs)
        seconds = (time.perf_counter() - start) / repeats
        rates[str(batch)] = {"pass_ms": 1000 * seconds, "steps_per_sec": steps * batch / seconds}
        print(f"GRU({hidden}) forward+backward over {steps} × {batch}: {1000 * seconds:.1f} ms, "
              f"{steps * batch / seconds:,.0f} steps/s", flush=True)
    return rates


def package_at(revision: str, dest: Path) -> Path:
    """The package as of git ``revision``, laid out as it installs (``belief_rl/`` with ``envs/`` inside)
    under ``dest``; returns the directory to put first on ``PYTHONPATH``."""
    command = ["git", "-C", str(REPOSITORY), "archive", "--format=tar", revision, "belief_rl", "envs"]
    archive = subprocess.run(command, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    shutil.move(str(dest / "envs"), str(dest / "belief_rl" / "envs"))
    return dest


def ppo_speeds_in_subprocess(source: Path | None, agents: list[str], iterations: int,
                             threads: int) -> dict[str, dict[str, float]]:
    """:func:`ppo_speed` for each agent, each in a fresh process (a learner may set torch's thread count for
    its process) that imports ``belief_rl`` from ``source`` (the installed package if None)."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")])
    rows = {}
    for agent in agents:
        command = [sys.executable, __file__, "--ppo-worker", "--agents", agent,
                   "--iterations", str(iterations), "--threads", str(threads)]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"PPO measurement of {agent} ({source or 'this code'}) failed:\n{done.stderr}")
        rows.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def ppo_section(agents: list[str], before: str | None, repeats: int, iterations: int,
                threads: int) -> dict:
    """PPO iterations on Bandit-v0 for each agent, for the working tree and (if given) revision ``before``,
    alternating between the two ``repeats`` times; per agent and code, the mean and spread over repeats."""
    with tempfile.TemporaryDirectory() as tmp:
        sources: dict[str, Path | None] = {"after": None}
        if before is not None:
            sources = {"before": package_at(before, Path(tmp)), **sources}
        samples: dict[str, dict[str, list[dict]]] = {code: {a: [] for a in agents} for code in sources}
        for repeat in range(repeats):
            for code, source in sources.items():
                rows = ppo_speeds_in_subprocess(source, agents, iterations, threads)
                for agent, row in rows.items():
                    samples[code][agent].append(row)
                    print(f"PPO {code:>6} repeat {repeat}: {agent:>8} {row['env_steps_per_sec']:>9,.0f} "
                          f"env steps/s (rollout {row['rollout_s']:.2f} s, update {row['update_s']:.2f} s)",
                          flush=True)
    summary = {code: {agent: {**summarize(np.array([r["env_steps_per_sec"] for r in rows])),
                              "rollout_s": float(np.mean([r["rollout_s"] for r in rows])),
                              "update_s": float(np.mean([r["update_s"] for r in rows])), "samples": rows}
                      for agent, rows in per_agent.items()}
               for code, per_agent in samples.items()}
    return {"env_id": PPO_ENV, "preset": PPO_PRESET, "before_revision": before, "repeats": repeats,
            "iterations_per_repeat": iterations, "results": summary}


def plot(results: dict, path: Path) -> None:
    sections = [key for key in ("env_steps_per_sec", "learner", "ppo") if results.get(key)]
    fig, axes = plt.subplots(1, len(sections), figsize=(6.5 * len(sections), 4.5), squeeze=False)
    panels = dict(zip(sections, axes[0]))
    if "env_steps_per_sec" in panels:
        plot_env_rates(panels["env_steps_per_sec"], results["env_steps_per_sec"])
    if "learner" in panels:
        plot_svg0_rates(panels["learner"], results["learner"])
    if "ppo" in panels:
        plot_ppo_rates(panels["ppo"], results["ppo"])
    save_figure(fig, path)


def plot_env_rates(ax: plt.Axes, rates: dict) -> None:
    labels, values = [], []
    for env_id, rows in rates.items():
        for num_envs, sps in rows.items():
            labels.append(f"{env_id.removeprefix('belief_rl/')} ×{num_envs}")
            values.append(sps)
    ax.barh(labels, values, color="tab:gray")
    ax.set_xscale("log")
    ax.set_xlabel("environment steps / s (random actions)")
    ax.set_title("batched environments")


def plot_svg0_rates(ax: plt.Axes, learner: dict) -> None:
    labels, values = [], []
    for env_id, agents in learner.items():
        for agent, row in agents.items():
            labels.append(f"{env_id.removeprefix('belief_rl/')} {agent}")
            values.append(row["env_steps_per_sec_training"])
    ax.barh(labels, values, color="tab:red")
    ax.set_xlabel("environment steps / s while training (SVG(0) preset)")
    ax.set_title("end-to-end training throughput")


def plot_ppo_rates(ax: plt.Axes, ppo: dict) -> None:
    rows = ppo["results"]
    codes = list(rows)
    agents = list(rows[codes[-1]])
    width = 0.8 / len(codes)
    for i, code in enumerate(codes):
        means = [rows[code][a]["mean"] for a in agents]
        errors = [rows[code][a]["stderr"] for a in agents]
        ax.barh(np.arange(len(agents)) + i * width, means, width, xerr=errors,
                label="this code" if code == "after" else f"before ({ppo['before_revision']})",
                color="tab:gray" if code == "before" else "tab:red", capsize=3)
    ax.set_yticks(np.arange(len(agents)) + width * (len(codes) - 1) / 2, agents)
    ax.set_xlabel("environment steps / s while training (mean ± s.e. over repeats)")
    ax.set_title(f"recurrent PPO on {ppo['env_id'].removeprefix('belief_rl/')}, {ppo['preset']} preset")
    ax.legend()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/throughput"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="what to measure: batched envs, SVG(0) learners, PPO on Bandit-v0, and the "
                             "GRU forward+backward pass under PPO's minibatches (floor)")
    parser.add_argument("--agents", nargs="+", choices=AGENTS, default=list(AGENTS))
    parser.add_argument("--before", default=None, help="git revision to compare the PPO rows against")
    parser.add_argument("--repeats", type=int, default=3, help="PPO: alternating measurements per version")
    parser.add_argument("--iterations", type=int, default=3, help="PPO: timed iterations per measurement")
    parser.add_argument("--ppo-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.ppo_worker:  # one measurement, as JSON on the last line (see ppo_speeds_in_subprocess)
        print(json.dumps({agent: ppo_speed(agent, args.iterations, args.threads) for agent in args.agents}))
        return
    torch.manual_seed(0)
    results: dict = {"machine": machine_description(), "env_steps_per_sec": {}, "learner": {}}
    if "env" in args.sections:
        for env_id, sizes in ENV_BATCHES.items():
            results["env_steps_per_sec"][env_id] = {n: env_steps_per_second(env_id, n) for n in sizes}
            rates = results["env_steps_per_sec"][env_id]
            print(env_id, {n: f"{v:,.0f}" for n, v in rates.items()}, flush=True)
    if "svg0" in args.sections:
        for env_id in LEARNER_ENVS:
            results["learner"][env_id] = {}
            for agent in args.agents:
                row = learner_speed(env_id, agent)
                results["learner"][env_id][agent] = row
                print(f"{env_id} {agent}: {row['gradient_steps_per_sec']:.2f} gradient steps/s, "
                      f"{row['env_steps_per_sec_training']:,.0f} env steps/s while training", flush=True)
    if "ppo" in args.sections:
        results["ppo"] = ppo_section(args.agents, args.before, args.repeats, args.iterations, args.threads)
        print_ppo_table(results["ppo"])
    if "floor" in args.sections:
        results["recurrent_pass"] = recurrent_pass_rates()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "throughput.json"
    # Sections not measured this time keep their previous numbers.
    previous = json.loads(path.read_text()) if path.exists() else {}
    merged = {**previous, **{key: value for key, value in results.items() if value}}
    atomic_write_bytes(path, json.dumps(merged, indent=2).encode())
    plot(merged, args.out / "throughput.png")
    print(f"wrote {path} and {args.out / 'throughput.png'}")


def print_ppo_table(ppo: dict) -> None:
    codes = list(ppo["results"])
    print(f"PPO on {ppo['env_id']} ({ppo['preset']} preset), env steps/s, mean ± s.e. over "
          f"{ppo['repeats']} repeats")
    rows = ppo["results"]
    for agent in rows[codes[-1]]:
        cells = [f"{code} {rows[code][agent]['mean']:,.0f} ± {rows[code][agent]['stderr']:,.0f}"
                 for code in codes]
        ratio = ""
        if len(codes) == 2:
            ratio = f"  ({rows['after'][agent]['mean'] / rows['before'][agent]['mean']:.2f}×)"
        print(f"  {agent:>8}: {', '.join(cells)}{ratio}")


if __name__ == "__main__":
    main()
