"""Tests of Semicircle-v0 / SemicircleBall-v0 and their scripted oracle and explorer."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from belief_rl import envs
from belief_rl.envs.semicircle import (
    SemicircleBallEnv,
    SemicircleBallVectorEnv,
    SemicircleEnv,
    SemicircleVectorEnv,
)
from belief_rl.envs.task_specs import GaussianTask, TaskSet, semicircle_task_set
from belief_rl.references.scripted import ScriptedPolicy, run_scripted
from belief_rl.references.semicircle import (
    BallController,
    PointController,
    SemicircleExplorer,
    SemicircleOracle,
    StraightController,
    semicircle_reference_returns,
)

from env_checks import assert_matches_sync_vector_env, vector_rollout  # tests/ helpers

SEMICIRCLE_IDS = ["belief_rl/Semicircle-v0", "belief_rl/Semicircle-Small-v0",
                  "belief_rl/Semicircle-FixedGoal-v0", "belief_rl/Semicircle-FixedGoal-Far-v0",
                  "belief_rl/SemicircleBall-v0"]


def _goal(theta: float, radius: float = 1.0) -> np.ndarray:
    return radius * np.array([np.cos(theta), np.sin(theta)])


def test_registered_with_documented_kwargs() -> None:
    assert set(SEMICIRCLE_IDS) <= set(envs.registered_ids())
    assert envs.env_spec_kwargs("belief_rl/Semicircle-v0") == {}
    assert envs.env_spec_kwargs("belief_rl/Semicircle-Small-v0") == {
        "radius": 0.5, "episode_length": 20, "num_episodes": 2}


@pytest.mark.parametrize("env_id", SEMICIRCLE_IDS)
def test_check_env_passes(env_id: str) -> None:
    env = gymnasium.make(env_id).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []
    assert env.task_spec == GaussianTask(2, low=(-env.radius, 0.0), high=(env.radius, env.radius))
    goals = env.reset(seed=0)[1]["task"]
    assert np.all((np.array(env.task_spec.low) <= goals) & (goals <= np.array(env.task_spec.high)))
    assert env.goal_radius == envs.env_spec_kwargs(env_id).get("goal_radius", 0.2)
    assert env.horizon == env.num_episodes * env.episode_length
    env.close()


def test_default_attributes_and_spaces() -> None:
    env = SemicircleEnv()
    assert (env.radius, env.goal_radius, env.max_step) == (1.0, 0.2, 0.1)
    assert (env.episode_length, env.num_episodes, env.half_extent) == (100, 3, 1.5)
    assert env.action_space == gymnasium.spaces.Box(-0.1, 0.1, (2,), np.float32)
    assert env.observation_space == gymnasium.spaces.Box(-1.5, 1.5, (2,), np.float32)
    ball = SemicircleBallEnv()
    assert ball.action_space == gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
    assert ball.observation_space.shape == (4,) and not hasattr(ball, "max_step")


@pytest.mark.parametrize("radius", [1.0, 0.5])
def test_goals_lie_on_the_semicircle(radius: float) -> None:
    venv = SemicircleVectorEnv(2000, radius=radius)
    _, info = venv.reset(seed=0)
    goals = info["task"]
    assert goals.shape == (2000, 2) and goals.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(goals, axis=1), radius)
    theta = np.arctan2(goals[:, 1], goals[:, 0])
    assert np.all((theta >= 0) & (theta <= np.pi))
    assert abs(theta.mean() - np.pi / 2) < 0.05 and abs(theta.std() - np.pi / np.sqrt(12)) < 0.05
    np.testing.assert_array_equal(venv.tasks, goals)


def test_rewards_along_a_path_into_the_disc_and_out() -> None:
    env = SemicircleEnv()
    env.reset(seed=0, options={"task": [1.0, 0.0]})
    actions = [(0.07, 0.0)] * 20 + [(0.0, 0.1)] * 4
    positions = np.cumsum(np.array(actions, dtype=np.float32), axis=0)
    rewards = [env.step(np.array(a, dtype=np.float32))[1] for a in actions]
    inside = np.linalg.norm(positions - [1.0, 0.0], axis=1) <= 0.2
    np.testing.assert_array_equal(rewards, inside.astype(float))
    # x = 0.07k is within 0.2 of 1.0 for k = 12..17 only; the climb at x = 1.4 never is.
    assert np.flatnonzero(rewards).tolist() == list(range(11, 17))


def test_reward_boundary_is_inclusive() -> None:
    # Binary fractions make the distance exactly goal_radius at the fourth step.
    env = SemicircleEnv(goal_radius=0.25)
    env.reset(options={"task": [0.5, 0.0]})
    rewards = [env.step(np.array([0.0625, 0.0], dtype=np.float32))[1] for _ in range(5)]
    assert rewards == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_inner_episodes_boundaries_and_termination() -> None:
    env = gymnasium.make("belief_rl/Semicircle-Small-v0").unwrapped  # 2 episodes of 20 steps
    obs, info = env.reset(seed=0)
    assert info["boundary"] is True and np.array_equal(obs, [0.0, 0.0])
    for t in range(1, 41):
        obs, reward, terminated, truncated, info = env.step(np.array([0.1, 0.1], dtype=np.float32))
        k = t % 20
        assert info["boundary"] == (t == 20) and terminated == (t == 40) and truncated is False
        # Position resets to the origin after step 20; it is clipped to the box |x| <= 1.0.
        expected = 0.0 if t == 20 else min(0.1 * (k or 20), 1.0)
        np.testing.assert_allclose(obs, [expected, expected], atol=1e-6)
    with pytest.raises(RuntimeError):
        env.step(np.zeros(2, dtype=np.float32))
    with pytest.raises(RuntimeError):
        SemicircleEnv().step(np.zeros(2, dtype=np.float32))


def test_actions_are_clipped_and_nan_rejected() -> None:
    env = SemicircleEnv()
    env.reset(seed=0)
    obs = env.step(np.array([5.0, -np.inf]))[0]
    np.testing.assert_array_equal(obs, np.float32([0.1, -0.1]))
    for bad in (np.array([np.nan, 0.0]), np.zeros(3), "left"):
        with pytest.raises(ValueError):
            env.step(bad)
    venv = SemicircleVectorEnv(2)
    with pytest.raises(RuntimeError):
        venv.step(np.zeros((2, 2)))
    venv.reset(seed=0)
    obs = venv.step(np.array([[0.05, 3.0], [-3.0, 0.0]]))[0]
    np.testing.assert_array_equal(obs, np.float32([[0.05, 0.1], [-0.1, 0.0]]))
    for bad in (np.zeros((3, 2)), np.zeros(2), np.array([[0.0, 0.0], [np.nan, 0.0]])):
        with pytest.raises(ValueError):
            venv.step(bad)


def _run_single(env: gymnasium.Env, seed: int, actions: np.ndarray, horizon: int) -> list[tuple]:
    """Two meta-episodes: seeded reset, then (where the batch autoresets) an unseeded one."""
    obs, info = env.reset(seed=seed)
    trace = [(obs, 0.0, False, False, info["task"], info["boundary"])]
    for step, a in enumerate(actions):
        if step == horizon:  # the step NEXT_STEP spends on the autoreset
            obs, info = env.reset()
            trace.append((obs, 0.0, False, False, info["task"], info["boundary"]))
            continue
        obs, r, term, trunc, info = env.step(a)
        trace.append((obs, r, term, trunc, info["task"], info["boundary"]))
    return trace


@pytest.mark.parametrize(
    ("single_cls", "vector_cls", "scale", "kwargs"),
    [
        (SemicircleEnv, SemicircleVectorEnv, 0.15, {"radius": 0.3}),
        (SemicircleEnv, SemicircleVectorEnv, 0.15, {"radius": 0.3, "num_tasks": 3, "task_seed": 5}),
        (SemicircleBallEnv, SemicircleBallVectorEnv, 1.5, {"radius": 0.3}),
    ],
)
def test_batched_equals_single_over_two_meta_episodes(single_cls, vector_cls, scale, kwargs) -> None:
    n, seed = 3, 11
    kwargs = {"episode_length": 4, "num_episodes": 2, **kwargs}
    horizon = 8
    actions = np.random.default_rng(0).uniform(-scale, scale, (2 * horizon + 1, n, 2)).astype(np.float32)
    batched = vector_rollout(vector_cls(n, **kwargs), actions, seed)
    for i in range(n):
        single = _run_single(single_cls(**kwargs), seed + i, actions[:, i], horizon)
        assert len(single) == len(batched)
        for s, b in zip(single, batched):
            np.testing.assert_array_equal(s[0], b[0][i])
            assert (s[1], s[2], s[3], s[5]) == (b[1][i], b[2][i], b[3][i], b[5][i])
            np.testing.assert_array_equal(s[4], b[4][i])
    boundaries = np.array([b[5] for b in batched])
    assert boundaries.all(axis=1).tolist() == [t in (0, 4, 9, 13) for t in range(2 * horizon + 2)]
    assert all(batched[horizon][2]) and all(batched[2 * horizon + 1][2])
    assert not np.array_equal(batched[1][4], batched[horizon + 1][4])  # a new goal after autoreset


def test_batched_matches_gymnasium_sync_vector_env() -> None:
    """gymnasium's own NEXT_STEP implementation is the reference for autoreset."""
    n, kwargs = 3, {"episode_length": 3, "num_episodes": 2}
    actions = np.random.default_rng(1).uniform(-0.1, 0.1, (15, n, 2)).astype(np.float32)
    assert_matches_sync_vector_env(lambda: SemicircleEnv(**kwargs), SemicircleVectorEnv(n, **kwargs),
                                   actions, seed=2)


