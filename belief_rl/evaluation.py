"""Held-out evaluation of agents, side by side with reference policies.

References are the classical bandit strategies, or the scripted oracles and
explorers of Semicircle and NumPad. Agents and references meet the same
held-out tasks and noise (see :mod:`belief_rl.seeding`). For agents with a Beta task head on bandits, the
belief's quality is measured against the exact posterior Beta(1+s, 1+f) as the
mean per-arm KL(exact ‖ learned) at every step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.distributions import kl_divergence

from belief_rl import envs
from belief_rl.agents import Agent
from belief_rl.checkpoint import CheckpointError, atomic_write_bytes
from belief_rl.envs.task_specs import BetaTask
from belief_rl.families import reference_evaluator
from belief_rl.plotting import agent_rows, plot_evaluation
from belief_rl.posteriors import bandit_posterior
from belief_rl.references.bandits import bandit_reference_returns
from belief_rl.rollout import Rollout, collect_rollout
from belief_rl.runs import load_agent
from belief_rl.seeding import evaluation_base_seed, evaluation_seeds
from belief_rl.stats import summarize

CHUNK_SIZE = 5000


@dataclass
class AgentEvaluation:
    """Per-task returns and, where defined, the belief KL per time step."""

    returns: np.ndarray  # [num_tasks]
    belief_kl: np.ndarray | None = None  # [T]: mean per-arm KL(exact posterior ‖ belief)
    success: np.ndarray | None = None  # [num_tasks]: success at the end, for envs that report it


def held_out_kwargs(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Env kwargs for held-out tasks: the validation split of a finite task set.

    With no finite task set (``num_tasks`` unset) tasks are fresh draws, and the
    evaluation seeds keep them apart from every training task.
    """
    kwargs = dict(env_kwargs)
    if kwargs.get("num_tasks") is not None:
        kwargs["split"] = "validation"
    return kwargs


def seeded_rollout(env: gym.vector.VectorEnv, agent: Agent, seed: int,
                   deterministic: bool = False) -> Rollout:
    """:func:`collect_rollout` with the agent's sampling noise seeded by ``seed`` too, so that an evaluation
    repeats exactly; the global torch RNG (a training run's stream) is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return collect_rollout(env, agent, seed, deterministic=deterministic)


def evaluate_agent(agent: Agent, env_id: str, env_kwargs: dict[str, Any], num_tasks: int, eval_seed: int = 0,
                   deterministic: bool = False, with_belief_kl: bool = False,
                   training_tasks: bool = False) -> AgentEvaluation:
    """Play one meta-episode on each of ``num_tasks`` held-out tasks (with ``training_tasks``: tasks drawn
    from the training split of a finite task set instead, to measure a generalization gap).

    By default the agent acts with the stochastic policy that PPO optimizes;
    ``deterministic`` takes each action distribution's mode (and the bottleneck's mean) instead.
    """
    kwargs = dict(env_kwargs) if training_tasks else held_out_kwargs(env_kwargs)
    returns, kls, successes = [], [], []
    was_training = agent.training
    agent.eval()
    for seed, size in evaluation_seeds(eval_seed, num_tasks, CHUNK_SIZE):
        env = envs.make_vector_env(env_id, size, **kwargs)
        rollout = seeded_rollout(env, agent, seed, deterministic)
        returns.append(rollout.returns())
        if rollout.success is not None:
            successes.append(rollout.success)
        kl = (bandit_belief_kl(agent, rollout)
              if with_belief_kl and isinstance(env.unwrapped.task_spec, BetaTask) else None)
        if kl is not None:  # agents without a task head have no belief to score
            kls.append(kl * size)
        env.close()
    agent.train(was_training)
    belief_kl = np.sum(kls, axis=0) / num_tasks if kls else None
    return AgentEvaluation(np.concatenate(returns), belief_kl,
                           np.concatenate(successes) if len(successes) == len(returns) else None)


@torch.no_grad()
def bandit_belief_kl(agent: Agent, rollout: Rollout) -> np.ndarray | None:
    """Mean per-arm ``KL(Beta(1+s, 1+f) ‖ q)`` at each step ``t`` (history of ``t`` pulls)."""
    belief = agent.belief(rollout.batch.inputs)
    if belief is None:
        return None
    num_arms = belief.event_shape[-1]
    exact = bandit_posterior(rollout.batch.actions, rollout.rewards, num_arms)
    return (kl_divergence(exact, belief) / num_arms).mean(dim=1).numpy()


def evaluate_strategies(env_id: str, env_kwargs: dict[str, Any], num_tasks: int, eval_seed: int = 0,
                        names: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Classical bandit strategies on the same held-out tasks as :func:`evaluate_agent`."""
    probe = envs.make_vector_env(env_id, 1, **env_kwargs)
    is_bandit = isinstance(probe.unwrapped.task_spec, BetaTask) and hasattr(probe.unwrapped, "num_arms")
    probe.close()
    if not is_bandit:
        raise ValueError(f"the classical bandit strategies do not apply to {env_id}")
    return bandit_reference_returns(env_id, num_tasks, evaluation_base_seed(eval_seed),
                                    held_out_kwargs(env_kwargs), names, CHUNK_SIZE)


