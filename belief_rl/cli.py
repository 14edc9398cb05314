"""``belief-rl``: train, evaluate and compare agents from the command line.

Bad input (unknown names, invalid hyperparameters, missing, corrupt or
mismatched checkpoints) ends with one ``belief-rl: error: ...`` line and exit
code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path
from typing import Any, NoReturn

from belief_rl.checkpoint import CheckpointError
from belief_rl.errors import BeliefRLError
from belief_rl.config import AGENT_KINDS, ALGORITHMS, AgentConfig, PPOConfig, SVGConfig, TrainConfig
from belief_rl.presets import PRESETS, apply_preset

EXIT_USAGE = 2


class UsageError(BeliefRLError):
    """Bad command-line input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"belief-rl: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="belief-rl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train an agent (or --resume a run)")
    train.add_argument("--env", default=None, help="environment id (default belief_rl/Bandit-v0)")
    train.add_argument("--agent", default=None, choices=AGENT_KINDS)
    train.add_argument("--algorithm", default=None, choices=ALGORITHMS)
    train.add_argument("--total-steps", type=int, default=None, help="environment steps to train for")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--run-dir", type=Path, required=True)
    train.add_argument("--preset", choices=sorted(PRESETS), default=None)
    train.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE",
                       help="config overrides, e.g. agent.ib_beta=0.01 ppo.num_envs=512 env_kwargs.num_tasks=100")
    train.add_argument("--prior", type=Path, default=None,
                       help="behavioral prior file (belief-rl prior fit): KL-regularized SVG(0) toward it")
    train.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its checkpoint")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = commands.add_parser("evaluate", help="evaluate a run on held-out tasks vs reference policies")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--num-tasks", type=int, default=None,
                          help="held-out tasks (default 10,000 on bandits, 1,000 on the MuJoCo/control envs)")
    evaluate.add_argument("--seed", type=int, default=0, help="evaluation seed (selects the held-out tasks)")
    evaluate.add_argument("--deterministic", action="store_true",
                          help="take each action distribution's mode instead of sampling (the policy PPO trained)")
    evaluate.add_argument("--env", default=None, help="check that the run was trained on this environment")

    baselines = commands.add_parser("baselines", help="the reference policies alone (bandit strategies, "
                                                      "scripted oracles and explorers)")
    baselines.add_argument("--env", default="belief_rl/Bandit-v0")
    baselines.add_argument("--num-tasks", type=int, default=None,
                           help="held-out tasks (default 10,000 on bandits, 1,000 on the MuJoCo/control envs)")
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
                         help="std of Gaussian noise on a scripted expert's pre-squash action (a stochastic expert)")
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
    fit.add_argument("--min-std", type=float, default=0.0, help="parametric: variance floor (standard deviation)")
    fit.add_argument("--epochs", type=int, default=None, help="parametric: training epochs (default 200)")
    fit.add_argument("--seed", type=int, default=0)
    return parser


# -- config assembly --------------------------------------------------------------------------------
def _coerce(value: str, annotation: Any) -> Any:
    """Parse a ``--set`` value according to the dataclass field's (resolved) type."""
    text = value.strip()
    if annotation is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise UsageError(f"expected true or false, got {value!r}")
        return text.lower() in ("true", "1")
    if annotation is int:
        return int(float(text)) if "e" in text.lower() else int(text)
    if annotation is float:
        return float(text)
    if typing.get_origin(annotation) is tuple:
        return tuple(int(v) for v in text.split(",") if v)
    if annotation is str:
        return text
    # Untyped (env kwargs): JSON where it parses as such, else the plain string.
    return json.loads(text) if text[:1] in "[{0123456789-" or text in ("true", "false", "null") else text


_SECTIONS = {"agent": AgentConfig, "ppo": PPOConfig, "svg0": SVGConfig}