def test_vector_seeding_variants() -> None:
    a, b = SemicircleVectorEnv(3), SemicircleVectorEnv(3)
    np.testing.assert_array_equal(a.reset(seed=9)[1]["task"], b.reset(seed=[9, 10, 11])[1]["task"])
    tasks = SemicircleVectorEnv(3).reset()[1]["task"]  # fresh entropy, independent sub-envs
    assert not np.array_equal(tasks[0], tasks[1])
    with pytest.raises(ValueError):
        a.reset(seed=[1, 2])


def test_reset_options_task() -> None:
    env = SemicircleEnv()
    _, info = env.reset(seed=0, options={"task": [0.3, -0.2]})  # any finite goal is allowed
    np.testing.assert_array_equal(info["task"], [0.3, -0.2])
    np.testing.assert_array_equal(env.step(np.zeros(2, np.float32))[4]["task"], [0.3, -0.2])
    for bad in ([0.1], [0.1, 0.2, 0.3], [np.nan, 0.0], [np.inf, 0.0]):
        with pytest.raises(ValueError):
            env.reset(options={"task": bad})
    venv = SemicircleVectorEnv(2)
    goals = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(venv.reset(options={"task": goals})[1]["task"], goals)
    np.testing.assert_array_equal(venv.reset(options={"task": goals[1]})[1]["task"], goals[[1, 1]])
    for bad in (np.zeros((3, 2)), np.zeros(3), [[0.0, 0.0], [np.nan, 0.0]]):
        with pytest.raises(ValueError):
            venv.reset(options={"task": bad})


