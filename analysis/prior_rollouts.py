"""What trained default policies do on their own: held-out episodes of π0 alone on a ball-tasks arena.

A transferred prior can only speed up a new task if acting with it does something the new task needs. For
each run (a hierarchical or DISTRAL run with a learned prior) this plays ``--episodes`` held-out episodes on
``--env`` with three actors, all from the same start states:

- ``prior``: the run's π0 alone (:class:`belief_rl.hierarchy.prior_actor.PriorActor`); on another env than
  the run's, π0 is rebuilt for that env's observation layout and its weights loaded (as a transfer does);
- ``policy``: the run's own policy (on the run's own env only: its task inputs differ elsewhere);
- ``random``: uniform random actions.

It reports, per actor: the success rate at the last step; how often the mover (the box in box tasks, else the
ball) ends on any target, chosen or not (a policy that pushes well but picks the wrong target scores here and
not in success); how far the mover moved between the first and the last step; its distance to the chosen
target at both; and the fraction of episodes that end at least 0.1 closer. Runs named ``label,seed=N`` (sweep
trials) are grouped by label: mean ± s.e. over seeds. Writes ``--out`` (JSON) and a bar plot beside it.

    python analysis/prior_rollouts.py results/behavior_priors/t2_box/t2_box_pretrain/trials/* \\
        --env belief_rl/BallBox-K3-v0 --out results/behavior_priors/t2_box/prior_rollouts.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from belief_rl import envs  # noqa: E402
from belief_rl.agents.base import ActOutput, State  # noqa: E402
from belief_rl.agents.latent import LatentPolicyAgent  # noqa: E402
from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.envs.ball_tasks import TARGET_RADIUS  # noqa: E402
from belief_rl.errors import BeliefRLError  # noqa: E402
from belief_rl.evaluation import held_out_kwargs, seeded_rollout  # noqa: E402
from belief_rl.experiments import machine_description  # noqa: E402
from belief_rl.hierarchy.prior_actor import PriorActor  # noqa: E402
from belief_rl.hierarchy.transfer import load_modules  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402
from belief_rl.runs import build_agent, load_agent  # noqa: E402
from belief_rl.seeding import evaluation_base_seed  # noqa: E402
from belief_rl.stats import mean_stderr  # noqa: E402

ACTORS = ("prior", "policy", "random")
METRICS = ("success", "any_target", "moved", "start_distance", "end_distance", "closer")
CLOSER_BY = 0.1


class UniformActor(PriorActor):
    """Uniform random actions in the action box (the baseline a fresh agent's exploration starts near)."""

    @torch.no_grad()
    def act(self, inputs: torch.Tensor, state: State, deterministic: bool = False) -> tuple[ActOutput, State]:
        head = self.agent.action_head
        unit = torch.rand(inputs.shape[0], head.low.numel())
        action = head.low + (head.high - head.low) * unit
        zeros = torch.zeros(inputs.shape[0])
        return ActOutput(action, zeros, zeros), state


def episode_measures(agent: LatentPolicyAgent, actor: Any, env_id: str, env_kwargs: dict[str, Any],
                     episodes: int, eval_seed: int) -> dict[str, np.ndarray]:
    """Per-episode :data:`METRICS` of ``actor`` on ``episodes`` held-out episodes of ``env_id``."""
    env = envs.make_vector_env(env_id, episodes, **held_out_kwargs(env_kwargs))
    groups = getattr(env.unwrapped, "observation_groups", {})
    if "targets" not in groups:
        env.close()
        raise ValueError(f"{env_id} is not a ball-tasks arena (no 'targets' observation group)")
    rollout = seeded_rollout(env, actor, evaluation_base_seed(eval_seed))
    env.close()
    start, stop = groups["box_goal"] if "box_goal" in groups else groups["targets"]
    obs = agent.env_observation(rollout.batch.inputs).numpy()
    # Every target relative to the mover, [T, B, K, 2]; the first target's offset moves with the mover.
    offsets = obs[..., start:stop].reshape(*obs.shape[:2], -1, 2)
    chosen = rollout.batch.task[0].numpy()
    rows = np.arange(episodes)
    start_distance = np.linalg.norm(offsets[0, rows, chosen], axis=-1)
    end_distance = np.linalg.norm(offsets[-1, rows, chosen], axis=-1)
    # The rollout keeps the observations before each action, not the final one: the env's success covers the
    # chosen target at the end, and another target is checked at the last observation, one step earlier.
    on_target = np.linalg.norm(offsets[-1], axis=-1) <= TARGET_RADIUS
    on_target[rows, chosen] = False
    on_other = on_target.any(axis=-1)
    on_any = rollout.success | on_other
    return {"success": rollout.success.astype(float), "any_target": on_any.astype(float),
            "moved": np.linalg.norm(offsets[-1, :, 0] - offsets[0, :, 0], axis=-1),
            "start_distance": start_distance, "end_distance": end_distance,
            "closer": (end_distance <= start_distance - CLOSER_BY).astype(float)}


def run_measures(run_dir: Path, env_id: str | None, episodes: int, eval_seed: int) -> dict[str, Any]:
    """The three actors' mean :data:`METRICS` for one run on ``env_id`` (default: the run's env)."""
    source, config, _ = load_agent(run_dir)
    if not isinstance(source, LatentPolicyAgent) or not source.has_learned_prior:
        raise BeliefRLError(f"{run_dir} has no learned default policy (a hierarchical or DISTRAL run)")
    env_id = env_id or config.env_id
    own_env = env_id == config.env_id
    if own_env:
        agent = source
    else:  # π0 reads named observation groups: rebuild it for this env's layout, then load its weights
        agent = build_agent(replace(config, env_id=env_id))
        load_modules(agent, source, ("prior",), str(run_dir))
    agent.eval()
    actors: dict[str, Any] = {"prior": PriorActor(agent), "random": UniformActor(agent)}
    if own_env:
        actors["policy"] = agent
    result = {}
    for name in ACTORS:
        if name in actors:
            measures = episode_measures(agent, actors[name], env_id, config.env_kwargs, episodes, eval_seed)
            result[name] = {key: float(values.mean()) for key, values in measures.items()}
    return {"run": str(run_dir), "env": env_id, **result}


def setting_of(run_dir: Path) -> tuple[str, int | None]:
    """``(label, seed)`` of a sweep trial directory ``label,seed=N``; else (name, None)."""
    match = re.fullmatch(r"(.*),seed=(\d+)", run_dir.name)
    return (match.group(1), int(match.group(2))) if match else (run_dir.name, None)


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per actor and metric: mean ± s.e. over runs."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for actor in ACTORS:
        present = [run[actor] for run in runs if actor in run]
        if present:
            summary[actor] = {}
            for key in METRICS:
                mean, stderr = mean_stderr([run[key] for run in present])
                summary[actor][key] = {"mean": float(mean), "stderr": float(stderr), "n": len(present)}
    return summary


def plot(settings: dict[str, dict[str, Any]], env_id: str, path: Path) -> None:
    """Bars of how far each actor moved the mover and how often it ended closer, per setting."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = list(settings)
    width = 0.8 / len(ACTORS)
    for offset, actor in enumerate(ACTORS):
        for ax, key, title in ((axes[0], "moved", "distance the mover moved"),
                               (axes[1], "closer", f"episodes ending ≥ {CLOSER_BY} closer to the target")):
            means = [settings[label]["summary"].get(actor, {}).get(key, {}).get("mean", np.nan)
                     for label in labels]
            errors = [settings[label]["summary"].get(actor, {}).get(key, {}).get("stderr", 0.0)
                      for label in labels]
            ax.bar(np.arange(len(labels)) + (offset - 1) * width, means, width, yerr=errors, label=actor)
            ax.set_title(title)
            ax.set_xticks(np.arange(len(labels)), labels)
    axes[0].legend()
    fig.suptitle(f"{env_id}: acting with the learned prior alone (mean ± s.e. over seeds)")
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run directories with a learned prior")
    parser.add_argument("--env", default=None, help="environment to play on (default: each run's own)")
    parser.add_argument("--episodes", type=int, default=256, help="held-out episodes per actor and run")
    parser.add_argument("--eval-seed", type=int, default=0, help="held-out evaluation seed")
    parser.add_argument("--out", type=Path, required=True, help="JSON to write (plot beside it)")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    if args.env is not None:
        try:
            envs.check_id(args.env)
        except ValueError as exc:
            parser.error(str(exc))
    torch.set_num_threads(1)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        for run_dir in sorted(args.runs):
            label, seed = setting_of(run_dir)
            measures = run_measures(run_dir, args.env, args.episodes, args.eval_seed)
            grouped[label].append({"seed": seed, **measures})
    except (BeliefRLError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    env_id = grouped[next(iter(grouped))][0]["env"]
    settings = {label: {"summary": summarize(runs), "runs": runs} for label, runs in grouped.items()}
    result = {"env": env_id, "episodes": args.episodes, "eval_seed": args.eval_seed,
              "closer_by": CLOSER_BY, "machine": machine_description(), "settings": settings}
    atomic_write_bytes(args.out, json.dumps(result, indent=2).encode())
    plot(settings, env_id, args.out.with_suffix(".png"))
    print(f"{'setting':24} {'actor':8} {'runs':>4} " + " ".join(f"{key:>16}" for key in METRICS))
    for label, setting in settings.items():
        for actor, metrics in setting["summary"].items():
            cells = " ".join(f"{metrics[k]['mean']:8.3f} ± {metrics[k]['stderr']:5.3f}" for k in METRICS)
            print(f"{label:24} {actor:8} {metrics['success']['n']:>4} {cells}")
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
