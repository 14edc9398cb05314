"""Overlay mean learning curves from several ``meta_rl_benchmark.py`` summaries in one figure.

Each ``--curve LABEL=SUMMARY:AGENT`` draws ``AGENT``'s mean ± s.e. curve on ``--env`` from the
``benchmark.json`` at ``SUMMARY``, e.g. the same agent at two network sizes kept in two output
folders. The first summary's oracle and explorer returns are drawn as horizontal lines.

    .venv/bin/python analysis/compare_benchmarks.py --env belief_rl/NumPad-2x2-L3-v0 \\
        --curve "belief 64=results/meta_rl/more_seeds/seeds_0_4/benchmark.json:belief" \\
        --curve "RNN 128=results/meta_rl/sizes/rnn128/benchmark.json:rnn" \\
        --out results/meta_rl/sizes/numpad_2x2.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from belief_rl.plotting import META_RL_REFERENCE_STYLES, draw_references, plot_mean_curve, save_figure  # noqa: E402


def parse_curve(spec: str) -> tuple[str, Path, str]:
    """``LABEL=SUMMARY:AGENT`` → ``(label, summary path, agent)``."""
    label, sep, rest = spec.partition("=")
    path, sep2, agent = rest.rpartition(":")
    if not (sep and sep2 and label and path and agent):
        raise ValueError(f"--curve must look like LABEL=SUMMARY.json:AGENT, got {spec!r}")
    return label, Path(path), agent


def load_curve(path: Path, env_id: str, agent: str) -> tuple[dict, dict]:
    """The agent's curve and the env's summary (for its references) in the summary at ``path``."""
    try:
        summary = json.loads(path.read_text())["envs"][env_id]
    except (OSError, ValueError, KeyError):
        raise ValueError(f"{path} holds no benchmark summary of {env_id}") from None
    if agent not in summary.get("agents", {}):
        raise ValueError(f"{path} has no {agent!r} runs on {env_id} "
                         f"(has: {', '.join(summary.get('agents', {}))})")
    return summary["agents"][agent]["curve"], summary


def plot(env_id: str, curves: list[tuple[str, dict]], references: dict, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, curve in curves:
        plot_mean_curve(ax, curve, label)
    draw_references(ax, references, META_RL_REFERENCE_STYLES)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("held-out meta-episode return")
    ax.set_title(f"{env_id} (mean ± s.e. over seeds)")
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--curve", action="append", required=True,
                        help="LABEL=SUMMARY.json:AGENT (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="figure path (.png)")
    args = parser.parse_args(argv)
    try:
        specs = [parse_curve(spec) for spec in args.curve]
        loaded = [(label, *load_curve(path, args.env, agent)) for label, path, agent in specs]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    plot(args.env, [(label, curve) for label, curve, _ in loaded], loaded[0][2]["references"], args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
