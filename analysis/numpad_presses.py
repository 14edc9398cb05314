"""What trained NumPad agents press, and what a belief agent believes about the sequence.

For each run directory, plays ``--num-tasks`` held-out tasks with the agent's
stochastic policy on the tasks and with the sampling noise of
``belief-rl evaluate`` and counts, per meta-episode, the rewarded presses of each
sequence position (the last is a completion) and the wrong presses that cleared
progress (:func:`envs.numpad.press_statistics`).
It reports the exact posterior's mean probability of the true pad at each
sequence position at a few points of the agent's own meta-episodes and, for
agents with a task head, the learned belief's: how much the histories reveal,
and how much of it the belief has learned.
Writes ``numpad_presses.json`` and ``numpad_presses.png`` into ``--out``.

    python analysis/numpad_presses.py results/meta_rl/runs/NumPad-2x2-L3-v0/{belief,rnn}_seed0 \\
        --out results/meta_rl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from belief_rl import envs  # noqa: E402
from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.envs.numpad import press_statistics  # noqa: E402
from belief_rl.errors import BeliefRLError  # noqa: E402
from belief_rl.evaluation import held_out_kwargs, seeded_rollout  # noqa: E402
from belief_rl.experiments import machine_description  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402
from belief_rl.posteriors import NumPadPosterior, numpad_active_counts, numpad_posterior  # noqa: E402
from belief_rl.runs import load_agent  # noqa: E402
from belief_rl.seeding import evaluation_base_seed  # noqa: E402
from belief_rl.task_heads import true_component_probabilities  # noqa: E402

BELIEF_TIMES = (50, 100, 250, 499)


def exact_p_true(posterior: NumPadPosterior, tasks: np.ndarray) -> dict[str, list[float]]:
    """The exact posterior's mean probability of the true pad per position at :data:`BELIEF_TIMES`."""
    marginals = posterior.marginals()  # [T, n, L, P]
    true = np.take_along_axis(marginals, tasks[None, :, :, None], axis=-1)[..., 0]  # [T, n, L]
    return {str(t): true[t].mean(0).tolist() for t in BELIEF_TIMES if t < true.shape[0]}


@torch.no_grad()
def analyse_run(run_dir: Path, num_tasks: int, eval_seed: int) -> dict:
    """Press counts (mean per meta-episode) and, for agents with a task head, per-position belief accuracy."""
    agent, config, payload = load_agent(run_dir)
    if envs.env_family(config.env_id) != "numpad":
        raise ValueError(f"{run_dir} was trained on {config.env_id}, not a NumPad env")
    torch.set_num_threads(config.num_threads)
    agent.eval()
    env = envs.make_vector_env(config.env_id, num_tasks, **held_out_kwargs(config.env_kwargs))
    length = env.unwrapped.task_spec.length
    rollout = seeded_rollout(env, agent, evaluation_base_seed(eval_seed))
    env.close()
    observations = agent.env_observation(rollout.batch.inputs).numpy()
    active_counts = numpad_active_counts(observations, env.unwrapped.size)
    stats = press_statistics(active_counts, rollout.rewards.numpy(), length)
    result = {"env_id": config.env_id, "agent": config.agent.kind, "seed": config.seed,
              "trained_steps": payload["global_step"], "num_tasks": num_tasks, "eval_seed": eval_seed,
              "return": float(rollout.returns().mean()),
              "correct_presses_per_position": stats["correct"].mean(axis=1).tolist(),
              "wrong_clears": float(stats["wrong_clears"].mean())}
    tasks = rollout.batch.task[0].numpy()
    posterior = numpad_posterior(observations, rollout.rewards.numpy(), env.unwrapped.size, length,
                                 env.unwrapped.neighbourhood)
    result["exact_posterior_p_true"] = exact_p_true(posterior, tasks.astype(np.int64))
    belief = agent.belief(rollout.batch.inputs)
    if belief is not None:
        true = true_component_probabilities(belief, rollout.batch.task)
        result["belief_p_true"] = {str(t): true[t].mean(0).tolist()
                                   for t in BELIEF_TIMES if t < true.shape[0]}
    return result


def plot(results: list[dict], names: list[str], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(14, 5))
    labels = [f"{name}\n{r['return']:.1f}" for name, r in zip(names, results)]
    x = np.arange(len(results))
    length = len(results[0]["correct_presses_per_position"])
    width = 0.8 / (length + 1)
    for k in range(length):
        name = "completion" if k == length - 1 else f"pad {k + 1} of the sequence"
        axes[0].bar(x + k * width, [r["correct_presses_per_position"][k] for r in results], width, label=name)
    axes[0].bar(x + length * width, [r["wrong_clears"] for r in results], width, label="wrong press (clears)",
                color="tab:gray")
    axes[0].set(xticks=x + 0.4 - width / 2, ylabel="per meta-episode", title="presses (run, return)")
    axes[0].set_xticklabels(labels, fontsize=7, rotation=45, ha="right")
    axes[0].legend(fontsize=8)
    believers = [r for r in results if "belief_p_true" in r]
    for r in believers:
        times = sorted(int(t) for t in r["belief_p_true"])
        for k in range(length):
            axes[1].plot(times, [r["belief_p_true"][str(t)][k] for t in times], marker="o",
                         color=f"C{k}", alpha=0.7, label=f"position {k + 1}" if r is believers[0] else None)
    axes[1].set(xlabel="step of the meta-episode", ylabel="belief: mean p(true pad)", ylim=(0, 1.02),
                title="agents with a task head (one line per run): p(true pad)")
    if believers:
        axes[1].legend(fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--num-tasks", type=int, default=200)
    parser.add_argument("--eval-seed", type=int, default=0)
    parser.add_argument("--labels", nargs="+",
                        help="one name per run for the plot (default: the run directory's name)")
    parser.add_argument("--out", type=Path, default=Path("results/meta_rl"))
    args = parser.parse_args()
    names = args.labels or [run_dir.name for run_dir in args.run_dirs]
    if len(names) != len(args.run_dirs):
        parser.error(f"{len(names)} labels for {len(args.run_dirs)} runs")
    try:
        results = [analyse_run(run_dir, args.num_tasks, args.eval_seed) for run_dir in args.run_dirs]
    except (BeliefRLError, ValueError, FileNotFoundError) as exc:
        parser.exit(2, f"numpad_presses: error: {exc}\n")
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine_description(), "runs": {str(d): r for d, r in zip(args.run_dirs, results)}}
    atomic_write_bytes(args.out / "numpad_presses.json", json.dumps(payload, indent=2).encode())
    plot(results, names, args.out / "numpad_presses.png")
    for run_dir, r in zip(args.run_dirs, results):
        presses = ", ".join(f"{v:.1f}" for v in r["correct_presses_per_position"])
        line = (f"{run_dir}: return {r['return']:.1f}; rewarded presses per position {presses}; "
                f"wrong {r['wrong_clears']:.1f}")
        if "belief_p_true" in r:
            last = max(r["belief_p_true"], key=int)
            line += (f"; belief p(true) at step {last}: "
                     + ", ".join(f"{p:.2f}" for p in r["belief_p_true"][last]))
        print(line)
    print(f"wrote {args.out / 'numpad_presses.json'} and {args.out / 'numpad_presses.png'}")


if __name__ == "__main__":
    main()