def test_task_set_splits() -> None:
    ts = semicircle_task_set(num_train=10, num_validation=5, seed=0, radius=0.5)
    assert isinstance(ts, TaskSet)
    assert ts.tasks("train").shape == (10, 2) and ts.tasks("validation").shape == (5, 2)
    pool = np.concatenate([ts.train, ts.validation])
    assert len(np.unique(pool, axis=0)) == 15  # disjoint splits
    np.testing.assert_allclose(np.linalg.norm(pool, axis=1), 0.5)
    assert np.all(pool[:, 1] >= 0)
    bigger = semicircle_task_set(20, 5, 0, 0.5)  # validation fixed, train sets nested
    np.testing.assert_array_equal(bigger.validation, ts.validation)
    np.testing.assert_array_equal(bigger.train[:10], ts.train)
    assert not np.array_equal(ts.train, semicircle_task_set(10, 5, 1, 0.5).train)
    for bad in ({"num_train": -1}, {"radius": 0.0}, {"radius": np.nan}):
        with pytest.raises(ValueError):
            semicircle_task_set(**{"num_train": 1, "num_validation": 1, "seed": 0, **bad})


@pytest.mark.parametrize("split", ["train", "validation"])
def test_finite_task_set_only_pool_tasks(split: str) -> None:
    pool = semicircle_task_set(4, 6, seed=2, radius=1.0).tasks(split)
    kwargs = {"num_tasks": 4, "task_seed": 2, "split": split, "num_validation_tasks": 6}
    env = SemicircleEnv(**kwargs)
    seen = {tuple(env.reset(seed=s)[1]["task"]) for s in range(60)}
    assert seen == {tuple(row) for row in pool}  # every pool task, nothing else
    venv = SemicircleVectorEnv(60, **kwargs)
    assert {tuple(row) for row in venv.reset(seed=0)[1]["task"]} <= seen


