"""``belief-rl``: train, evaluate and compare agents from the command line.

Bad input (unknown names, invalid hyperparameters, missing, corrupt or
mismatched checkpoints) ends with one ``belief-rl: error: ...`` line and exit
code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

import matplotlib
import torch

from belief_rl import envs
from belief_rl.belief_report import plot_run_beliefs
from belief_rl.checkpoint import CheckpointError, atomic_write_bytes
from belief_rl.config import AGENT_KINDS, ALGORITHMS, TrainConfig, describe
from belief_rl.errors import BeliefRLError
from belief_rl.evaluation import POLICIES, evaluate_references, evaluate_run, format_results
from belief_rl.families import family_of, preset_for_env
from belief_rl.presets import NO_PRESET, PRESETS, chosen_preset, make_config
from belief_rl.runs import read_config, slim_checkpoint
from belief_rl.stats import mean_stderr
from belief_rl.training import Trainer
from belief_rl.version import __version__

EXIT_USAGE = 2


class UsageError(BeliefRLError):
    """Bad command-line input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"belief-rl: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="belief-rl", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"belief-rl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train an agent (or --resume a run)")
    train.add_argument("--env", default=None, help="environment id (default belief_rl/Bandit-v0)")
    train.add_argument("--agent", default=None, choices=AGENT_KINDS)
    train.add_argument("--algorithm", default=None, choices=ALGORITHMS)
    train.add_argument("--total-steps", type=int, default=None, help="environment steps to train for")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--run-dir", type=Path, required=True)
    train.add_argument("--preset", choices=[*sorted(PRESETS), NO_PRESET], default=None,
                       help="named settings (default: the env family's preset; none: plain defaults)")
    train.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE",
                       help="config overrides, e.g. agent.ib_beta=0.01 ppo.num_envs=512 "
                            "env_kwargs.num_tasks=100")
    train.add_argument("--prior", type=Path, default=None,
                       help="behavioral prior file (belief-rl prior fit): KL-regularized SVG(0) toward it")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --run-dir from its checkpoint")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = commands.add_parser("evaluate", help="evaluate a run on held-out tasks vs reference policies")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--num-tasks", type=int, default=None,
                          help="held-out tasks (default 10,000 on bandits, 1,000 on the MuJoCo/control envs)")
    evaluate.add_argument("--seed", type=int, default=0, help="evaluation seed (selects the held-out tasks)")
    evaluate.add_argument("--policy", choices=("both", *POLICIES), default="both",
                          help="score the stochastic policy (the one the learners optimize), the greedy one "
                               "(each action distribution's mode), or both on the same tasks (default)")
    evaluate.add_argument("--env", default=None, help="check that the run was trained on this environment")

    slim = commands.add_parser("slim", help="drop finished runs' replay and optimizer state from their "
                                            "checkpoints (the weights stay: evaluate, plot and transfer from "
                                            "them; no further training)")
    slim.add_argument("run_dirs", type=Path, nargs="+")

    baselines = commands.add_parser("baselines", help="the reference policies alone (bandit strategies, "
                                                      "scripted oracles and explorers)")
    baselines.add_argument("--env", default="belief_rl/Bandit-v0")
    baselines.add_argument("--num-tasks", type=int, default=None,
                           help="held-out tasks (default 10,000 on bandits, 1,000 on the "
                                "MuJoCo/control envs)")
    baselines.add_argument("--seed", type=int, default=0)
    baselines.add_argument("--output", type=Path, default=None, help="also write the table as JSON here")

    demos = commands.add_parser("demos", help="demonstration datasets").add_subparsers(
        dest="demos_command", required=True, parser_class=_Parser)
    collect = demos.add_parser("collect", help="record expert meta-episodes into an .npz file")
    collect.add_argument("--env", required=True)
    collect.add_argument("--policy", required=True, help="oracle, scripted, or a run directory")
    collect.add_argument("--episodes", type=int, required=True, help="meta-episodes to record")
    collect.add_argument("--seed", type=int, default=0)
    collect.add_argument("--action-noise", type=float, default=0.0,
                         help="std of Gaussian noise on a scripted expert's pre-squash action "
                              "(a stochastic expert)")
    collect.add_argument("--execution-noise", type=float, default=0.0,
                         help="std (in action half-widths) of noise on the executed action; the expert's own "
                              "action is recorded (DART-style demonstrations that show recoveries)")
    collect.add_argument("--output", type=Path, required=True)

    prior = commands.add_parser("prior", help="behavioral priors").add_subparsers(
        dest="prior_command", required=True, parser_class=_Parser)
    fit = prior.add_parser("fit", help="fit a GP or parametric prior to demonstrations")
    fit.add_argument("demos", type=Path)
    fit.add_argument("--kind", choices=("gp", "parametric"), required=True)
    fit.add_argument("--output", type=Path, required=True)
    fit.add_argument("--kernel", choices=("rbf", "matern"), default="rbf", help="GP kernel (ARD)")
    fit.add_argument("--iterations", type=int, default=None, help="GP optimizer steps (default 200)")
    fit.add_argument("--max-exact-points", type=int, default=None,
                     help="GP: demonstrations beyond which a sparse variational GP is fit (default 3000)")
    fit.add_argument("--min-std", type=float, default=0.0,
                     help="parametric: variance floor (standard deviation)")
    fit.add_argument("--epochs", type=int, default=None, help="parametric: training epochs (default 200)")
    fit.add_argument("--seed", type=int, default=0)

    plot = commands.add_parser("plot", help="figures of a trained run").add_subparsers(
        dest="plot_command", required=True, parser_class=_Parser)
    beliefs = plot.add_parser("beliefs", help="what the agent believes, against the exact posterior where "
                                              "known (Hinton diagrams, calibration, the belief over time)")
    beliefs.add_argument("run_dir", type=Path)
    beliefs.add_argument("--task", type=int, default=0, help="which held-out task's meta-episode to show")
    beliefs.add_argument("--seed", type=int, default=0, help="evaluation seed (as in evaluate)")
    beliefs.add_argument("--times", type=int, nargs="+", default=None,
                         help="steps of the meta-episode to show (default: per env, e.g. discoveries)")
    beliefs.add_argument("--num-tasks", type=int, default=None,
                         help="held-out tasks played, more than --task (default: 1,000 on bandits, 100 on "
                              "NumPad, 1 on Semicircle); each trajectory's sampling noise depends on it")
    beliefs.add_argument("--out", type=Path, default=None, help="output directory (default: the run)")

    sweep = commands.add_parser("sweep", help="a grid of configurations × seeds on Ray Tune, each trial a "
                                              "resumable run (re-running a sweep resumes it)")
    sweep.add_argument("spec", type=Path, help="sweep spec (.toml or .json): env, agent, preset, seeds, set, "
                                               "grid, variants (see docs/sweeps.md)")
    sweep.add_argument("--out", type=Path, default=None, help="sweep directory (default runs/sweeps/NAME)")
    sweep.add_argument("--address", default=None,
                       help="a running Ray cluster (e.g. ray://head:10001 or auto); default: a local Ray "
                            "instance using every core")
    sweep.add_argument("--max-concurrent", type=int, default=None,
                       help="trials at once (default: as many as the CPUs allow)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="list the trials and their state; train nothing")
    sweep.add_argument("--no-progress", action="store_true",
                       help="progress lines only when a trial starts, ends or fails")

    listing = commands.add_parser("list", help="what can be named: envs, presets or agents")
    listing.add_argument("what", choices=("envs", "presets", "agents"))

    config = commands.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", required=True, parser_class=_Parser)
    show = config.add_parser("show", help="every setting with its value and help text")
    show.add_argument("--env", default=None, help="environment id (its family picks the default preset)")
    show.add_argument("--preset", choices=[*sorted(PRESETS), NO_PRESET], default=None)
    show.add_argument("--agent", choices=AGENT_KINDS, default=None)
    show.add_argument("--algorithm", choices=ALGORITHMS, default=None)
    show.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE")
    return parser


# -- config assembly --------------------------------------------------------------------------------
def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then the preset (by default the env family's), then explicit flags, then ``--set``
    overrides."""
    fields = {key: getattr(args, flag) for flag, key in (("total_steps", "total_steps"), ("seed", "seed"))
              if getattr(args, flag, None) is not None}
    overrides = list(args.overrides)
    if getattr(args, "prior", None) is not None:
        overrides.append(f"svg0.prior={args.prior.resolve()}")  # resumable from any working directory
    if args.env is not None:
        envs.check_id(args.env)  # unknown ids fail here, before anything is written
    return make_config(args.env, args.agent, args.algorithm, args.preset, overrides, **fields)


# -- commands -------------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    if args.resume:
        stored = read_config(args.run_dir)
        for flag, current in (("env", stored.env_id), ("agent", stored.agent.kind)):
            requested = getattr(args, flag)
            if requested is not None and requested != current:
                raise CheckpointError(f"run {args.run_dir} was trained with {flag} {current!r}, "
                                      f"not {requested!r}")
        if (args.preset or args.overrides or args.seed is not None or args.prior is not None
                or args.algorithm is not None):
            raise UsageError("--resume continues the stored config; only --total-steps may change")
        trainer = Trainer.resume(args.run_dir, total_steps=args.total_steps)
    else:
        config = config_from_args(args)
        trainer = Trainer.create(config, args.run_dir)
    cfg = trainer.config
    if trainer.global_step >= cfg.total_steps:
        print(f"{args.run_dir} is already complete ({trainer.global_step:,} of {cfg.total_steps:,} steps); "
              "nothing to train (raise --total-steps to continue)")
        return 0
    print(f"training {cfg.agent.kind} agent with {cfg.algorithm} on {cfg.env_id} for {cfg.total_steps:,} "
          f"steps (seed {cfg.seed}) in {args.run_dir}", flush=True)
    try:
        row = trainer.train(progress=not args.no_progress)
    except KeyboardInterrupt:
        return 130
    if row:
        print(f"done: step {trainer.global_step:,}, held-out return {trainer.last_eval:.2f}, "
              f"wall time {trainer.elapsed / 60:.1f} min")
    return 0


def _num_tasks(requested: int | None, env_id: str) -> int:
    if requested is None:
        return family_of(env_id).eval_tasks
    if requested <= 0:
        raise UsageError(f"--num-tasks must be positive, got {requested}")
    return requested


def _evaluate(args: argparse.Namespace) -> int:
    num_tasks = _num_tasks(args.num_tasks, read_config(args.run_dir).env_id)
    policies = POLICIES if args.policy == "both" else (args.policy,)
    results = evaluate_run(args.run_dir, num_tasks, args.seed, policies=policies, expected_env_id=args.env)
    print(format_results(results))
    print(f"wrote {args.run_dir / 'evaluation.json'} and {args.run_dir / 'evaluation.png'}")
    return 0


def _slim(args: argparse.Namespace) -> int:
    for run_dir in args.run_dirs:
        before, after = slim_checkpoint(run_dir)
        print(f"{run_dir}: checkpoint {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return 0


def _baselines(args: argparse.Namespace) -> int:
    envs.env_spec_kwargs(args.env)
    num_tasks = _num_tasks(args.num_tasks, args.env)
    strategies = evaluate_references(args.env, {}, num_tasks, args.seed)
    if not strategies:
        raise UsageError(f"no reference policies for {args.env}")
    results = {"env_id": args.env, "num_tasks": num_tasks, "eval_seed": args.seed, "strategies": strategies}
    print(format_results(results))
    if args.output:
        atomic_write_bytes(args.output, json.dumps(results, indent=2).encode())
    return 0


def _demos(args: argparse.Namespace) -> int:
    # Demonstrations and priors live with the behavioral priors, which need the optional gpytorch.
    from belief_rl.priors.collect import collect_demonstrations

    envs.env_spec_kwargs(args.env)
    demos = collect_demonstrations(args.env, args.policy, args.episodes, args.seed, args.action_noise,
                                   args.execution_noise)
    demos.save(args.output)
    mean, stderr = mean_stderr(demos.episode_returns())
    print(f"wrote {args.output}: {len(demos.observations):,} transitions, {demos.num_episodes} episodes, "
          f"episode return {mean:.2f} ± {stderr:.2f}")
    return 0


def _prior(args: argparse.Namespace) -> int:
    from belief_rl.priors import (
        Demonstrations,
        GPFitConfig,
        GPPrior,
        ParametricFitConfig,
        ParametricPrior,
        save_prior,
        to_raw_actions,
    )

    demos = Demonstrations.load(args.demos)
    obs = torch.as_tensor(demos.observations, dtype=torch.float32)
    low, high = (torch.as_tensor(b, dtype=torch.float32) for b in (demos.action_low, demos.action_high))
    raw = to_raw_actions(torch.as_tensor(demos.actions, dtype=torch.float32), low, high)
    start = time.perf_counter()
    if args.kind == "gp":
        options = {k: v for k, v in (("iterations", args.iterations),
                                     ("max_exact_points", args.max_exact_points))
                   if v is not None}
        prior = GPPrior.fit(obs, raw, low, high, GPFitConfig(kernel=args.kernel, seed=args.seed, **options))
    else:
        options = {"epochs": args.epochs} if args.epochs is not None else {}
        prior = ParametricPrior.fit(obs, raw, low, high,
                                    ParametricFitConfig(min_std=args.min_std, seed=args.seed, **options))
    seconds = time.perf_counter() - start
    save_prior(args.output, prior, {"env_id": demos.env_id, "demos": str(args.demos), "num_points": len(obs),
                                    "fit_seconds": seconds})
    detail = f" ({'sparse' if prior.sparse else 'exact'}, {args.kernel})" if args.kind == "gp" else ""
    print(f"wrote {args.output}: {args.kind} prior{detail} on {len(obs):,} demonstrations of {demos.env_id}, "
          f"fit in {seconds:.1f} s")
    return 0


def _plot(args: argparse.Namespace) -> int:
    if args.num_tasks is not None and args.num_tasks <= 0:
        raise UsageError(f"--num-tasks must be positive, got {args.num_tasks}")
    summary = plot_run_beliefs(args.run_dir, args.out, args.task, args.seed, args.times, args.num_tasks)
    out = args.out or args.run_dir
    print(f"wrote {out / 'beliefs.png'}, {out / 'beliefs.pdf'} and {out / 'beliefs.json'} "
          f"({summary['seconds']:.0f} s)")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from belief_rl.sweep import SweepSpec, format_summary, run_sweep
    from belief_rl.sweep.results import trial_row

    spec = SweepSpec.from_file(args.spec)
    out = args.out if args.out is not None else Path("runs") / "sweeps" / spec.name
    if args.max_concurrent is not None and args.max_concurrent <= 0:
        raise UsageError(f"--max-concurrent must be positive, got {args.max_concurrent}")
    if args.dry_run:
        for trial in spec.trials():
            try:
                spec.config(trial)
            except ValueError as exc:
                status = f"invalid: {exc}"
            else:
                row = trial_row(spec, out, trial)
                status = row["status"] + (f": {row['error']}" if row["error"] else "")
            print(f"{trial.name:60} {status}")
        return 0
    summary = run_sweep(spec, out, address=args.address, max_concurrent=args.max_concurrent,
                        progress=not args.no_progress)
    print(format_summary(summary))
    print(f"wrote {out / 'summary.csv'} and {out / 'summary.json'}")
    failed = [row["trial"] for row in summary["trials"] if row["status"] != "finished"]
    if failed:
        print(f"belief-rl: {len(failed)} trial(s) not finished: {', '.join(failed)} "
              "(fix or re-run the sweep to resume them)", file=sys.stderr)
        return 1
    return 0


def _list(args: argparse.Namespace) -> int:
    if args.what == "envs":
        for env_id in envs.registered_ids():
            family = family_of(env_id)
            print(f"{env_id:38} {family.name:11} preset {preset_for_env(env_id) or '-':22} "
                  f"{family.description}")
        print("(any other registered gymnasium id that meets the environment contract works too)")
    elif args.what == "presets":
        for name, preset in PRESETS.items():
            settings = {k: v for k, v in preset.items() if not isinstance(v, dict)}
            print(f"{name:22} {json.dumps(settings)}")
    else:
        for kind, text in (("belief", "belief network (task NLL + bottleneck) feeding a policy and critic"),
                           ("rnn", "RL²: one recurrent network trained by RL alone"),
                           ("aux_head", "RL² torso shaped by an auxiliary task-prediction head")):
            print(f"{kind:10} {text}")
    return 0


def _config(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    preset, _ = chosen_preset(args.env, args.agent, args.algorithm, args.preset, args.overrides)
    print(f"# env {config.env_id}, agent {config.agent.kind}, algorithm {config.algorithm}, preset {preset}")
    for name, kind, value, text in describe(TrainConfig, config):
        print(f"{name + ' = ' + value:44} # {kind}: {text}")
    return 0


_COMMANDS = {"train": _train, "evaluate": _evaluate, "slim": _slim, "baselines": _baselines, "demos": _demos,
             "prior": _prior, "list": _list, "config": _config, "plot": _plot, "sweep": _sweep}


def main(argv: list[str] | None = None) -> int:
    matplotlib.use("Agg")  # figures go to files; no window, whatever the machine has
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed on one line
        return int(exit_.code or 0)
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 0
    except (BeliefRLError, ValueError, OSError) as exc:  # OSError: e.g. an output path that is a file
        print(f"belief-rl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
