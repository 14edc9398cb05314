"""Train a fresh belief network on the replay saved in another run's checkpoint.

Separates what a belief network *can* learn from what its own agent's histories
teach it: the task posterior given a history does not depend on the policy that
produced the history, so any run's replayed meta-episodes are valid training
data. Builds the belief agent of ``--config-run`` from scratch (seed
``--seed``), trains only its belief network with its own losses on batches of
``--replay-run``'s replay, and reports the mean probability of the true task
component at a few steps of held-out replayed meta-episodes (per component:
e.g. per position of a NumPad sequence). Writes ``belief_on_replay_<replay run>.json`` into ``--out``.

    python analysis/belief_on_replay.py --config-run results/meta_rl/runs/NumPad-2x2-L3-v0/belief_seed0 \\
        --replay-run results/meta_rl/runs/NumPad-2x2-L3-v0/rnn_seed2 --steps 1000 --out results/meta_rl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from belief_rl.algorithms import SVG0
from belief_rl.checkpoint import CHECKPOINT_NAME, atomic_write_bytes, load_checkpoint
from belief_rl.errors import BeliefRLError
from belief_rl.experiments import machine_description
from belief_rl.runs import build_agent, read_config
from belief_rl.task_heads import true_component_probabilities

REPORT_TIMES = (50, 100, 250, 499)
HELD_OUT = 64  # replayed meta-episodes kept for the report (drawn with their own generator)


@torch.no_grad()
def p_true(agent, batch) -> dict[str, list[float]]:
    """Mean probability of each true task component at :data:`REPORT_TIMES` (categorical task heads)."""
    true = true_component_probabilities(agent.belief(batch.inputs), batch.task)
    return {str(t): true[t].mean(0).tolist() for t in REPORT_TIMES if t < true.shape[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-run", type=Path, required=True, help="run whose belief agent is rebuilt")
    parser.add_argument("--replay-run", type=Path, required=True, help="run whose saved replay trains it")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--report-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/meta_rl"))
    args = parser.parse_args()
    try:
        config = read_config(args.config_run)
        replay_config = read_config(args.replay_run)
        if config.agent.kind != "belief" or config.algorithm != "svg0":
            raise ValueError(f"{args.config_run} is not an SVG(0) belief-agent run")
        if replay_config.env_id != config.env_id:
            raise ValueError(f"{args.replay_run} was trained on {replay_config.env_id}, not {config.env_id}")
        payload = load_checkpoint(args.replay_run / CHECKPOINT_NAME, expected_env_id=config.env_id)
    except (BeliefRLError, ValueError, FileNotFoundError) as exc:
        parser.exit(2, f"belief_on_replay: error: {exc}\n")
    torch.set_num_threads(config.num_threads)
    torch.manual_seed(args.seed)
    learner = SVG0(build_agent(config), config.svg0)
    learner.replay.load_state_dict(payload["learner"]["replay"])
    held_out, _ = learner.replay.sample(HELD_OUT, torch.Generator().manual_seed(10_000 + args.seed))
    generator = torch.Generator().manual_seed(args.seed)
    history, start = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        learner.belief_step(learner.replay.sample(config.svg0.batch_size, generator)[0])
        if step % args.report_every == 0 or step == args.steps:
            history.append({"step": step, "p_true": p_true(learner.agent, held_out)})
            last = history[-1]["p_true"][max(history[-1]["p_true"], key=int)]
            print(f"step {step}: p(true) at the last reported time " + ", ".join(f"{p:.2f}" for p in last)
                  + f" ({(time.perf_counter() - start) / step:.2f} s/step)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine_description(), "config_run": str(args.config_run),
              "replay_run": str(args.replay_run), "seed": args.seed, "batch_size": config.svg0.batch_size,
              "learning_rate": config.svg0.critic_lr, "held_out_meta_episodes": HELD_OUT, "history": history}
    path = args.out / f"belief_on_replay_{args.replay_run.name}.json"
    atomic_write_bytes(path, json.dumps(result, indent=2).encode())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
