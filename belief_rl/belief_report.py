"""``belief-rl plot beliefs``: play a trained run on held-out tasks and draw what it believes.

The agent acts with its stochastic policy on the held-out tasks and sampling noise of ``belief-rl evaluate``
(same ``--seed``); its belief is read with the bottleneck at its mean. Each env family with a task head has a
figure (see :mod:`belief_rl.belief_figures`), written as PNG and PDF with a JSON of the numbers shown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import beta as beta_distribution
from torch.distributions import Distribution

from belief_rl import envs
from belief_rl.agents import Agent
from belief_rl.belief_figures import bandit_belief_figure, numpad_belief_figure, semicircle_belief_figure
from belief_rl.checkpoint import atomic_write_bytes
from belief_rl.errors import BeliefRLError
from belief_rl.evaluation import held_out_kwargs, seeded_rollout
from belief_rl.families import family_of
from belief_rl.posteriors import (
    bandit_posterior,
    expected_calibration_error,
    numpad_active_counts,
    numpad_discoveries,
    numpad_posterior,
)
from belief_rl.rollout import Rollout
from belief_rl.runs import load_agent
from belief_rl.seeding import evaluation_base_seed

#: Families with a belief figure, and the held-out tasks each plays by default.
DEFAULT_TASKS = {"bandit": 1000, "numpad": 100, "semicircle": 1}
_BEST_ARM_SAMPLES = 4000


def has_belief_figure(agent: Agent, env_id: str) -> bool:
    """Whether :func:`belief_figure` can draw this agent on this env (a task head and a supported family)."""
    return agent.belief_head is not None and family_of(env_id).name in DEFAULT_TASKS


def belief_figure(agent: Agent, env_id: str, env_kwargs: dict[str, Any], task: int = 0, eval_seed: int = 0,
                  times: Sequence[int] | None = None,
                  num_tasks: int | None = None) -> tuple[plt.Figure, dict[str, Any]]:
    """Play held-out tasks with ``agent`` and draw its belief figure; returns it with the numbers it shows.

    Args:
        task: Which held-out task's trajectory the per-step panels show.
        times: Steps of the meta-episode to show (default: chosen per family, e.g. NumPad's discoveries).
        num_tasks: Held-out tasks played (the bandit calibration and the NumPad contiguity statistic average
            over them); more than ``task``. The agent's sampling noise depends on it, so the same ``task``
            plays differently with another ``num_tasks``.
    """
    if agent.belief_head is None:
        raise BeliefRLError(f"the {type(agent).__name__} has no task head, so it has no belief to plot "
                            "(train the belief or aux_head agent)")
    family = family_of(env_id).name
    if family not in DEFAULT_TASKS:
        raise BeliefRLError(f"no belief figure for {env_id} (there are figures for bandits, NumPad and "
                            "Semicircle)")
    num_tasks = num_tasks or DEFAULT_TASKS[family]
    if not 0 <= task < num_tasks:
        raise BeliefRLError(f"--task must lie in [0, {num_tasks - 1}], the held-out tasks played, got {task} "
                            "(--num-tasks plays more)")
    if times is not None:
        if any(t < 0 for t in times):
            raise BeliefRLError(f"--times must be steps of the meta-episode (>= 0), got {list(times)}")
        times = sorted(set(times))
    was_training = agent.training
    agent.eval()
    env = envs.make_vector_env(env_id, num_tasks, **held_out_kwargs(env_kwargs))
    try:
        with torch.no_grad():
            rollout = seeded_rollout(env, agent, evaluation_base_seed(eval_seed))
            belief = agent.belief(rollout.batch.inputs)
        steps = rollout.rewards.shape[0]
        if times is not None and not all(0 <= t < steps for t in times):
            raise BeliefRLError(f"--times must lie in [0, {steps - 1}] (steps of the meta-episode)")
        draw = {"bandit": _bandit, "numpad": _numpad, "semicircle": _semicircle}[family]
        fig, summary = draw(agent, env, rollout, belief, task, times)
    finally:
        env.close()
        agent.train(was_training)
    return fig, {"env_id": env_id, "task": task, "eval_seed": eval_seed, "num_tasks": num_tasks, **summary}


def plot_run_beliefs(run_dir: Path, out_dir: Path | None = None, task: int = 0, eval_seed: int = 0,
                     times: Sequence[int] | None = None, num_tasks: int | None = None) -> dict[str, Any]:
    """:func:`belief_figure` of a run directory's agent, written as ``beliefs.png``, ``beliefs.pdf`` and
    ``beliefs.json`` into ``out_dir`` (default: the run directory); returns the JSON's content."""
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir
    start = time.perf_counter()
    agent, config, _ = load_agent(run_dir)
    if agent.belief_head is None:
        raise BeliefRLError(f"the {config.agent.kind} agent of {run_dir} has no task head, so it has no "
                            "belief to plot (train the belief or aux_head agent)")
    torch.set_num_threads(config.num_threads)
    fig, summary = belief_figure(agent, config.env_id, config.env_kwargs, task, eval_seed, times, num_tasks)
    summary = {"run_dir": str(run_dir), "agent": config.agent.kind, **summary}
    out_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "pdf"):
        fig.savefig(out_dir / f"beliefs.{suffix}", dpi=130, bbox_inches="tight")
    plt.close(fig)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    atomic_write_bytes(out_dir / "beliefs.json", json.dumps(summary, indent=2).encode())
    return summary


