"""The multi-task ball arenas: contract, observation groups, rewards, success, a box that moves."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from belief_rl import envs
from belief_rl.envs.ball import BallPhysics, ball_arena_xml
from belief_rl.envs.ball_tasks import TARGET_RADIUS, BallTasksEnv
from belief_rl.references.ball_tasks import BallTasksExpert, ball_tasks_reference_returns

IDS = ["belief_rl/BallTargets-K1-v0", "belief_rl/BallTargets-K3-v0", "belief_rl/BallBox-K1-v0",
       "belief_rl/BallBox-K3-v0"]


@pytest.mark.parametrize("env_id", IDS)
def test_envs_pass_gymnasium_check_env_and_the_contract(env_id):
    check_env(gym.make(env_id).unwrapped, skip_render_check=True)
    vector = envs.make_vector_env(env_id, 4)
    assert envs.check_contract(vector, env_id).num_classes == vector.unwrapped.num_targets


@pytest.mark.parametrize("env_id", ["belief_rl/BallTargets-K3-v0", "belief_rl/BallBox-K3-v0"])
def test_observation_groups_tile_the_observation_and_hold_what_they_name(env_id):
    env = envs.make_vector_env(env_id, 8)
    groups = env.unwrapped.observation_groups
    spans = sorted(groups.values())
    assert spans[0][0] == 0 and spans[-1][1] == env.single_observation_space.shape[0]
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous, disjoint
    obs, info = env.reset(seed=3)
    for _ in range(5):
        obs, *_, info = env.step(env.action_space.sample())
    physics = env.unwrapped.physics
    part = {name: obs[:, a:b] for name, (a, b) in groups.items()}
    np.testing.assert_array_equal(part["task"].argmax(-1), info["task"])
    np.testing.assert_allclose(part["task"].sum(-1), 1.0)
    targets = env.unwrapped._targets
    np.testing.assert_allclose(part["targets"].reshape(8, -1, 2), targets - physics.positions()[:, None],
                               atol=1e-6)
    np.testing.assert_allclose(part["position"], physics.positions(), atol=1e-6)
    if "box" in groups:
        box = physics.box_positions()
        np.testing.assert_allclose(part["box"][:, :2], box - physics.positions(), atol=1e-6)
        np.testing.assert_allclose(part["box_goal"].reshape(8, -1, 2), targets - box[:, None], atol=1e-6)


def test_layouts_replay_per_seed_and_single_env_matches_the_batch():
    vector = envs.make_vector_env("belief_rl/BallTargets-K3-v0", 3)
    obs, _ = vector.reset(seed=10)
    single = BallTasksEnv(num_targets=3)
    single_obs, _ = single.reset(seed=11)
    np.testing.assert_array_equal(single_obs, obs[1])
    actions = np.tile([[0.5, -0.3]], (3, 1)).astype(np.float32)
    for _ in range(10):
        obs, reward, *_ = vector.step(actions)
        single_obs, single_reward, *_ = single.step(actions[1])
    np.testing.assert_array_equal(single_obs, obs[1])
    assert single_reward == reward[1]


@pytest.mark.parametrize("env_id", ["belief_rl/BallTargets-K3-v0", "belief_rl/BallBox-K3-v0"])
def test_reward_is_one_exactly_while_the_mover_is_on_the_chosen_target(env_id):
    env = envs.make_vector_env(env_id, 32)
    expert = BallTasksExpert.for_env(env)
    obs, info = env.reset(seed=0)
    box = env.unwrapped.has_box
    length = env.unwrapped.episode_length
    for step in range(length):
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
        physics = env.unwrapped.physics
        mover = physics.box_positions() if box else physics.positions()
        on_target = np.linalg.norm(mover - env.unwrapped._chosen_target(), axis=-1) <= TARGET_RADIUS
        np.testing.assert_array_equal(reward, on_target.astype(float))
        np.testing.assert_array_equal(info["success"], on_target)
        assert terminated.all() == (step == length - 1) and not truncated.any()
    assert info["success"].mean() >= (0.7 if box else 0.95)  # the expert gets there and stays


def test_the_box_moves_when_pushed_and_only_then():
    physics = BallPhysics(1, ball_arena_xml(1.0, box_half_size=0.1))
    physics.reset(np.array([0]), np.array([[-0.5, 0.0]]), np.array([[0.0, 0.0]]))
    for _ in range(3):  # rolling towards it, not yet touching: the box stays put
        physics.step(np.array([[1.0, 0.0]]))
    np.testing.assert_allclose(physics.box_positions(), [[0.0, 0.0]], atol=1e-9)
    for _ in range(12):  # not as far as the wall
        physics.step(np.array([[1.0, 0.0]]))
    box = physics.box_positions()[0]
    assert 0.25 < box[0] < 0.7 and abs(box[1]) < 1e-6  # pushed along x, not sideways
    for _ in range(5):
        physics.step(np.zeros((1, 2)))
    resting = physics.box_positions()[0].copy()
    physics.step(np.zeros((1, 2)))
    np.testing.assert_allclose(physics.box_positions()[0], resting, atol=1e-4)  # stops when let go
    with pytest.raises(ValueError, match="box_positions"):
        physics.reset(np.array([0]), np.zeros((1, 2)))


def test_expert_far_above_random():
    returns = ball_tasks_reference_returns("belief_rl/BallTargets-K3-v0", 64, 0, {})
    assert returns["expert"]["mean"] > 80 > 10 > returns["random"]["mean"]


def test_bad_task_options_are_refused():
    env = envs.make_vector_env("belief_rl/BallTargets-K3-v0", 2)
    with pytest.raises(ValueError, match="target indices"):
        env.reset(seed=0, options={"task": 3})
    _, info = env.reset(seed=0, options={"task": 2})
    np.testing.assert_array_equal(info["task"], [2, 2])


def _distance_to_go(env) -> np.ndarray:
    """Φ computed from the physics: minus the distance the ball (and box) still have to cover."""
    core, physics = env.unwrapped, env.unwrapped.physics
    target = core._chosen_target()
    if not core.has_box:
        return -np.linalg.norm(target - physics.positions(), axis=-1)
    box = physics.box_positions()
    return -np.linalg.norm(box - physics.positions(), axis=-1) - np.linalg.norm(target - box, axis=-1)


@pytest.mark.parametrize("env_id", ["belief_rl/BallTargets-K3-v0", "belief_rl/BallBox-K3-v0"])
def test_shaping_pays_the_progress_made_and_sums_to_the_distance_closed(env_id):
    env = envs.make_vector_env(env_id, 8, shaping=2.0)
    obs, _ = env.reset(seed=2)
    start = before = _distance_to_go(env)
    shaping_sum = np.zeros(8)
    for _ in range(env.unwrapped.episode_length):
        obs, reward, terminated, _, info = env.step(env.action_space.sample())
        after = _distance_to_go(env)
        np.testing.assert_allclose(reward, info["success"] + 2.0 * (after - before), atol=1e-12)
        shaping_sum += reward - info["success"]
        before = after
    assert terminated.all()
    np.testing.assert_allclose(shaping_sum, 2.0 * (after - start), atol=1e-9)  # nothing for going in circles
    obs, reward, *_ = env.step(env.action_space.sample())  # the autoreset step
    np.testing.assert_array_equal(reward, 0.0)
    np.testing.assert_allclose(env.unwrapped._potential, _distance_to_go(env))  # the new episode's start


def test_shaping_rewards_the_expert_and_bad_shaping_is_refused():
    shaped = ball_tasks_reference_returns("belief_rl/BallBox-K1-v0", 16, 0, {"shaping": 5.0})
    plain = ball_tasks_reference_returns("belief_rl/BallBox-K1-v0", 16, 0, {})
    assert shaped["expert"]["mean"] > plain["expert"]["mean"] + 2  # it closes the distance to go
    assert shaped["expert"]["mean"] > shaped["random"]["mean"] + 20
    with pytest.raises(ValueError, match="shaping must"):
        BallTasksEnv(shaping=-1.0)
