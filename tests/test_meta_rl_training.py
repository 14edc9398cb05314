"""Both learners on the continuous-control envs, and their reference policies through the CLI."""

import json

import numpy as np
import pytest
import torch

from belief_rl.cli import main
from belief_rl.config import AgentConfig, PPOConfig, SVGConfig, TrainConfig
from belief_rl.envs import make_vector_env
from belief_rl.evaluation import evaluate_agent, evaluate_references, format_results
from belief_rl.rollout import collect_rollout
from belief_rl.training import MONITOR_EVAL_SEED, Trainer

SMALL = AgentConfig(hidden_size=16, embed_dim=16, latent_dim=4, policy_hidden=(16,))
CONTROL_ENVS = ["belief_rl/Semicircle-Small-v0", "belief_rl/SemicircleBall-v0", "belief_rl/NumPad-2x2-L3-v0"]


@pytest.mark.parametrize("env_id", CONTROL_ENVS)
@pytest.mark.parametrize("algorithm", ["ppo", "svg0"])
def test_one_update_of_each_learner_on_each_env(tmp_path, env_id, algorithm):
    config = TrainConfig(env_id=env_id, algorithm=algorithm, agent=SMALL, total_steps=1, num_threads=1,
                         eval_tasks=4, ppo=PPOConfig(num_envs=4, num_minibatches=2, update_epochs=1),
                         svg0=SVGConfig(num_envs=4, warmup_episodes=4, batch_size=2, updates_per_rollout=1))
    trainer = Trainer.create(config, tmp_path / "run")
    row = trainer.train(progress=False)
    assert np.isfinite(row["eval_return"]) and row["rollout_steps"] > 0
    assert "task_nll" in row and np.isfinite(row["task_nll"])  # the belief trained on this env's task spec
    key = "policy_loss" if algorithm == "ppo" else "critic_loss"
    assert np.isfinite(row[key])


@pytest.mark.parametrize("env_id, names", [("belief_rl/Semicircle-v0", {"oracle", "explorer"}),
                                           ("belief_rl/NumPad-2x2-L3-v0", {"oracle", "explorer", "random"})])
def test_references_on_held_out_tasks(env_id, names):
    refs = evaluate_references(env_id, {}, num_tasks=32, eval_seed=0)
    assert set(refs) == names
    assert refs["oracle"]["mean"] > refs["explorer"]["mean"] > 0
    assert refs == evaluate_references(env_id, {}, num_tasks=32, eval_seed=0)  # same tasks, same numbers


def test_cli_baselines_on_a_control_env(tmp_path, capsys):
    out = tmp_path / "refs.json"
    assert main(["baselines", "--env", "belief_rl/Semicircle-Small-v0", "--num-tasks", "50",
                 "--output", str(out)]) == 0
    table = json.loads(out.read_text())
    assert set(table["strategies"]) == {"oracle", "explorer"} and table["num_tasks"] == 50
    assert format_results(table) in capsys.readouterr().out


def test_periodic_evaluation_can_act_deterministically(tmp_path):
    config = TrainConfig(env_id="belief_rl/Semicircle-Small-v0", algorithm="svg0", agent=SMALL, total_steps=1,
                         num_threads=1, eval_tasks=16, eval_deterministic=True,
                         svg0=SVGConfig(num_envs=4, warmup_episodes=4, batch_size=2, updates_per_rollout=1))
    trainer = Trainer.create(config, tmp_path / "run")
    row = trainer.train(progress=False)
    deterministic = evaluate_agent(trainer.agent, config.env_id, {}, 16, MONITOR_EVAL_SEED,
                                   deterministic=True)
    # The mode of each action distribution: the same return on every call, and the one logged.
    assert row["eval_return"] == pytest.approx(deterministic.returns.mean())
    # The mode does not depend on the sampling noise: the same tasks under two torch seeds give the same
    # actions in deterministic mode, and different ones when sampling.
    env = make_vector_env(config.env_id, 8)
    actions = {}
    for deterministic in (True, False):
        for torch_seed in (1, 2):
            torch.manual_seed(torch_seed)
            rollout = collect_rollout(env, trainer.agent, 5, deterministic)
            actions[deterministic, torch_seed] = rollout.batch.actions
    assert torch.equal(actions[True, 1], actions[True, 2])
    assert not torch.equal(actions[False, 1], actions[False, 2])
