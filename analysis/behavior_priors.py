"""Learned behavior priors on the multi-task ball arenas (after Tirumala et al., Figs. 3 and 5): learning from
scratch with and without a learned default policy, and transfer of a trained prior to a harder task.

Runs the given sweep specs in order on Ray Tune (``belief-rl sweep`` underneath: finished trials are skipped,
killed ones resume), so a transfer spec can name the trials of a pretraining spec that runs before it. Then,
for the last spec, groups its trials by setting and writes into ``--out``:

- ``behavior_priors.json``: per setting and seed, the environment steps until the periodic evaluation's
  success rate first reaches ``--success`` (80% by default), the final return and success rate, and the final
  KL(π ‖ π0) (the two-level bound for hierarchical agents) as the learner logged it on replayed data, the
  mean Retrace trace over the run (how far its off-policy returns reach back); and the
  trained agent's KL on the states of ``--kl-episodes`` held-out episodes it plays, both the bound and the
  true KL between the action distributions (Monte Carlo; a flat prior's KL is exact), so that a hierarchical
  prior and a flat one are compared on the same quantity; per setting, mean ± s.e. over seeds;
- ``behavior_priors.png``: success rate and return during training per setting, mean ± s.e. over seeds, and
  the final KLs.

    python analysis/behavior_priors.py --spec analysis/sweeps/behavior_priors_t1.toml \\
        --out results/behavior_priors/t1
    python analysis/behavior_priors.py --spec analysis/sweeps/behavior_priors_t2_pretrain.toml \\
        analysis/sweeps/behavior_priors_t2.toml --out results/behavior_priors/t2
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from belief_rl import envs  # noqa: E402
from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.errors import BeliefRLError  # noqa: E402
from belief_rl.evaluation import held_out_kwargs, seeded_rollout  # noqa: E402
from belief_rl.experiments import read_metrics, sweep_machine_description  # noqa: E402
from belief_rl.hierarchy.action_kl import agent_action_kl  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402
from belief_rl.runs import load_agent  # noqa: E402
from belief_rl.stats import mean_stderr  # noqa: E402
from belief_rl.sweep import SweepSpec, run_sweep  # noqa: E402
from belief_rl.sweep.results import finished_trials, read_invocations, trained_steps, trial_dir  # noqa: E402

KL_KEYS = ("prior_kl", "prior_kl_high", "prior_kl_low")
ACTION_KL_CACHE = "action_kl.json"
KL_ACTIONS, KL_LATENTS = 64, 512  # actions per state and latents per density in the Monte Carlo action KL


def _number(row: dict[str, Any], key: str) -> float:
    value = row.get(key)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def trial_result(run_dir: Path, success_level: float, kl_episodes: int = 0) -> dict[str, Any]:
    """One run's curve, steps to ``success_level`` and final numbers, from its metrics; with
    ``kl_episodes``, the KLs of :func:`kl_on_own_states` too."""
    rows = read_metrics(run_dir)
    evals = [row for row in rows if not math.isnan(_number(row, "eval_return"))]
    steps = [int(_number(row, "global_step")) for row in evals]
    success = [_number(row, "eval_success") for row in evals]
    reached = next((step for step, rate in zip(steps, success) if rate >= success_level), None)
    tail = rows[-10:]
    kl = sum(np.nanmean([_number(row, key) for row in tail]) for key in KL_KEYS
             if any(key in row for row in tail))
    returns = [_number(r, "eval_return") for r in evals]
    traces = [_number(row, "trace_mean") for row in rows]
    result = {"run_dir": str(run_dir), "steps": steps, "eval_return": returns,
              "eval_success": success, "steps_to_success": reached, "total_steps": steps[-1] if steps else 0,
              "final_return": float(np.mean(returns[-3:])) if evals else None,
              "final_success": float(np.mean(success[-3:])) if evals else None,
              "final_kl": float(kl) if any(key in rows[-1] for key in KL_KEYS) else None,
              "wall_time_s": _number(rows[-1], "wall_time") if rows else None,
              # Retrace's mean trace λ·min(1, ρ) over the run: how far off-policy returns reach back.
              "trace_mean": float(np.nanmean(traces)) if not all(map(math.isnan, traces)) else None}
    if kl_episodes:
        result.update(kl_on_own_states(run_dir, kl_episodes, seed=0) or {})
    return result


def kl_on_own_states(run_dir: Path, episodes: int, seed: int) -> dict[str, Any] | None:
    """The trained agent's KL(π ‖ π0) on the states of ``episodes`` held-out episodes it plays with its
    stochastic policy, against its online π0: ``kl_bound`` (the two-level bound a hierarchical agent is
    regularized with) and ``action_kl`` (the true KL of the action distributions, by Monte Carlo); equal and
    exact for a flat prior. None for an agent without a learned prior. Cached in the run directory."""
    cache = run_dir / ACTION_KL_CACHE
    key = {"episodes": episodes, "seed": seed, "trained_steps": trained_steps(run_dir)[0],
           "num_actions": KL_ACTIONS, "num_latents": KL_LATENTS}
    if cache.exists():
        cached = json.loads(cache.read_text())
        if all(cached.get(name) == value for name, value in key.items()):
            return cached["kl"]
    agent, config, _ = load_agent(run_dir)
    kl = None
    if agent.has_learned_prior:
        env = envs.make_vector_env(config.env_id, episodes, **held_out_kwargs(config.env_kwargs))
        rollout = seeded_rollout(env, agent, seed)
        env.close()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            features = agent.sequence_features(rollout.batch, with_aux=False).features
            if agent.hierarchical:
                both = agent_action_kl(agent, features, num_actions=KL_ACTIONS, num_latents=KL_LATENTS)
                kl = {"kl_bound": both["bound"].mean().item(), "action_kl": both["action_kl"].mean().item()}
            else:
                exact = sum(agent.prior_kl(agent.policy(features), features).values()).mean().item()
                kl = {"kl_bound": exact, "action_kl": exact}
    atomic_write_bytes(cache, json.dumps({**key, "kl": kl}, indent=2).encode())
    return kl


def summarize_setting(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± s.e. over seeds; steps to success over the seeds that got there (how many did is reported)."""
    reached = [r["steps_to_success"] for r in results if r["steps_to_success"] is not None]
    summary: dict[str, Any] = {"seeds": len(results), "seeds_reaching": len(reached)}
    for key, values in (("steps_to_success", reached),
                        ("final_return", [r["final_return"] for r in results]),
                        ("final_success", [r["final_success"] for r in results]),
                        ("final_kl", [r["final_kl"] for r in results if r["final_kl"] is not None]),
                        ("trace_mean", [r["trace_mean"] for r in results if r.get("trace_mean") is not None]),
                        *((key, [r[key] for r in results if key in r]) for key in ("kl_bound", "action_kl"))):
        if values:
            mean, stderr = mean_stderr(np.array(values, dtype=float))
            summary[key] = {"mean": float(mean), "stderr": float(stderr)}
    return summary


