"""Figures of what an agent believes, drawn from arrays (no agent or env needed).

Hinton diagrams draw a probability as a square whose **area** (not side) is proportional to it, on one fixed
scale across all panels of a figure: a square filling its cell means probability ``max_prob`` (1 unless
given). Learned beliefs are filled squares; exact posteriors, where drawn beside them, hollow outlines.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

LEARNED_COLOR = "tab:blue"
EXACT_COLOR = "black"
TRUE_COLOR = "tab:red"
_FILL = 0.9  # a square of probability max_prob spans this fraction of its cell's side


def hinton(ax: plt.Axes, probs: np.ndarray, max_prob: float = 1.0, color: str = LEARNED_COLOR,
           hollow: bool = False) -> list[Rectangle]:
    """Draw ``probs [rows, cols]`` as squares of area ∝ probability (row 0 on top); returns the squares."""
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    if (probs < -1e-9).any() or max_prob <= 0:
        raise ValueError("Hinton diagrams draw probabilities (>= 0) on a positive scale")
    rows, cols = probs.shape
    squares = []
    for (r, c), p in np.ndenumerate(probs):
        side = _FILL * np.sqrt(max(p, 0.0) / max_prob)
        square = Rectangle((c - side / 2, rows - 1 - r - side / 2), side, side,
                           facecolor="none" if hollow else color, edgecolor=color if hollow else "none",
                           linewidth=0.8)
        ax.add_patch(square)
        squares.append(square)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(-0.5, rows - 0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return squares


def mark_cell(ax: plt.Axes, row: int, col: int, rows: int, color: str = TRUE_COLOR) -> None:
    """Frame one cell of a Hinton diagram (e.g. the true pad)."""
    ax.add_patch(Rectangle((col - 0.5, rows - 1 - row - 0.5), 1.0, 1.0, facecolor="none", edgecolor=color,
                           linewidth=1.5))


def numpad_belief_figure(learned: np.ndarray, exact: np.ndarray, true_sequence: Sequence[int], size: int,
                         times: Sequence[int], column_titles: Sequence[str], log_q_learned: np.ndarray,
                         log_q_exact: np.ndarray, discoveries: Sequence[int]) -> plt.Figure:
    """The NumPad belief panel: for each time (column) and sequence position (row), the marginal over pads in
    their ``size × size`` layout, learned (filled) and exact (outline), the true pad framed; below, the
    log-likelihood of the true sequence over the meta-episode with the discoveries marked.

    ``learned``/``exact`` are ``[len(times), L, size**2]``; ``log_q_*`` are ``[T]``.
    """
    columns, length = len(times), len(true_sequence)
    fig = plt.figure(figsize=(1.7 * columns + 1.2, 1.7 * length + 2.6))
    grid = fig.add_gridspec(length + 1, columns, height_ratios=[1.0] * length + [1.3], hspace=0.35)
    for c in range(columns):
        for position in range(length):
            ax = fig.add_subplot(grid[position, c])
            hinton(ax, learned[c, position].reshape(size, size), color=LEARNED_COLOR)
            hinton(ax, exact[c, position].reshape(size, size), color=EXACT_COLOR, hollow=True)
            mark_cell(ax, *divmod(int(true_sequence[position]), size), rows=size)
            if position == 0:
                ax.set_title(column_titles[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(f"position {position + 1}", fontsize=8)
    ax = fig.add_subplot(grid[length, :])
    steps = np.arange(len(log_q_learned))
    ax.plot(steps, log_q_learned, color=LEARNED_COLOR, label="learned belief (positions independent)")
    ax.plot(steps, np.maximum(log_q_exact, -50), color=EXACT_COLOR, linestyle="--", label="exact posterior")
    for k, step in enumerate(discoveries):
        if step >= 0:
            ax.axvline(step, color=TRUE_COLOR, linewidth=0.8, alpha=0.6)
            ax.text(step, ax.get_ylim()[1], f" {k + 1}", color=TRUE_COLOR, fontsize=7, va="top")
    for t in times:
        ax.plot([t], [log_q_learned[t]], marker="v", color=LEARNED_COLOR, markersize=5)
    ax.set_xlabel("step of the meta-episode (red: discovery of each sequence position; ▼: the columns above)")
    ax.set_ylabel("log q(true sequence)")
    ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("NumPad belief over the pad of each sequence position (square area ∝ probability; filled: "
                 "learned, outline: exact, red frame: true pad)", fontsize=9)
    return fig


def bandit_belief_figure(times: Sequence[int], learned_mean: np.ndarray, learned_interval: np.ndarray,
                         exact_mean: np.ndarray, exact_interval: np.ndarray, true_p: np.ndarray,
                         best_learned: np.ndarray, best_exact: np.ndarray, calibration: dict[str, dict],
                         ) -> plt.Figure:
    """The bandit belief panel.

    Top row, one panel per time: each arm's belief mean and 90% interval, learned beside exact, the true p
    marked. Bottom left: a Hinton row per time of the probability that each arm is the best, learned (filled)
    and exact (outline). Bottom right: the reliability diagram over held-out tasks, with each belief's ECE.

    ``learned_mean``/``exact_mean`` are ``[len(times), K]``, intervals ``[len(times), 2, K]``;
    ``calibration`` maps a label to :func:`belief_rl.posteriors.expected_calibration_error`'s
    ``{"ece", "table"}``.
    """
    columns, arms = learned_mean.shape
    fig = plt.figure(figsize=(max(3.2 * columns, 10), 8))
    grid = fig.add_gridspec(2, 1, height_ratios=[1.0, 1.1], hspace=0.35)
    # The bottom row has its own halves, whatever the number of times above.
    top, bottom = grid[0].subgridspec(1, columns, wspace=0.25), grid[1].subgridspec(1, 2, wspace=0.3)
    x = np.arange(arms)
    arm_ticks = x[:: max(1, arms // 10)]
    for c, t in enumerate(times):
        ax = fig.add_subplot(top[0, c])
        series = ((-0.15, learned_mean, learned_interval, LEARNED_COLOR, "learned"),
                  (0.15, exact_mean, exact_interval, EXACT_COLOR, "exact"))
        for offset, mean, interval, color, label in series:
            low, high = interval[c]
            ax.errorbar(x + offset, mean[c], yerr=[mean[c] - low, high - mean[c]], fmt="o", markersize=3,
                        color=color, label=label, linewidth=0.8)
        ax.scatter(x, true_p, marker="_", color=TRUE_COLOR, s=60, label="true p", zorder=3)
        ax.set_ylim(0, 1)
        ax.set_xticks(arm_ticks)
        ax.set_title(f"after {t} pulls", fontsize=9)
        ax.set_xlabel("arm", fontsize=8)
        if c == 0:
            ax.set_ylabel("belief over p: mean, 90% interval")
            # Above the panels: inside one, the legend hides some arm's bars.
            fig.legend(*ax.get_legend_handles_labels(), loc="upper center", ncol=3, fontsize=8,
                       bbox_to_anchor=(0.5, 0.95), frameon=False)
    ax = fig.add_subplot(bottom[0, 0])
    hinton(ax, best_learned, color=LEARNED_COLOR)
    hinton(ax, best_exact, color=EXACT_COLOR, hollow=True)
    best_true = int(np.argmax(true_p))
    for c in range(columns):
        mark_cell(ax, c, best_true, rows=columns)
    ax.set_yticks(np.arange(columns)[::-1], [f"{t} pulls" for t in times], fontsize=8)
    ax.set_xticks(arm_ticks)
    ax.set_xlabel("arm (red frame: the truly best arm)")
    ax.set_title("P(arm is the best | history): square area ∝ probability", fontsize=9)
    ax = fig.add_subplot(bottom[0, 1])
    ax.plot([0, 1], [0, 1], color="gray", linewidth=0.8)
    for (label, result), color in zip(calibration.items(), (LEARNED_COLOR, EXACT_COLOR)):
        table = result["table"]
        ax.plot(table["predicted"], table["actual"], marker="o", markersize=3, color=color,
                label=f"{label}: ECE {result['ece']:.4f}")
    ax.set_xlabel("predicted probability that the arm pays (belief mean)")
    ax.set_ylabel("actual probability (true p)")
    ax.set_title("calibration over held-out tasks, all arms and steps", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def semicircle_belief_figure(angles: np.ndarray, belief: np.ndarray, true_angle: float, path: np.ndarray,
                             goal: np.ndarray, radius: float, boundaries: Sequence[int]) -> plt.Figure:
    """The Semicircle belief over the goal angle through the meta-episode (a heat strip ``belief [T, A]``
    over ``angles [A]``, normalized per step), the true angle marked, beside the agent's ``path [T, 2]``."""
    fig, (strip, arena) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [2.2, 1]})
    image = strip.imshow(belief.T, origin="lower", aspect="auto", cmap="viridis",
                         extent=(0, belief.shape[0], angles[0], angles[-1]))
    strip.axhline(true_angle, color=TRUE_COLOR, linestyle="--", linewidth=1, label="true goal angle")
    for step in boundaries:
        strip.axvline(step, color="white", linewidth=0.6, alpha=0.7)
    strip.set_xlabel("step of the meta-episode (white: episode boundaries)")
    strip.set_ylabel("goal angle θ (rad)")
    strip.legend(fontsize=8, loc="upper right")
    fig.colorbar(image, ax=strip, label="belief over θ (normalized per step)")
    theta = np.linspace(0, np.pi, 200)
    arena.plot(radius * np.cos(theta), radius * np.sin(theta), color="gray", linewidth=0.8)
    # One line per episode: each starts again at the origin, and joining them would draw the jumps back.
    episodes = np.split(path, [b for b in boundaries if 0 < b < len(path)])
    shades = plt.get_cmap("Blues")(np.linspace(0.45, 1.0, len(episodes)))
    for k, (episode, shade) in enumerate(zip(episodes, shades)):
        arena.plot(episode[:, 0], episode[:, 1], color=shade, linewidth=0.9, label=f"episode {k + 1}")
    arena.scatter([goal[0]], [goal[1]], color=TRUE_COLOR, marker="*", s=120, label="goal", zorder=3)
    arena.set_aspect("equal")
    arena.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    arena.set_title("the agent's path", fontsize=9)
    return fig