def _bandit(agent: Agent, env: Any, rollout: Rollout, belief: Distribution, task: int,
            times: Sequence[int] | None) -> tuple[Any, dict[str, Any]]:
    steps, _, arms = belief.mean.shape
    times = list(times) if times is not None else sorted({steps // 10, steps // 4, steps // 2, steps - 1})
    exact = bandit_posterior(rollout.batch.actions, rollout.rewards, arms)
    true_p = rollout.batch.task[0].numpy()  # [n, K]

    def beta_params(dist: Distribution) -> tuple[np.ndarray, np.ndarray]:
        base = dist.base_dist
        return base.concentration1.double().numpy(), base.concentration0.double().numpy()

    learned_a, learned_b = beta_params(belief)
    exact_a, exact_b = beta_params(exact)

    def at(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b = a[times, task], b[times, task]
        interval = np.stack([beta_distribution.ppf(0.05, a, b), beta_distribution.ppf(0.95, a, b)], 1)
        return a / (a + b), interval

    learned_mean, learned_interval = at(learned_a, learned_b)
    exact_mean, exact_interval = at(exact_a, exact_b)
    rng = np.random.default_rng(0)
    best, calibration = {}, {}
    for name, (a, b) in (("learned", (learned_a, learned_b)), ("exact", (exact_a, exact_b))):
        # P(arm is best) by Monte Carlo: the share of joint draws from the arms' Betas each arm wins.
        draws = rng.beta(a[times, task], b[times, task], size=(_BEST_ARM_SAMPLES, len(times), arms))
        best[name] = np.eye(arms)[draws.argmax(-1)].mean(0)
        ece, table = expected_calibration_error(a / (a + b), np.broadcast_to(true_p, a.shape))
        calibration[name] = {"ece": ece, "table": table}
    fig = bandit_belief_figure(times, learned_mean, learned_interval, exact_mean, exact_interval,
                               true_p[task], best["learned"], best["exact"], calibration)
    summary = {"family": "bandit", "times": times, "true_p": true_p[task].tolist(),
               "learned_mean": learned_mean.tolist(), "exact_mean": exact_mean.tolist(),
               "p_best_learned": best["learned"].tolist(), "p_best_exact": best["exact"].tolist(),
               "ece_learned": calibration["learned"]["ece"], "ece_exact": calibration["exact"]["ece"],
               "calibration": calibration}
    return fig, summary


def _numpad(agent: Agent, env: Any, rollout: Rollout, belief: Distribution, task: int,
            times: Sequence[int] | None) -> tuple[Any, dict[str, Any]]:
    unwrapped = env.unwrapped
    size, length = unwrapped.size, unwrapped.length
    observations = agent.env_observation(rollout.batch.inputs).numpy()
    rewards = rollout.rewards.numpy()
    tasks = rollout.batch.task[0].long().numpy()
    posterior = numpad_posterior(observations, rewards, size, length, unwrapped.neighbourhood)
    learned = belief.base_dist.probs.double().numpy()  # [T, n, L, P]
    exact = posterior.marginals()
    discoveries = numpad_discoveries(numpad_active_counts(observations, size), rewards, length)
    steps = rewards.shape[0]
    if times is None:
        times, titles = discovery_columns(discoveries[task], steps)
    else:
        times, titles = list(times), [f"step {t}" for t in times]
    log_q_learned = belief.log_prob(rollout.batch.task.long()).double().numpy()[:, task]
    log_q_exact = posterior.log_prob(tasks)[:, task]
    fig = numpad_belief_figure(learned[times, task], exact[times, task], tasks[task], size, times, titles,
                               log_q_learned, log_q_exact, discoveries[task])
    summary = {"family": "numpad", "times": times, "column_titles": titles,
               "true_sequence": tasks[task].tolist(), "discoveries": discoveries[task].tolist(),
               "log_q_true_learned": log_q_learned[times].tolist(),
               "log_q_true_exact": log_q_exact[times].tolist(),
               "contiguity": neighbour_mass(learned, exact, tasks, discoveries, size,
                                            unwrapped.neighbourhood)}
    return fig, summary


def discovery_columns(discoveries: np.ndarray, steps: int) -> tuple[list[int], list[str]]:
    """The steps just before each discovery of a sequence position, then one after the last (or the final
    step, if not all were found), with their titles."""
    times, titles = [], []
    for position, step in enumerate(discoveries):
        if step < 0:
            break
        times.append(int(step))
        titles.append(f"before pad {position + 1} (step {step})")
    if len(times) == len(discoveries) and times[-1] + 1 < steps:
        times.append(times[-1] + 1)
        titles.append(f"all found (step {times[-1]})")
    elif len(times) < len(discoveries):
        times.append(steps - 1)
        titles.append(f"end (step {steps - 1})")
    return times, titles


def neighbour_mass(learned: np.ndarray, exact: np.ndarray, tasks: np.ndarray, discoveries: np.ndarray,
                   size: int, neighbourhood: str) -> dict[str, Any]:
    """The contiguity effect, measured: just before the third position is discovered (two pads known), the
    mass the belief puts on the second pad's neighbours for the third position, learned vs exact, averaged
    over the trajectories that get that far."""
    from belief_rl.envs.numpad import neighbour_table  # NumPad needs MuJoCo: only imported for NumPad runs

    table = neighbour_table(size, neighbourhood)
    if tasks.shape[1] < 3:
        return {"num_trajectories": 0}
    rows = np.flatnonzero(discoveries[:, 2] >= 0)
    masses = {"learned": [], "exact": []}
    for i in rows:
        neighbours = table[tasks[i, 1]]
        neighbours = neighbours[neighbours >= 0]
        for name, probs in (("learned", learned), ("exact", exact)):
            masses[name].append(float(probs[discoveries[i, 2], i, 2, neighbours].sum()))
    result: dict[str, Any] = {"num_trajectories": int(len(rows)),
                              "uniform_share": float(np.mean([(table[t[1]] >= 0).sum() / (size * size)
                                                              for t in tasks[rows]])) if len(rows) else None}
    for name, values in masses.items():
        result[f"{name}_mean"] = float(np.mean(values)) if values else None
        result[f"{name}_stderr"] = (float(np.std(values, ddof=1) / np.sqrt(len(values)))
                                    if len(values) > 1 else None)
    return result


def _semicircle(agent: Agent, env: Any, rollout: Rollout, belief: Distribution, task: int,
                times: Sequence[int] | None) -> tuple[Any, dict[str, Any]]:
    radius = float(env.unwrapped.radius)
    angles = np.linspace(0.0, np.pi, 181)
    points = torch.as_tensor(radius * np.stack([np.cos(angles), np.sin(angles)], 1), dtype=torch.float32)
    with torch.no_grad():
        # [A, T, n]: q's density (or histogram cell) at each point of the arc, at every step.
        log_q = agent.belief_head.log_prob(belief, points[:, None, None, :])
    log_q = log_q[:, :, task].T.double()  # [T, A]
    strip = torch.softmax(log_q, dim=1).numpy()
    inputs = rollout.batch.inputs[:, task]
    observations = agent.env_observation(inputs).numpy()
    goal = rollout.batch.task[0, task].numpy()
    boundaries = [int(t) for t in np.flatnonzero(inputs[:, -1].numpy() > 0.5) if t > 0]
    true_angle = float(np.arctan2(goal[1], goal[0]))
    fig = semicircle_belief_figure(angles, strip, true_angle, observations[:, :2], goal, radius, boundaries)
    mode = angles[strip.argmax(1)]
    summary = {"family": "semicircle", "true_angle": true_angle, "goal": goal.tolist(),
               "belief_mode_angle_per_episode_end": [float(mode[t - 1]) for t in [*boundaries, len(mode)]],
               "mass_within_0.2_rad_of_goal_at_end":
                   float(strip[-1][np.abs(angles - true_angle) < 0.2].sum())}
    if times is not None:
        summary["mode_angle_at_times"] = {int(t): float(mode[t]) for t in times}
    return fig, summary
