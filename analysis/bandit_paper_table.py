"""The RL² paper's bandit table side by side with this package's agents and strategies.

Duan et al. (2016, "RL²: Fast Reinforcement Learning via Slow Reinforcement Learning", Table 1) report, for
Bernoulli bandits with p ~ U(0, 1): K = 10 arms, H = 100 pulls: Gittins 82.8, RL² 83.5; K = 5, H = 10:
Gittins 6.6, RL² 6.7. This script reads the ``benchmark.json`` that ``bandit_benchmark.py`` wrote for each
env (train the runs there first) and writes one table (Markdown and JSON) and a figure: the published numbers,
then each agent's mean over seeds with the stochastic and the greedy policy, then the reference strategies.

    python analysis/bandit_benchmark.py --env belief_rl/Bandit-K10-H100-v0 --seeds 0 1 2 \\
        --set total_steps=4000000 --out results/bandit/k10_h100
    python analysis/bandit_benchmark.py --env belief_rl/Bandit-K5-H10-v0 --seeds 0 1 2 \\
        --set total_steps=2000000 --out results/bandit/k5_h10
    python analysis/bandit_paper_table.py --benchmarks results/bandit/k10_h100 results/bandit/k5_h10 \\
        --out results/bandit/paper_table
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402

#: Duan et al. 2016, Table 1 (p ~ U(0, 1)), by env id.
PUBLISHED = {
    "belief_rl/Bandit-K10-H100-v0": {"Gittins (published)": 82.8, "RL² (published)": 83.5},
    "belief_rl/Bandit-K5-H10-v0": {"Gittins (published)": 6.6, "RL² (published)": 6.7},
}
AGENT_NAMES = {"belief": "belief agent", "aux_head": "AuxHead agent", "rnn": "RNN agent (RL², ours)"}
STRATEGY_NAMES = {"oracle": "oracle (knows p)", "gittins": "finite-horizon Gittins index (ours)",
                  "bayes_ucb": "Bayes-UCB", "greedy": "greedy (posterior mean)",
                  "thompson": "Thompson sampling", "ucb1": "UCB1", "random": "random"}


def table_rows(benchmark: dict) -> list[dict]:
    """One row per published number, agent and strategy: ``name``, ``mean``, ``stderr``, ``kind``."""
    rows = [{"name": name, "mean": value, "stderr": None, "kind": "published"}
            for name, value in PUBLISHED.get(benchmark["env_id"], {}).items()]
    for agent, summary in benchmark["agent_summary"].items():
        name = AGENT_NAMES.get(agent, agent)
        seeds = summary["num_seeds"]
        rows.append({"name": f"{name}, stochastic", "mean": summary["mean"], "stderr": summary["stderr"],
                     "kind": "agent", "seeds": seeds})
        if "greedy" in summary:
            rows.append({"name": f"{name}, greedy", "mean": summary["greedy"]["mean"],
                         "stderr": summary["greedy"]["stderr"], "kind": "agent", "seeds": seeds})
    for strategy, summary in benchmark["strategies"].items():
        rows.append({"name": STRATEGY_NAMES.get(strategy, strategy), "mean": summary["mean"],
                     "stderr": summary["stderr"], "kind": "strategy"})
    return sorted(rows, key=lambda row: -row["mean"])


def markdown(tables: dict[str, dict]) -> str:
    lines = []
    for env_id, table in tables.items():
        lines += [f"**{env_id}** ({table['num_tasks']:,} held-out tasks; agents: mean over seeds ± s.e. over "
                  f"seeds; strategies: ± s.e. over tasks)", "", "| | mean return | ± s.e. |", "|---|---|---|"]
        for row in table["rows"]:
            error = "" if row["stderr"] is None else f"{row['stderr']:.2f}"
            seeds = f" ({row['seeds']} seeds)" if row.get("seeds") else ""
            lines.append(f"| {row['name']}{seeds} | {row['mean']:.2f} | {error} |")
        lines.append("")
    return "\n".join(lines)


def plot(tables: dict[str, dict], path: Path) -> None:
    colors = {"published": "tab:purple", "agent": "tab:red", "strategy": "tab:gray"}
    fig, axes = plt.subplots(1, len(tables), figsize=(7 * len(tables), 5), squeeze=False)
    for ax, (env_id, table) in zip(axes[0], tables.items()):
        rows = [row for row in table["rows"] if row["name"] not in ("oracle (knows p)", "random", "UCB1")]
        rows = rows[::-1]
        ax.barh([row["name"] for row in rows], [row["mean"] for row in rows],
                xerr=[row["stderr"] or 0.0 for row in rows], color=[colors[row["kind"]] for row in rows],
                capsize=3)
        low = min(row["mean"] for row in rows)
        high = max(row["mean"] for row in rows)
        ax.set_xlim(low - 0.15 * (high - low), high + 0.1 * (high - low))
        for i, row in enumerate(rows):
            ax.text(row["mean"], i, f" {row['mean']:.2f}", va="center", fontsize=8)
        ax.set_xlabel("mean return per meta-episode")
        ax.set_title(env_id.removeprefix("belief_rl/"))
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", nargs="+", type=Path, required=True,
                        help="folders holding a bandit_benchmark.py benchmark.json")
    parser.add_argument("--out", type=Path, default=Path("results/bandit/paper_table"))
    args = parser.parse_args()
    tables = {}
    for folder in args.benchmarks:
        benchmark = json.loads((folder / "benchmark.json").read_text())
        tables[benchmark["env_id"]] = {"num_tasks": benchmark["num_tasks"], "preset": benchmark["preset"],
                                       "overrides": benchmark["overrides"], "rows": table_rows(benchmark)}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "paper_table.json", json.dumps(tables, indent=2).encode())
    text = markdown(tables)
    atomic_write_bytes(args.out / "paper_table.md", text.encode())
    plot(tables, args.out / "paper_table.png")
    print(text)
    print(f"wrote {args.out / 'paper_table.md'}, .json and .png")


if __name__ == "__main__":
    main()
