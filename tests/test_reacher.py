"""Reacher-v5 in the belief_rl protocol, and its scripted expert."""

import numpy as np
from gymnasium.utils.env_checker import check_env

from belief_rl import envs
from belief_rl.envs.reacher import ReacherEnv
from belief_rl.references.reacher import ReacherExpert, reacher_reference_returns

from env_checks import assert_matches_sync_vector_env

ENV = "belief_rl/Reacher-v5"


def test_reacher_passes_check_env_and_reports_the_target_as_task():
    env = ReacherEnv()
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert info["boundary"] and info["task"].shape == env.task_spec.shape
    np.testing.assert_array_equal(info["task"], obs[4:6])
    obs, reward, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))
    assert not info["boundary"] and np.linalg.norm(info["task"]) <= 0.2 + 1e-9  # targets lie within 0.2


def test_vector_env_steps_like_gymnasium_sync_vector_env():
    venv = envs.make_vector_env(ENV, 3)
    actions = [np.random.default_rng(t).uniform(-1, 1, (3, 2)).astype(np.float32) for t in range(5)]
    assert_matches_sync_vector_env(lambda: ReacherEnv(), venv, actions, seed=7)
    assert venv.unwrapped.task_spec == ReacherEnv.task_spec


def test_expert_reaches_the_target_and_beats_random_by_far():
    venv = envs.make_vector_env(ENV, 8)
    obs, _ = venv.reset(seed=0)
    start = np.linalg.norm(obs[:, 8:10], axis=1)  # fingertip − target
    expert = ReacherExpert()
    for _ in range(49):
        obs, *_ = venv.step(expert.act(obs))
    assert np.linalg.norm(obs[:, 8:10], axis=1).mean() < 0.5 * start.mean()
    results = reacher_reference_returns(ENV, 64, seed=0)
    assert results["expert"]["mean"] > -7.0 and results["random"]["mean"] < -35.0