@pytest.mark.parametrize(
    "cls", [SemicircleEnv, lambda **kw: SemicircleVectorEnv(2, **kw),
            SemicircleBallEnv, lambda **kw: SemicircleBallVectorEnv(2, **kw)])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"radius": 0.0}, {"radius": -1.0}, {"radius": np.nan}, {"goal_radius": 0.0},
        {"episode_length": 0}, {"num_episodes": 0}, {"num_tasks": 0}, {"split": "test"},
        {"num_validation_tasks": -1},
        {"num_tasks": 3, "split": "validation", "num_validation_tasks": 0},
        {"goal_angle": -0.1}, {"goal_angle": 3.2}, {"goal_angle": np.nan},
        {"goal_angle": 1.0, "num_tasks": 5},
    ],
)
def test_invalid_constructor_args(cls, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [SemicircleEnv, SemicircleBallEnv])
def test_fixed_goal_angle_fixes_every_task(cls) -> None:
    env = cls(goal_angle=np.pi / 3, radius=0.5)
    for seed in range(5):
        np.testing.assert_allclose(env.reset(seed=seed)[1]["task"], _goal(np.pi / 3, 0.5))
    venv = SemicircleVectorEnv(8, goal_angle=np.pi / 3)
    np.testing.assert_allclose(venv.reset(seed=0)[1]["task"], np.tile(_goal(np.pi / 3), (8, 1)))
    assert envs.env_spec_kwargs("belief_rl/Semicircle-FixedGoal-v0") == {"goal_angle": 2 * np.pi / 3}
    far = envs.make_vector_env("belief_rl/Semicircle-FixedGoal-Far-v0", 2)
    np.testing.assert_allclose(far.reset(seed=3)[1]["task"], np.tile(_goal(2 * np.pi / 3, 1.4), (2, 1)))
    assert far.unwrapped.goal_radius == 0.1
    # An explicit task still wins, as for every env.
    np.testing.assert_allclose(env.reset(options={"task": _goal(0.0, 0.5)})[1]["task"], _goal(0.0, 0.5))


def test_invalid_point_and_ball_specific_args() -> None:
    for bad in (0.0, -0.1, np.inf):
        with pytest.raises(ValueError):
            SemicircleEnv(max_step=bad)
    with pytest.raises(ValueError):
        SemicircleVectorEnv(0)
    with pytest.raises(ValueError):
        SemicircleBallEnv(render_mode="human")
    with pytest.raises(TypeError):
        SemicircleBallEnv(max_step=0.1)  # the ball's speed is fixed by its motors
    with pytest.raises(ValueError, match="max_step"):
        envs.make_vector_env("belief_rl/SemicircleBall-v0", 2, max_step=0.1)


def test_ball_model_compiles_and_rolls_where_pushed() -> None:
    venv = SemicircleBallVectorEnv(3)
    assert venv._body.physics.model.nu == 2
    obs, _ = venv.reset(seed=0)
    np.testing.assert_array_equal(obs, np.zeros((3, 4), np.float32))
    direction = np.array([[1.0, 0.0], [0.0, -1.0], [-0.6, 0.8]])
    for _ in range(10):
        obs = venv.step(direction)[0]
    displacement = obs[:, :2]
    cosine = np.sum(displacement * direction, axis=1) / np.linalg.norm(displacement, axis=1)
    assert np.all(cosine > 0.999)
    # Calibrated to ~0.1 length units per step at full throttle (per axis).
    assert np.all(np.abs(obs[0, 2] - 0.1) < 0.01) and 0.7 < displacement[0, 0] < 1.0
    np.testing.assert_allclose(obs[:, 2:] / np.linalg.norm(obs[:, 2:], axis=1, keepdims=True),
                               direction / np.linalg.norm(direction, axis=1, keepdims=True), atol=1e-3)