def plot(settings: dict[str, list[dict[str, Any]]], success_level: float, title: str, path: Path) -> None:
    """Success and return during training; with KLs measured on the agents' own states, a third panel of the
    bound against the true action KL per setting."""
    with_kl = any("action_kl" in r for results in settings.values() for r in results)
    fig, all_axes = plt.subplots(1, 3 if with_kl else 2, figsize=(18 if with_kl else 12, 4.5))
    axes = all_axes[:2]
    for color, (label, results) in zip(plt.get_cmap("tab10").colors, settings.items()):
        length = min(len(r["steps"]) for r in results)
        if length == 0:
            continue
        steps = np.array(results[0]["steps"][:length])
        for ax, key in zip(axes, ("eval_success", "eval_return")):
            values = np.array([r[key][:length] for r in results])
            mean = values.mean(0)
            stderr = values.std(0, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.zeros(length)
            ax.plot(steps, mean, color=color, label=f"{label} ({len(values)} seeds)")
            ax.fill_between(steps, mean - stderr, mean + stderr, color=color, alpha=0.2)
    axes[0].axhline(success_level, color="gray", linestyle=":", linewidth=1)
    axes[0].set_ylabel("success rate (held-out episodes)")
    axes[1].set_ylabel("return")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    if with_kl:
        _plot_kls(all_axes[2], settings)
    fig.suptitle(title)
    save_figure(fig, path)


def _plot_kls(ax: plt.Axes, settings: dict[str, list[dict[str, Any]]]) -> None:
    """Per setting with a prior: the two-level bound and the true KL of the action distributions, mean ± s.e.
    over seeds (one value each for a flat prior, whose KL is exact)."""
    colors = plt.get_cmap("tab10").colors
    labels = []
    for color, (label, results) in zip(colors, settings.items()):
        if not any("action_kl" in r for r in results):
            continue
        position = len(labels)
        labels.append(label)
        for offset, key, hatch in ((-0.2, "kl_bound", "//"), (0.2, "action_kl", None)):
            mean, stderr = mean_stderr(np.array([r[key] for r in results if key in r], dtype=float))
            ax.bar(position + offset, mean, width=0.4, yerr=0.0 if np.isnan(stderr) else stderr, color=color,
                   alpha=0.45 if hatch else 0.9, hatch=hatch, edgecolor="black", linewidth=0.5)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("KL(π ‖ π0), nats per step")
    ax.set_title("final KL on the agents' own states:\nbound (hatched) and action distributions", fontsize=9)
    ax.grid(alpha=0.3, axis="y")


def _wall_time(sweep_dir: Path) -> float:
    """A sweep's wall time over all its invocations."""
    return round(sum(i["wall_time_s"] for i in read_invocations(sweep_dir)), 1)


def setting_label(settings: dict[str, str]) -> str:
    """A trial's variant label, or a short one made from its own settings."""
    if "label" in settings:
        return settings["label"]
    return ", ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in settings.items()) or "base"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, nargs="+", required=True,
                        help="sweep specs, run in order; the last one is analyzed")
    parser.add_argument("--out", type=Path, required=True, help="results directory (sweeps go to OUT/<name>)")
    parser.add_argument("--success", type=float, default=0.8, help="success rate that counts as solved")
    parser.add_argument("--max-concurrent", type=int, default=None,
                        help="trials at once (default: as many as fill the CPUs)")
    parser.add_argument("--kl-episodes", type=int, default=32,
                        help="held-out episodes whose states the final KLs are measured on (0: skip)")
    parser.add_argument("--no-train", action="store_true", help="analyze the finished trials only")
    args = parser.parse_args()
    if args.kl_episodes < 0:
        parser.error(f"--kl-episodes must be >= 0, got {args.kl_episodes}")

    specs = [SweepSpec.from_file(path) for path in args.spec]
    if not args.no_train:
        for spec in specs:
            run_sweep(spec, args.out / spec.name, max_concurrent=args.max_concurrent)
    spec = specs[-1]
    sweep_dir = args.out / spec.name
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        finished = finished_trials(spec, sweep_dir)
    except BeliefRLError as exc:
        parser.error(str(exc))
    for trial in finished:
        groups[setting_label(trial.settings())].append(
            {"seed": trial.seed, **trial_result(trial_dir(sweep_dir, trial), args.success, args.kl_episodes)})
    results = {"specs": [s.to_dict() for s in specs], "success_level": args.success,
               "kl_episodes": args.kl_episodes,
               "machine": sweep_machine_description(spec.threads_per_trial),
               "sweep_wall_time_s": {s.name: _wall_time(args.out / s.name) for s in specs},
               "settings": {label: {"summary": summarize_setting(trials), "trials": trials}
                            for label, trials in groups.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "behavior_priors.json", json.dumps(results, indent=2).encode())
    if groups:
        plot(groups, args.success, f"{spec.env}: learned behavior priors", args.out / "behavior_priors.png")
    print(f"{'setting':60} {'seeds':>5} {'steps to ' + format(args.success, '.0%'):>20} {'return':>14} "
          f"{'KL logged':>14} {'KL bound':>14} {'action KL':>14}")
    for label, trials in groups.items():
        s = summarize_setting(trials)
        steps = (f"{s['steps_to_success']['mean']:9,.0f} ± {s['steps_to_success']['stderr']:7,.0f}"
                 if "steps_to_success" in s else "not reached")
        kls = [f"{s[key]['mean']:6.2f} ± {s[key]['stderr']:4.2f}" if key in s else "-"
               for key in ("final_kl", "kl_bound", "action_kl")]
        print(f"{label:60} {s['seeds_reaching']}/{s['seeds']:<3} {steps:>20} "
              f"{s['final_return']['mean']:6.1f} ± {s['final_return']['stderr']:4.1f} "
              + " ".join(f"{kl:>14}" for kl in kls))
    print(f"wrote {args.out / 'behavior_priors.json'} and {args.out / 'behavior_priors.png'}")


if __name__ == "__main__":
    main()
