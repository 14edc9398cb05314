"""Belief figures and the exact posteriors behind them: Hinton areas, NumPad discoveries, enumeration against
brute force, calibration error, and `belief-rl plot beliefs` end to end."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from belief_rl import envs
from belief_rl.belief_figures import hinton
from belief_rl.belief_report import discovery_columns
from belief_rl.cli import main
from belief_rl.config import AgentConfig, PPOConfig, SVGConfig, TrainConfig
from belief_rl.envs.numpad import pad_at
from belief_rl.posteriors import (
    bandit_posterior,
    expected_calibration_error,
    numpad_active_counts,
    numpad_discoveries,
    numpad_posterior,
)
from belief_rl.references.bandits import BanditHistory, RandomStrategy
from belief_rl.references.numpad import NumPadExplorer, NumPadOracle
from belief_rl.references.scripted import run_scripted
from belief_rl.training import Trainer


def test_hinton_square_areas_are_proportional_to_probabilities():
    probs = np.array([[0.5, 0.25, 0.0], [0.125, 0.1, 0.025]])
    fig, ax = plt.subplots()
    squares = hinton(ax, probs, max_prob=0.5)
    areas = np.array([s.get_width() * s.get_height() for s in squares]).reshape(probs.shape)
    np.testing.assert_allclose(areas / areas.max(), probs / probs.max())
    assert all(s.get_width() == s.get_height() for s in squares)
    centres = [(s.get_x() + s.get_width() / 2, s.get_y() + s.get_height() / 2) for s in squares]
    assert centres[0] == pytest.approx((0.0, 1.0)) and centres[5] == pytest.approx((2.0, 0.0))  # row 0 on top
    plt.close(fig)


def _scripted_numpad(policy_cls, size=2, length=3, num_envs=6, seed=3):
    env = envs.make_vector_env("belief_rl/NumPad-2x2-L3-v0", num_envs, size=size, length=length)
    observations, actions, rewards = [], [], []

    def record(obs, action, reward, start):
        observations.append(np.array(obs))
        actions.append(np.array(action))
        rewards.append(np.array(reward))

    _, info = env.reset(seed=seed)
    tasks = info["task"].astype(np.int64)
    run_scripted(policy_cls.for_env(env), env, seed, record)
    env.close()
    return np.stack(observations), np.stack(actions), np.stack(rewards), tasks


def test_discoveries_on_a_scripted_trajectory_are_the_first_presses_of_each_pad():
    observations, _, rewards, tasks = _scripted_numpad(NumPadOracle)
    steps, n = rewards.shape
    counts = numpad_active_counts(observations, 2)
    discoveries = numpad_discoveries(counts, rewards, 3)
    # The oracle finds every pad, in order.
    assert (discoveries >= 0).all() and (np.diff(discoveries, axis=1) > 0).all()
    for i in range(n):
        for k, step in enumerate(discoveries[i]):
            # The press pays on pad seq[k]; the next observation shows k + 1 pads lit for the first time (none
            # after the last: a completed sequence clears).
            assert rewards[step, i] > 0 and (counts[: step + 1, i] <= k).all()
            assert counts[step + 1, i] == (k + 1 if k < 2 else 0)
            assert pad_at(observations[step + 1, i, None, :2], 2)[0] == tasks[i, k]
    times, titles = discovery_columns(discoveries[0], steps)
    assert times == [*discoveries[0], discoveries[0, -1] + 1]
    assert titles[0].startswith("before pad 1") and titles[-1].startswith("all found")
    partial, titles = discovery_columns(np.array([5, -1, -1]), 50)
    assert partial == [5, 49] and titles[-1] == "end (step 49)"


def test_numpad_posterior_matches_brute_force_replay_on_a_tiny_pad():
    """2×2 pad, sequences of 2: a sequence is consistent with a history iff, played with the same seed and
    actions, it yields the same observations and rewards; the posterior is uniform over those."""
    size, length, seed = 2, 2, 11
    observations, actions, rewards, tasks = _scripted_numpad(NumPadExplorer, size, length, num_envs=4,
                                                             seed=seed)
    posterior = numpad_posterior(observations, rewards, size, length)
    everything = np.array([(a, b) for a in range(4) for b in range(4)])
    valid = everything[[a != b for a, b in everything]]  # on 2×2 every pad neighbours every other
    np.testing.assert_array_equal(np.sort(posterior.sequences, axis=0), np.sort(valid, axis=0))
    steps = rewards.shape[0]
    for i in range(len(tasks)):
        replay = envs.make_vector_env("belief_rl/NumPad-2x2-L3-v0", len(valid), size=size, length=length)
        obs, _ = replay.reset(seed=[seed + i] * len(valid), options={"task": valid})
        same = np.ones((steps, len(valid)), dtype=bool)
        alive = np.ones(len(valid), dtype=bool)
        for t in range(steps):
            alive &= np.isclose(obs, observations[t, i]).all(1)
            same[t] = alive
            obs, reward, *_ = replay.step(np.broadcast_to(actions[t, i], (len(valid), 2)))
            alive &= reward == rewards[t, i]
        replay.close()
        order = [int(np.flatnonzero((posterior.sequences == s).all(1))[0]) for s in valid]
        np.testing.assert_array_equal(posterior.candidates[:, i][:, order], same)
        expected = np.einsum("ts,slp->tlp", same / same.sum(1, keepdims=True), np.eye(4)[valid])
        np.testing.assert_allclose(posterior.marginals()[:, i], expected)
        truth = int(np.flatnonzero((valid == tasks[i]).all(1))[0])
        assert same[:, truth].all()
        np.testing.assert_allclose(posterior.log_prob(tasks)[:, i], -np.log(same.sum(1)))
    assert (posterior.candidates[-1].sum(-1) < len(valid)).all()  # the explorer's presses did narrow it down


def test_exact_bandit_posterior_is_calibrated_and_the_diagnostic_sees_miscalibration():
    env = envs.make_vector_env("belief_rl/Bandit-K5-H10-v0", 4000)
    actions, rewards = [], []
    obs, info = env.reset(seed=0)
    p = info["task"]
    strategy, rng = RandomStrategy(), np.random.default_rng(0)
    history = BanditHistory.empty(4000, 5, 10)
    for _ in range(10):
        action = strategy.select(history, rng)
        obs, reward, *_ = env.step(action)
        history.update(action, reward)
        actions.append(action)
        rewards.append(reward)
    posterior = bandit_posterior(torch.as_tensor(np.stack(actions)), torch.as_tensor(np.stack(rewards)), 5)
    mean = posterior.mean.numpy()  # [T, n, K]
    exact_ece, table = expected_calibration_error(mean, np.broadcast_to(p, mean.shape))
    assert exact_ece < 0.01 and sum(table["count"]) == mean.size
    overconfident = np.clip(0.5 + 1.6 * (mean - 0.5), 0, 1)
    assert expected_calibration_error(overconfident, np.broadcast_to(p, mean.shape))[0] > 0.05


SMALL = AgentConfig(hidden_size=16, embed_dim=16, latent_dim=4, policy_hidden=(16,))


@pytest.mark.parametrize("env_id,algorithm,num_tasks", [
    ("belief_rl/Bandit-K5-H10-v0", "ppo", 64),
    ("belief_rl/NumPad-2x2-L3-v0", "svg0", 4),
    ("belief_rl/Semicircle-Small-v0", "svg0", 2),
])
def test_plot_beliefs_writes_png_pdf_and_json(tmp_path, capsys, env_id, algorithm, num_tasks):
    config = TrainConfig(env_id=env_id, algorithm=algorithm, agent=SMALL, total_steps=1, num_threads=1,
                         eval_tasks=4, ppo=PPOConfig(num_envs=8, num_minibatches=2, update_epochs=1),
                         svg0=SVGConfig(num_envs=4, warmup_episodes=4, batch_size=2, updates_per_rollout=1))
    Trainer.create(config, tmp_path / "run").train(progress=False)
    code = main(["plot", "beliefs", str(tmp_path / "run"), "--num-tasks", str(num_tasks), "--out",
                 str(tmp_path / "figs")])
    assert code == 0, capsys.readouterr().err
    for suffix in ("png", "pdf", "json"):
        assert (tmp_path / "figs" / f"beliefs.{suffix}").stat().st_size > 0
    summary = json.loads((tmp_path / "figs" / "beliefs.json").read_text())
    assert summary["family"] in env_id.lower()
    if summary["family"] == "bandit":
        assert 0 <= summary["ece_exact"] < summary["ece_learned"]  # an untrained belief is not calibrated


def test_plot_beliefs_refuses_bad_tasks_times_and_outputs_in_one_line(tmp_path, capsys):
    config = TrainConfig(env_id="belief_rl/Bandit-K5-H10-v0", agent=SMALL, total_steps=1, num_threads=1,
                         eval_tasks=4, ppo=PPOConfig(num_envs=8, num_minibatches=2, update_epochs=1))
    Trainer.create(config, tmp_path / "run").train(progress=False)
    (tmp_path / "a_file").write_text("")
    run = ["plot", "beliefs", str(tmp_path / "run"), "--num-tasks", "8"]
    for extra, message in ((["--task", "8"], "--task must lie in [0, 7]"), (["--task", "-1"], "--task must"),
                           (["--times", "-1"], "--times must"),
                           (["--times", "10"], "--times must lie in [0, 9]"),
                           (["--out", str(tmp_path / "a_file")], "a_file")):
        assert main([*run, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("belief-rl: error:") and message in err[0]
    assert main([*run, "--times", "3", "0", "0", "--out", str(tmp_path / "figs")]) == 0
    assert json.loads((tmp_path / "figs" / "beliefs.json").read_text())["times"] == [0, 3]


def test_plot_beliefs_of_an_agent_without_task_head_is_a_one_line_error(tmp_path, capsys):
    rnn = AgentConfig(kind="rnn", hidden_size=16, embed_dim=16, policy_hidden=(16,))
    config = TrainConfig(env_id="belief_rl/Bandit-K5-H10-v0", agent=rnn, total_steps=1, num_threads=1,
                         eval_tasks=4, ppo=PPOConfig(num_envs=8, num_minibatches=2))
    Trainer.create(config, tmp_path / "run").train(progress=False)
    assert main(["plot", "beliefs", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rnn agent" in err[0] and "has no task head" in err[0]


@pytest.mark.parametrize("enabled", [True, False])
def test_training_writes_the_belief_figure_to_tensorboard_at_evaluations(tmp_path, enabled):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = TrainConfig(env_id="belief_rl/Bandit-K5-H10-v0", agent=SMALL, total_steps=240, num_threads=1,
                         eval_every=1, eval_tasks=8, belief_figures=enabled, belief_figure_tasks=8,
                         ppo=PPOConfig(num_envs=8, num_minibatches=2, update_epochs=1))
    Trainer.create(config, tmp_path / "run").train(progress=False)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload()
    images = events.Tags()["images"]
    assert images == (["beliefs"] if enabled else [])
    if enabled:
        assert [event.step for event in events.Images("beliefs")] == [80, 160, 240]  # one per evaluation