def test_ball_render() -> None:
    assert SemicircleBallEnv().render() is None
    # Offscreen GL must be chosen before mujoco is imported, hence a fresh process.
    code = (
        "import numpy as np\n"
        "from belief_rl.envs.semicircle import SemicircleBallEnv\n"
        "env = SemicircleBallEnv(render_mode='rgb_array', width=64, height=48)\n"
        "env.reset(seed=0)\n"
        "try:\n"
        "    image = env.render()\n"
        "except RuntimeError:\n"
        "    print('no-gl')\n"
        "else:\n"
        "    green = (image[..., 1] > 150) & (image[..., 0] < 80)\n"
        "    print(image.shape, image.dtype, bool(green.any()))\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                            env={**os.environ, "MUJOCO_GL": "egl"}, timeout=60)
    if "no-gl" in result.stdout:
        pytest.skip("no offscreen OpenGL context on this machine")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(48, 64, 3) uint8 True"


# --------------------------------------------------------------------------------------
# Scripted policies
# --------------------------------------------------------------------------------------


class _TaskGuard(dict):
    """An info dict whose ``"task"`` cannot be read."""

    def __getitem__(self, key: Any) -> Any:
        assert key != "task", "the explorer read info['task']"
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        assert key != "task", "the explorer read info['task']"
        return super().get(key, default)


def _per_episode_returns(env: gymnasium.vector.VectorEnv, policy: ScriptedPolicy,
                         goals: np.ndarray, guard: bool = False) -> np.ndarray:
    """``[num_envs, num_episodes]`` returns of ``policy`` on fixed ``goals``."""
    wrap = _TaskGuard if guard else dict
    obs, info = env.reset(seed=0, options={"task": goals})
    policy.reset(obs, wrap(info))
    rewards = []
    while True:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        rewards.append(reward)
        if terminated.all():
            break
        policy.observe(obs, reward, terminated, wrap(info))
    return np.array(rewards).reshape(env.num_episodes, env.episode_length, -1).sum(1).T


def test_oracle_return_matches_closed_form() -> None:
    # Clipped L-inf motion from the origin: along an axis the goal disc is entered
    # at step ceil((1 - 0.2) / 0.1) = 8, diagonally when sqrt(2) (0.7071 - 0.1 k) <= 0.2,
    # i.e. at k = 6; every later step of the 100 stays on the goal.
    thetas = np.array([0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4, np.pi])
    env = SemicircleVectorEnv(len(thetas))
    returns = _per_episode_returns(env, SemicircleOracle.for_env(env), _goal(thetas).T)
    np.testing.assert_array_equal(returns, [[93] * 3, [95] * 3, [93] * 3, [95] * 3, [93] * 3])


def test_explorer_pays_for_exploration_once() -> None:
    thetas = np.array([0.3, 1.0, 2.0, 2.8])
    env = SemicircleVectorEnv(len(thetas))
    goals = _goal(thetas).T
    oracle = _per_episode_returns(env, SemicircleOracle.for_env(env), goals)
    explorer = _per_episode_returns(env, SemicircleExplorer.for_env(env), goals, guard=True)
    assert np.all(explorer[:, 0] < oracle[:, 0])
    np.testing.assert_array_equal(explorer[:, 1:], oracle[:, 1:])
    # Over random goals the inferred goal is never worse than one step late.
    env = SemicircleVectorEnv(300)
    obs, info = env.reset(seed=1)
    goals = info["task"]
    oracle = _per_episode_returns(env, SemicircleOracle.for_env(env), goals)
    explorer = _per_episode_returns(env, SemicircleExplorer.for_env(env), goals, guard=True)
    assert np.all(explorer[:, 0] < oracle[:, 0]) and np.all(explorer[:, 0] > 50)
    assert np.all(explorer[:, 1:] >= oracle[:, 1:] - 1) and np.mean(explorer[:, 1:] == oracle[:, 1:]) > 0.8


def test_explorer_sweep_carries_over_and_reverses() -> None:
    # 15-step episodes end the sweep early: it resumes where it stopped in episode 2.
    env = SemicircleVectorEnv(1, episode_length=15, num_episodes=6)
    goals = _goal(2.5)[None]
    returns = _per_episode_returns(env, SemicircleExplorer.for_env(env), goals)[0]
    oracle = _per_episode_returns(env, SemicircleOracle.for_env(env), goals)[0]
    np.testing.assert_array_equal(oracle, [9] * 6)
    np.testing.assert_array_equal(returns, [0, 0, 0, 0, 2, 9])  # found late in episode 5
    # A goal off the arc is never found: the sweep goes back and forth over the arc.
    env = SemicircleVectorEnv(1, episode_length=200, num_episodes=1)
    explorer = SemicircleExplorer.for_env(env)
    obs, info = env.reset(options={"task": [0.0, -1.0]})
    explorer.reset(obs, info)
    angles = []
    for _ in range(199):
        obs, reward, terminated, _, info = env.step(explorer.act(obs))
        explorer.observe(obs, reward, terminated, info)
        angles.append(np.arctan2(obs[0, 1], obs[0, 0]))
    peak = int(np.argmax(angles))
    assert angles[peak] > 3.1 and min(angles[peak:]) < 0.05 and max(angles[-30:]) > 1.0


def test_explorer_never_sees_the_task() -> None:
    seen: list[set[str]] = []

    class Spy(SemicircleExplorer):
        def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
            seen.append(set(info))
            super().reset(obs, info)

        def observe(self, obs, reward, done, info) -> None:
            seen.append(set(info))
            super().observe(obs, reward, done, info)

    env = envs.make_vector_env("belief_rl/Semicircle-Small-v0", 4)
    spy = Spy.for_env(env)
    seen.clear()  # the constructor's own reset
    returns = run_scripted(spy, env, seed=0)
    assert len(seen) == env.horizon and all(keys == {"boundary"} for keys in seen)
    assert returns.shape == (4,) and np.all(returns > 0)
    assert not SemicircleExplorer.uses_task and SemicircleOracle.uses_task


def test_policies_on_the_ball() -> None:
    thetas = np.array([0.3, 1.0, 2.8])
    env = SemicircleBallVectorEnv(len(thetas))
    goals = _goal(thetas).T
    oracle_policy = SemicircleOracle.for_env(env)
    assert isinstance(oracle_policy.controller, BallController)
    oracle = _per_episode_returns(env, oracle_policy, goals)
    explorer = _per_episode_returns(env, SemicircleExplorer.for_env(env), goals, guard=True)
    assert np.all(oracle >= 90)
    assert np.all(explorer[:, 0] < oracle[:, 0]) and np.all(explorer[:, 0] > 50)
    assert np.all(explorer[:, 1:] >= oracle[:, 1:] - 1)


def test_reference_returns() -> None:
    results = semicircle_reference_returns("belief_rl/Semicircle-Small-v0", num_tasks=50, seed=0)
    assert set(results) == {"oracle", "explorer"}
    assert results["oracle"] == {"mean": 36.0, "stderr": 0.0, "num_tasks": 50}  # 18 per episode, any goal
    assert 18.0 < results["explorer"]["mean"] < 36.0 and results["explorer"]["stderr"] > 0
    assert isinstance(SemicircleOracle().controller, PointController)
    with pytest.raises(ValueError):
        semicircle_reference_returns("belief_rl/Semicircle-Small-v0", num_tasks=0, seed=0)


def test_straight_controller_heads_at_the_target_and_arrives_with_the_clipped_one() -> None:
    rng = np.random.default_rng(0)
    start, target = rng.uniform(-1, 1, (200, 2)), rng.uniform(-1, 1, (200, 2))
    straight, clipped = StraightController(0.1), PointController(0.1)
    action = straight.action(start, target)
    displacement = target - start
    # Parallel to the displacement, the larger component at full speed (or the whole way when within reach).
    np.testing.assert_allclose(action[:, 0] * displacement[:, 1], action[:, 1] * displacement[:, 0],
                               atol=1e-6)
    reach = np.abs(displacement).max(1)
    np.testing.assert_allclose(np.abs(action).max(1), np.minimum(reach, 0.1), rtol=1e-5)
    # Same number of steps to the target as clipping each axis.
    steps = {}
    for name, controller in (("straight", straight), ("clipped", clipped)):
        pos, count = start.copy(), np.zeros(200, dtype=int)
        for _ in range(30):
            moving = np.abs(target - pos).max(1) > 1e-6
            count += moving
            pos = pos + controller.action(pos, target)
        steps[name] = count
    np.testing.assert_array_equal(steps["straight"], steps["clipped"])
