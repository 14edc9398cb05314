"""Figures for evaluation results (matplotlib). The library leaves the backend to the user (a headless
machine gets Agg); the command line sets Agg itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np


def plot_mean_curve(ax: plt.Axes, curve: dict[str, Any], label: str, color: str | None = None) -> None:
    """A learning curve (``steps``, ``mean``, ``stderr``, ``num_seeds``) as its mean with a ± s.e. band."""
    steps, mean = np.array(curve["steps"]), np.array(curve["mean"])
    se = np.nan_to_num(np.array(curve["stderr"], dtype=float))
    line, = ax.plot(steps, mean, color=color, label=f"{label} ({curve['num_seeds']} seeds)")
    ax.fill_between(steps, mean - se, mean + se, color=line.get_color(), alpha=0.2)


# Line styles of the scripted references of the continuous-control envs.
META_RL_REFERENCE_STYLES = {"oracle": "--", "explorer": ":"}


def draw_references(ax: plt.Axes, references: dict[str, dict[str, float]], styles: dict[str, str]) -> None:
    """Gray horizontal lines at the mean returns of the named reference policies (name → line style)."""
    for name, style in styles.items():
        if name in references:
            mean = references[name]["mean"]
            ax.axhline(mean, color="gray", linestyle=style, label=f"{name} {mean:.1f}")


def save_figure(fig: plt.Figure, path: Path) -> None:
    """Lay out, write (PNG at 120 dpi) and close a figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def agent_rows(results: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """``(label, summary)`` of each evaluated policy of the agent in an :func:`evaluate_run` result."""
    agent = results.get("agent")
    if not agent:
        return []
    # Results written before both policies were scored hold one summary in "agent".
    policies = results.get("policies") or {"greedy" if agent.get("deterministic") else "stochastic": agent}
    return [(f"{agent['kind']} agent ({agent['algorithm']}, {policy})", summary)
            for policy, summary in policies.items()]


def plot_evaluation(results: dict[str, Any], path: Path) -> None:
    """Returns (agent vs strategies, mean ± s.e.) and, if present, the belief KL per step."""
    has_kl = "belief_kl" in results
    fig, axes = plt.subplots(1, 2 if has_kl else 1, figsize=(12 if has_kl else 6.5, 4.2), squeeze=False)
    agents = agent_rows(results)
    rows = sorted(agents + list(results.get("strategies", {}).items()), key=lambda row: row[1]["mean"])
    ax = axes[0, 0]
    agent_names = {name for name, _ in agents}
    colors = ["tab:red" if name in agent_names else "tab:gray" for name, _ in rows]
    ax.barh([name for name, _ in rows], [r["mean"] for _, r in rows], xerr=[r["stderr"] for _, r in rows],
            color=colors, capsize=3)
    for i, (_, r) in enumerate(rows):
        ax.text(r["mean"] + 0.5, i, f"{r['mean']:.2f}", va="center", fontsize=8)
    ax.set_xlabel(f"mean return over {results['num_tasks']:,} held-out tasks (± s.e.)")
    ax.set_title(results["env_id"])
    if has_kl:
        kl = results["belief_kl"]["per_step"]
        axes[0, 1].plot(range(len(kl)), kl, color="tab:red")
        axes[0, 1].set_xlabel("step t (pulls observed)")
        axes[0, 1].set_ylabel("KL(exact Beta posterior ‖ belief) per arm")
        axes[0, 1].set_title("belief quality")
        axes[0, 1].set_yscale("log")
    save_figure(fig, path)
