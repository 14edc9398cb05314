"""Finding (c): learning curves of KL-regularized SVG(0) with no prior, a parametric prior and a GP prior.

For each environment: collect demonstrations from a stochastic expert (the oracle
with Gaussian noise on its pre-squash action, ``--demo-noise``), fit both priors,
score behavioral cloning alone (each prior's mean action played as a policy),
then train one agent (``--agent``, the belief agent by default) with SVG(0) for
every method and seed:

* ``entropy``: maximum-entropy SVG(0) (no prior; the preset's temperature);
* ``parametric``: α·KL(π ‖ π0) toward the Gaussian-MLP (behavioral-cloning) prior;
* ``gp``: α·KL(π ‖ π0) toward the GP prior.

Draws held-out return (mean ± s.e. over seeds) against environment steps with the
expert, random and BC-alone returns as lines, and reports the environment steps
each method needs to reach the expert's return and 90%/95% of the expert's margin
over random. Phases (``--phase``) let several processes share the training:
``prepare`` once per env, then any number of ``train`` processes (each given a
subset of ``--methods``/``--seeds``), then ``summarize``; ``all`` (default) does
the three in order. Runs resume where they stopped.

    python analysis/prior_learning_curves.py --envs belief_rl/Reacher-v5 --seeds 0 1 2 --out results/priors
    python analysis/prior_learning_curves.py --envs belief_rl/Semicircle-FixedGoal-v0 --demo-episodes 5 \\
        --seeds 0 1 2 --out results/priors
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.config import apply_override  # noqa: E402
from belief_rl.evaluation import evaluate_references  # noqa: E402
from belief_rl.experiments import (  # noqa: E402
    machine_description,
    mean_curve,
    merge_env_summaries,
    read_metrics,
    steps_to_reach,
    train_or_resume,
)
from belief_rl.families import preset_for_env  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402
from belief_rl.presets import apply_preset  # noqa: E402
from belief_rl.priors import (  # noqa: E402
    GPFitConfig,
    GPPrior,
    ParametricFitConfig,
    ParametricPrior,
    save_prior,
    to_raw_actions,
)
from belief_rl.priors.collect import collect_demonstrations  # noqa: E402
from belief_rl.priors.policy import evaluate_prior_policy  # noqa: E402
from belief_rl.training import MONITOR_EVAL_SEED  # noqa: E402

METHODS = ("entropy", "parametric", "gp")
PRIOR_INIT_ALPHA = 1.0
COLORS = {"entropy": "tab:gray", "parametric": "tab:blue", "gp": "tab:red"}


def env_name(env_id: str) -> str:
    return env_id.removeprefix("belief_rl/")


def prior_path(out: Path, env_id: str, kind: str) -> Path:
    return out / "priors" / f"{env_name(env_id)}_{kind}.pt"


def prepare(env_id: str, args: argparse.Namespace) -> dict:
    """Demonstrations, both priors, and the reference returns on the monitoring tasks."""
    demos = collect_demonstrations(env_id, "oracle", args.demo_episodes, seed=args.demo_seed,
                                   action_noise=args.demo_noise, execution_noise=args.demo_execution_noise)
    demos.save(args.out / "priors" / f"{env_name(env_id)}_demos.npz")
    obs = torch.as_tensor(demos.observations)
    low, high = torch.as_tensor(demos.action_low), torch.as_tensor(demos.action_high)
    raw = to_raw_actions(torch.as_tensor(demos.actions), low, high)
    summary: dict = {"demonstrations": len(obs), "demo_noise": args.demo_noise,
                     "demo_execution_noise": args.demo_execution_noise,
                     "demo_return": float(demos.episode_returns().mean()), "bc": {}}
    for kind in ("parametric", "gp"):
        start = time.perf_counter()
        if kind == "gp":
            prior = GPPrior.fit(obs, raw, low, high, GPFitConfig(iterations=args.gp_iterations))
        else:
            prior = ParametricPrior.fit(obs, raw, low, high, ParametricFitConfig())
        seconds = time.perf_counter() - start
        save_prior(prior_path(args.out, env_id, kind), prior, {"env_id": env_id, "num_points": len(obs),
                                                                "fit_seconds": seconds})
        summary[f"{kind}_fit_seconds"] = seconds
        summary["bc"][kind] = evaluate_prior_policy(prior, env_id, args.eval_tasks, MONITOR_EVAL_SEED)
        print(f"{env_id}: {kind} prior fit in {seconds:.1f} s; its mean policy returns "
              f"{summary['bc'][kind]['mean']:.2f}", flush=True)
    summary["references"] = evaluate_references(env_id, {}, args.eval_tasks, MONITOR_EVAL_SEED)
    atomic_write_bytes(args.out / f"prepared_{env_name(env_id)}.json", json.dumps(summary, indent=2).encode())
    return summary


def run_dir_for(out: Path, env_id: str, method: str, seed: int) -> Path:
    return out / "runs" / env_name(env_id) / f"{method}_seed{seed}"


def train(env_id: str, method: str, seed: int, args: argparse.Namespace) -> None:
    config = apply_preset({"env_id": env_id, "seed": seed, "agent": {"kind": args.agent}},
                          preset_for_env(env_id), args.agent)
    if method != "entropy":
        # The KL term starts with weight α = 1 (as SAC's temperature usually does), so the policy first
        # follows the prior and α then falls as far as the target KL allows; the entropy runs keep the
        # preset's small starting temperature, tuned for exploration without a prior.
        config["svg0"] = {**config.get("svg0", {}),
                          "prior": str(prior_path(args.out, env_id, method).resolve()),
                          "init_alpha": PRIOR_INIT_ALPHA}
    for assignment in args.set:
        apply_override(config, assignment)
    print(f"== {env_id} {method} seed {seed}", flush=True)
    train_or_resume(run_dir_for(args.out, env_id, method, seed), config, progress=not args.no_progress)


def summarize(args: argparse.Namespace) -> dict:
    """Curves of the runs in ``--out``.

    An env without runs there keeps its entry of ``learning_curves.json``.
    """
    summaries: dict[str, dict] = {}
    for env_id in args.envs:
        prepared = json.loads((args.out / f"prepared_{env_name(env_id)}.json").read_text())
        references = prepared["references"]
        expert = references.get("expert", references.get("oracle"))["mean"]
        floor = references["random"]["mean"] if "random" in references else 0.0
        # Levels short of the expert: 90% and 95% of the way from random (or 0) to the expert.
        near_expert = floor + 0.9 * (expert - floor)
        closer = floor + 0.95 * (expert - floor)
        entry = {**prepared, "expert_return": expert, "near_expert_return": near_expert,
                 "return_95_percent": closer, "methods": {}}
        for method in args.methods:
            runs = [run_dir_for(args.out, env_id, method, s) for s in args.seeds]
            runs = [r for r in runs if (r / "metrics.csv").exists()]
            if not runs:
                continue
            curve = mean_curve(runs)
            wall = [float(read_metrics(r)[-1]["wall_time"]) for r in runs]
            # The mean curve can hide seeds that never get there (or one seed carrying the mean).
            per_seed = {r.name: steps_to_reach(mean_curve([r]), expert) for r in runs}
            entry["methods"][method] = {"curve": curve, "num_seeds": len(runs),
                                        "steps_to_expert": steps_to_reach(curve, expert),
                                        "seed_steps_to_expert": per_seed,
                                        "steps_to_near_expert": steps_to_reach(curve, near_expert),
                                        "steps_to_95_percent": steps_to_reach(curve, closer),
                                        "final_mean": curve["mean"][-1], "final_stderr": curve["stderr"][-1],
                                        "wall_time_s": wall}
        entry["overrides"] = args.set  # each env's own: envs summarized in other calls keep theirs
        summaries[env_id] = entry if entry["methods"] else {}
    results = {"machine": machine_description(), "seeds": args.seeds, "overrides": args.set,
               "envs": merge_env_summaries(args.out / "learning_curves.json", summaries)}
    atomic_write_bytes(args.out / "learning_curves.json", json.dumps(results, indent=2).encode())
    plot(results, args.out / "learning_curves.png")
    for env_id, entry in results["envs"].items():
        if not entry:
            print(f"{env_id}: no runs")
            continue
        print(f"{env_id}: expert {entry['expert_return']:.2f}, "
              f"BC alone {entry['bc']['parametric']['mean']:.2f}")
        for method, m in entry["methods"].items():
            reached = sum(v is not None for v in m.get("seed_steps_to_expert", {}).values())
            print(f"  {method:<10} final {m['final_mean']:.2f} ± {m['final_stderr']:.2f} "
                  f"({m['num_seeds']} seeds), steps to expert: {m['steps_to_expert']}, "
                  f"to 90% of expert over random ({entry['near_expert_return']:.2f}): "
                  f"{m['steps_to_near_expert']}, to 95% ({entry['return_95_percent']:.2f}): "
                  f"{m['steps_to_95_percent']}; seeds reaching the expert: {reached}/{m['num_seeds']}")
    return results


def plot(results: dict, path: Path) -> None:
    """Learning curves per env (top), and the same from 90% of the way to the expert upwards (bottom)."""
    envs = [env_id for env_id, entry in results["envs"].items() if entry]
    fig, axes = plt.subplots(2, max(len(envs), 1), figsize=(7 * max(len(envs), 1), 8), squeeze=False)
    for column, env_id in enumerate(envs):
        entry = results["envs"][env_id]
        for row in (0, 1):
            ax = axes[row, column]
            for method, m in entry["methods"].items():
                c = m["curve"]
                ax.plot(c["steps"], c["mean"], color=COLORS[method],
                        label=f"{method} ({m['num_seeds']} seeds)")
                if m["num_seeds"] > 1:
                    lo = [a - b for a, b in zip(c["mean"], c["stderr"])]
                    hi = [a + b for a, b in zip(c["mean"], c["stderr"])]
                    ax.fill_between(c["steps"], lo, hi, color=COLORS[method], alpha=0.2)
            ax.axhline(entry["expert_return"], color="k", ls="--",
                       label=f"expert {entry['expert_return']:.2f}")
            ax.axhline(entry["bc"]["parametric"]["mean"], color="tab:blue", ls=":",
                       label=f"BC alone {entry['bc']['parametric']['mean']:.2f}")
            if "random" in entry["references"] and row == 0:
                ax.axhline(entry["references"]["random"]["mean"], color="tab:gray", ls=":", label="random")
            ax.set(xlabel="environment steps", ylabel="held-out return")
            if row == 0:
                ax.set_title(f"{env_id}: SVG(0), mean ± s.e.")
                ax.legend(fontsize=8)
            else:
                top = entry["expert_return"] + 0.5 * (entry["expert_return"] - entry["near_expert_return"])
                ax.set_ylim(entry["near_expert_return"], top)
                ax.set_title("zoom: from 90% of the way (random → expert) up", fontsize=10)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["belief_rl/Reacher-v5"])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--agent", choices=("belief", "rnn", "aux_head"), default="belief",
                        help="the agent every method trains "
                             "(belief: actor and critic read the observation directly)")
    parser.add_argument("--phase", choices=("all", "prepare", "train", "summarize"), default="all")
    parser.add_argument("--demo-episodes", type=int, default=20,
                        help="oracle meta-episodes to fit the priors on")
    parser.add_argument("--demo-seed", type=int, default=12345)
    parser.add_argument("--demo-noise", type=float, default=0.1,
                        help="the oracle's pre-squash action noise (a stochastic expert; 0: deterministic)")
    parser.add_argument("--demo-execution-noise", type=float, default=0.0,
                        help="noise on the oracle's executed action, its own action recorded (DART-style "
                             "demonstrations that show recoveries; in action half-widths)")
    parser.add_argument("--gp-iterations", type=int, default=100)
    parser.add_argument("--eval-tasks", type=int, default=100, help="tasks for the BC and reference lines")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for every run")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("results/priors"))
    args = parser.parse_args()
    if args.phase in ("all", "prepare"):
        for env_id in args.envs:
            prepare(env_id, args)
    if args.phase in ("all", "train"):
        for env_id in args.envs:
            for method in args.methods:
                for seed in args.seeds:
                    train(env_id, method, seed, args)
    if args.phase in ("all", "summarize"):
        summarize(args)


if __name__ == "__main__":
    main()