def apply_override(config: dict[str, Any], assignment: str) -> None:
    """Apply ``section.key=value`` (or ``key=value`` at the top level) to a nested config dict."""
    if "=" not in assignment:
        raise UsageError(f"override {assignment!r} is not KEY=VALUE")
    key, value = assignment.split("=", 1)
    parts = key.split(".")
    try:
        if len(parts) == 2 and parts[0] == "env_kwargs":
            config.setdefault("env_kwargs", {})[parts[1]] = _coerce(value, Any)
        elif len(parts) == 2 and parts[0] in _SECTIONS:
            hints = typing.get_type_hints(_SECTIONS[parts[0]])
            if parts[1] not in hints:
                raise UsageError(f"unknown setting {key!r}")
            config.setdefault(parts[0], {})[parts[1]] = _coerce(value, hints[parts[1]])
        elif len(parts) == 1:
            hints = typing.get_type_hints(TrainConfig)
            if key not in hints or key in _SECTIONS or key == "env_kwargs":
                raise UsageError(f"unknown setting {key!r}")
            config[key] = _coerce(value, hints[key])
        else:
            raise UsageError(f"unknown setting {key!r}")
    except (ValueError, json.JSONDecodeError):
        raise UsageError(f"invalid value for {key}: {value!r}") from None


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then the preset, then explicit flags, then ``--set`` overrides."""
    config: dict[str, Any] = {"agent": {}, "ppo": {}, "svg0": {}}
    if args.preset:
        config = apply_preset(config, args.preset, args.agent or AgentConfig.kind)
    for flag, key in (("env", "env_id"), ("algorithm", "algorithm"), ("total_steps", "total_steps"), ("seed", "seed")):
        if getattr(args, flag) is not None:
            config[key] = getattr(args, flag)
    if args.agent is not None:
        config["agent"]["kind"] = args.agent
    if args.prior is not None:
        config["svg0"]["prior"] = str(args.prior.resolve())  # resumable from any working directory
    for assignment in args.overrides:
        apply_override(config, assignment)
    return TrainConfig(**config)


# -- commands -------------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    import envs
    from belief_rl.train import Trainer, read_config

    if args.resume:
        stored = read_config(args.run_dir)
        for flag, current in (("env", stored.env_id), ("agent", stored.agent.kind)):
            requested = getattr(args, flag)
            if requested is not None and requested != current:
                raise CheckpointError(f"run {args.run_dir} was trained with {flag} {current!r}, not {requested!r}")
        if args.preset or args.overrides or args.seed is not None or args.prior is not None:
            raise UsageError("--resume continues the stored config; only --total-steps may change")
        trainer = Trainer.resume(args.run_dir, total_steps=args.total_steps)
    else:
        config = config_from_args(args)
        envs.env_spec_kwargs(config.env_id)  # unknown ids fail here, before anything is written
        trainer = Trainer.create(config, args.run_dir)
    cfg = trainer.config
    if trainer.global_step >= cfg.total_steps:
        print(f"{args.run_dir} is already complete ({trainer.global_step:,} of {cfg.total_steps:,} steps); "
              "nothing to train (raise --total-steps to continue)")
        return 0
    print(f"training {cfg.agent.kind} agent with {cfg.algorithm} on {cfg.env_id} for {cfg.total_steps:,} steps "
          f"(seed {cfg.seed}) in {args.run_dir}", flush=True)
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
        return 10_000 if env_id.startswith("belief_rl/Bandit") else 1_000
    if requested <= 0:
        raise UsageError(f"--num-tasks must be positive, got {requested}")
    return requested


def _evaluate(args: argparse.Namespace) -> int:
    from belief_rl.evaluation import evaluate_run, format_results
    from belief_rl.train import read_config

    num_tasks = _num_tasks(args.num_tasks, read_config(args.run_dir).env_id)
    results = evaluate_run(args.run_dir, num_tasks, args.seed, deterministic=args.deterministic,
                           expected_env_id=args.env)
    print(format_results(results))
    print(f"wrote {args.run_dir / 'evaluation.json'} and {args.run_dir / 'evaluation.png'}")
    return 0


def _baselines(args: argparse.Namespace) -> int:
    import envs
    from belief_rl.checkpoint import atomic_write_bytes
    from belief_rl.evaluation import evaluate_references, format_results

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
    import envs
    from belief_rl.priors.collect import collect_demonstrations

    envs.env_spec_kwargs(args.env)
    demos = collect_demonstrations(args.env, args.policy, args.episodes, args.seed, args.action_noise,
                                   args.execution_noise)
    demos.save(args.output)
    returns = demos.episode_returns()
    print(f"wrote {args.output}: {len(demos.observations):,} transitions, {demos.num_episodes} episodes, "
          f"episode return {returns.mean():.2f} ± {returns.std(ddof=1) / max(len(returns), 2) ** 0.5:.2f}")
    return 0


def _prior(args: argparse.Namespace) -> int:
    import time

    import torch

    from belief_rl.priors import (Demonstrations, GPFitConfig, GPPrior, ParametricFitConfig, ParametricPrior,
                                  save_prior, to_raw_actions)

    demos = Demonstrations.load(args.demos)
    obs = torch.as_tensor(demos.observations, dtype=torch.float32)
    low, high = (torch.as_tensor(b, dtype=torch.float32) for b in (demos.action_low, demos.action_high))
    raw = to_raw_actions(torch.as_tensor(demos.actions, dtype=torch.float32), low, high)
    start = time.perf_counter()
    if args.kind == "gp":
        options = {k: v for k, v in (("iterations", args.iterations), ("max_exact_points", args.max_exact_points))
                   if v is not None}
        prior = GPPrior.fit(obs, raw, low, high, GPFitConfig(kernel=args.kernel, seed=args.seed, **options))
    else:
        options = {"epochs": args.epochs} if args.epochs is not None else {}
        prior = ParametricPrior.fit(obs, raw, low, high, ParametricFitConfig(min_std=args.min_std, seed=args.seed,
                                                                             **options))
    seconds = time.perf_counter() - start
    save_prior(args.output, prior, {"env_id": demos.env_id, "demos": str(args.demos), "num_points": len(obs),
                                    "fit_seconds": seconds})
    detail = f" ({'sparse' if prior.sparse else 'exact'}, {args.kernel})" if args.kind == "gp" else ""
    print(f"wrote {args.output}: {args.kind} prior{detail} on {len(obs):,} demonstrations of {demos.env_id}, "
          f"fit in {seconds:.1f} s")
    return 0


_COMMANDS = {"train": _train, "evaluate": _evaluate, "baselines": _baselines, "demos": _demos, "prior": _prior}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed on one line
        return int(exit_.code or 0)
    try:
        return _COMMANDS[args.command](args)
    except (BeliefRLError, ValueError, FileNotFoundError) as exc:
        print(f"belief-rl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