def evaluate_references(env_id: str, env_kwargs: dict[str, Any], num_tasks: int,
                        eval_seed: int = 0) -> dict[str, dict[str, float]]:
    """The reference policies of ``env_id``'s family on the held-out tasks :func:`evaluate_agent` uses.

    Bandits: the classical strategies. Semicircle and NumPad: the scripted oracle
    (knows the task) and explorer (does not). Reacher: a scripted expert. Other envs: none.
    """
    evaluator = reference_evaluator(env_id)
    if evaluator is None:
        return {}
    return evaluator(env_id, num_tasks, evaluation_base_seed(eval_seed), held_out_kwargs(env_kwargs))


#: The policies :func:`evaluate_run` can score: the sampled one that PPO and SVG(0) optimize, and its mode.
POLICIES = ("stochastic", "greedy")


def evaluate_run(run_dir: Path, num_tasks: int, eval_seed: int = 0, *, policies: Sequence[str] = POLICIES,
                 expected_env_id: str | None = None) -> dict[str, Any]:
    """Evaluate a trained run with each of ``policies``; writes ``evaluation.json`` and ``evaluation.png``.

    ``stochastic`` samples actions (the policy the learners optimize); ``greedy`` takes each action
    distribution's mode and the bottleneck's mean. Both meet the same held-out tasks and reward noise.
    ``results["agent"]`` holds the run's metadata and the first policy's summary (the belief KL is that
    policy's too); ``results["policies"]`` every policy's summary.
    """
    if isinstance(policies, str) or not policies:
        raise ValueError(f"policies must be a non-empty sequence of {', '.join(POLICIES)}; got {policies!r}")
    unknown = [name for name in policies if name not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policy {unknown[0]!r}; choose from {', '.join(POLICIES)}")
    agent, config, payload = load_agent(run_dir)
    if expected_env_id is not None and expected_env_id != config.env_id:
        raise CheckpointError(f"run {run_dir} was trained on {config.env_id!r}, not {expected_env_id!r}")
    torch.set_num_threads(config.num_threads)
    start = time.perf_counter()
    first = policies[0]
    evaluations = {policy: evaluate_agent(agent, config.env_id, config.env_kwargs, num_tasks, eval_seed,
                                          deterministic=policy == "greedy", with_belief_kl=policy == first)
                   for policy in dict.fromkeys(policies)}
    summaries = {policy: summarize(evaluation.returns) for policy, evaluation in evaluations.items()}
    belief_kl = evaluations[first].belief_kl
    results: dict[str, Any] = {
        "env_id": config.env_id, "env_kwargs": config.env_kwargs,
        "num_tasks": num_tasks, "eval_seed": eval_seed,
        "agent": {"kind": config.agent.kind, "algorithm": config.algorithm, "seed": config.seed,
                  "trained_steps": payload["global_step"], "policy": first,
                  "deterministic": first == "greedy", **summaries[first]},
        "policies": summaries,
        "strategies": {},
    }
    if belief_kl is not None:
        results["belief_kl"] = {"per_step": belief_kl.tolist(), "mean": float(belief_kl.mean()),
                                "policy": first}
    results["strategies"] = evaluate_references(config.env_id, config.env_kwargs, num_tasks, eval_seed)
    results["eval_wall_time_s"] = round(time.perf_counter() - start, 2)
    run_dir = Path(run_dir)
    atomic_write_bytes(run_dir / "evaluation.json", json.dumps(results, indent=2).encode())
    plot_evaluation(results, run_dir / "evaluation.png")
    return results


def format_results(results: dict[str, Any]) -> str:
    """A plain-text table: the agent (if any) and the strategies, best first."""
    rows = agent_rows(results) + list(results.get("strategies", {}).items())
    rows.sort(key=lambda row: -row[1]["mean"])
    width = max(len(name) for name, _ in rows)
    lines = [f"{results['env_id']}: mean return over {results['num_tasks']:,} held-out tasks (eval seed "
             f"{results['eval_seed']})", f"{'':{width}}   mean  ± s.e."]
    lines += [f"{name:{width}}  {r['mean']:6.2f} ± {r['stderr']:.2f}" for name, r in rows]
    if "belief_kl" in results:
        lines.append("belief KL(exact posterior ‖ learned), mean per arm and step: "
                     f"{results['belief_kl']['mean']:.4f}")
    return "\n".join(lines)
