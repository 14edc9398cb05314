"""Throughput on this machine: environment steps/s (batched, random actions) and learner updates/s.

    python analysis/throughput.py --out results/throughput

Environment rows step each natively batched env with uniformly random actions
(no agent). Learner rows time one SVG(0) gradient step (16 replayed meta-episodes)
and one full iteration (collecting 16 meta-episodes with the agent plus the
preset's ``updates_per_rollout`` gradient steps; the ``semicircle``/``numpad``
presets, so the belief agent has its policy memory) for each agent, after one
warm-up call. Writes ``throughput.json`` and ``throughput.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from belief_rl import envs  # noqa: E402
from belief_rl.algorithms import SVG0  # noqa: E402
from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.config import TrainConfig  # noqa: E402
from belief_rl.experiments import machine_description  # noqa: E402
from belief_rl.families import preset_for_env  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402
from belief_rl.presets import apply_preset  # noqa: E402
from belief_rl.rollout import collect_rollout  # noqa: E402
from belief_rl.runs import build_agent  # noqa: E402

ENV_BATCHES = {"belief_rl/Bandit-v0": (64, 1024), "belief_rl/Semicircle-v0": (64, 1024),
               "belief_rl/SemicircleBall-v0": (64, 256), "belief_rl/NumPad-2x2-L3-v0": (64, 256),
               "belief_rl/NumPad-3x3-L4-v0": (64, 256)}
LEARNER_ENVS = ("belief_rl/Semicircle-v0", "belief_rl/SemicircleBall-v0", "belief_rl/NumPad-2x2-L3-v0")


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


def plot(results: dict, path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    labels, values = [], []
    for env_id, rows in results["env_steps_per_sec"].items():
        for num_envs, sps in rows.items():
            labels.append(f"{env_id.removeprefix('belief_rl/')} ×{num_envs}")
            values.append(sps)
    left.barh(labels, values, color="tab:gray")
    left.set_xscale("log")
    left.set_xlabel("environment steps / s (random actions)")
    left.set_title("batched environments")
    labels, values = [], []
    for env_id, agents in results["learner"].items():
        for agent, row in agents.items():
            labels.append(f"{env_id.removeprefix('belief_rl/')} {agent}")
            values.append(row["env_steps_per_sec_training"])
    right.barh(labels, values, color="tab:red")
    right.set_xlabel("environment steps / s while training (SVG(0) preset)")
    right.set_title("end-to-end training throughput")
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/throughput"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results: dict = {"machine": machine_description(), "env_steps_per_sec": {}, "learner": {}}
    for env_id, sizes in ENV_BATCHES.items():
        results["env_steps_per_sec"][env_id] = {n: env_steps_per_second(env_id, n) for n in sizes}
        print(env_id, {n: f"{v:,.0f}" for n, v in results["env_steps_per_sec"][env_id].items()}, flush=True)
    for env_id in LEARNER_ENVS:
        results["learner"][env_id] = {}
        for agent in ("belief", "aux_head", "rnn"):
            row = learner_speed(env_id, agent)
            results["learner"][env_id][agent] = row
            print(f"{env_id} {agent}: {row['gradient_steps_per_sec']:.2f} gradient steps/s, "
                  f"{row['env_steps_per_sec_training']:,.0f} env steps/s while training", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "throughput.json", json.dumps(results, indent=2).encode())
    plot(results, args.out / "throughput.png")
    print(f"wrote {args.out / 'throughput.json'} and {args.out / 'throughput.png'}")


if __name__ == "__main__":
    main()
