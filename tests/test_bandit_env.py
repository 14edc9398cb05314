"""Tests of Bandit-v0: the single env, the natively batched env, task sets, registration."""

from __future__ import annotations

import importlib
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import check_env

from belief_rl import envs
from belief_rl.envs.bandit import BanditEnv, BanditVectorEnv
from belief_rl.envs.task_specs import BetaTask, TaskSet, bandit_task_set

from env_checks import assert_matches_sync_vector_env  # tests/ helper

BANDIT_IDS = [i for i in envs.registered_ids() if i.startswith("belief_rl/Bandit")]


def test_all_three_bandits_registered() -> None:
    assert set(BANDIT_IDS) >= {
        "belief_rl/Bandit-v0",
        "belief_rl/Bandit-K10-H100-v0",
        "belief_rl/Bandit-K5-H10-v0",
    }
    assert envs.env_spec_kwargs("belief_rl/Bandit-v0") == {"num_arms": 20, "horizon": 100}
    assert envs.env_spec_kwargs("belief_rl/Bandit-K5-H10-v0") == {"num_arms": 5, "horizon": 10}


def test_reimport_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(envs)


@pytest.mark.parametrize("env_id", BANDIT_IDS)
def test_check_env_passes(env_id: str) -> None:
    env = gymnasium.make(env_id)
    kwargs = envs.env_spec_kwargs(env_id)
    assert env.unwrapped.num_arms == kwargs["num_arms"]
    assert env.unwrapped.horizon == kwargs["horizon"]
    assert env.unwrapped.task_spec == BetaTask(kwargs["num_arms"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    assert [str(w.message) for w in caught] == []


def _expected_rewards(seed: int, num_arms: int, horizon: int, actions: np.ndarray) -> np.ndarray:
    """The documented contract: task drawn first, then one uniform per pull."""
    rng, _ = seeding.np_random(seed)
    p = rng.uniform(0.0, 1.0, num_arms)
    u = rng.uniform(0.0, 1.0, horizon)
    return (u < p[actions]).astype(np.float64)


def test_rewards_follow_common_random_numbers_rule() -> None:
    env = BanditEnv(num_arms=5, horizon=10)
    actions = np.random.default_rng(1).integers(5, size=10)
    for seed in (0, 7, 123):
        env.reset(seed=seed)
        rewards = [env.step(int(a))[1] for a in actions]
        np.testing.assert_array_equal(rewards, _expected_rewards(seed, 5, 10, actions))


def test_deterministic_arms_single_and_vector() -> None:
    task = np.array([0.0, 1.0, 0.5, 0.5, 0.5])
    env = BanditEnv(num_arms=5, horizon=10)
    for seed in range(5):
        env.reset(seed=seed, options={"task": task})
        for t in range(10):
            _, reward, *_ = env.step(t % 2)
            assert reward == float(t % 2)
    venv = BanditVectorEnv(4, num_arms=5, horizon=10)
    venv.reset(seed=0, options={"task": task})
    for _ in range(10):
        _, rewards, *_ = venv.step(np.array([0, 1, 0, 1]))
        np.testing.assert_array_equal(rewards, [0.0, 1.0, 0.0, 1.0])


def test_empirical_arm_means_match_task() -> None:
    task = np.array([0.2, 0.5, 0.9])
    venv = BanditVectorEnv(3000, num_arms=3, horizon=10)
    venv.reset(seed=0, options={"task": task})
    actions = np.arange(3000) % 3
    total = np.zeros(3000)
    for _ in range(10):
        total += venv.step(actions)[1]
    means = [total[actions == k].mean() / 10 for k in range(3)]
    np.testing.assert_allclose(means, task, atol=0.02)  # ~4 standard errors


def test_prior_tasks_are_uniform() -> None:
    venv = BanditVectorEnv(2000, num_arms=4, horizon=1)
    _, info = venv.reset(seed=3)
    assert info["task"].shape == (2000, 4) and info["task"].dtype == np.float64
    assert abs(info["task"].mean() - 0.5) < 0.02
    assert len(np.unique(info["task"][:, 0])) == 2000  # sub-envs draw independent tasks


def test_observation_time_and_termination() -> None:
    env = BanditEnv(num_arms=3, horizon=4)
    with pytest.raises(RuntimeError):
        env.step(0)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (1,) and obs[0] == 0.0
    for t in range(1, 5):
        obs, reward, terminated, truncated, info = env.step(0)
        assert obs[0] == np.float32(t / 4)
        assert terminated == (t == 4) and truncated is False
        assert reward in (0.0, 1.0) and isinstance(reward, float)
        assert info["task"].shape == (3,)
    with pytest.raises(RuntimeError):
        env.step(0)
    with pytest.raises(ValueError):
        env.reset(seed=0)
        env.step(3)


def _run_single(seed: int, actions: np.ndarray, num_arms: int, horizon: int, **kwargs):
    """Two meta-episodes of BanditEnv: seeded reset, then an unseeded one."""
    env = BanditEnv(num_arms=num_arms, horizon=horizon, **kwargs)
    obs, info = env.reset(seed=seed)
    trace = [(obs, 0.0, False, False, info["task"])]
    for step, a in enumerate(actions):
        if step == horizon:  # the step NEXT_STEP spends on the autoreset
            obs, info = env.reset()
            trace.append((obs, 0.0, False, False, info["task"]))
            continue
        obs, r, term, trunc, info = env.step(int(a))
        trace.append((obs, r, term, trunc, info["task"]))
    return trace


@pytest.mark.parametrize("kwargs", [{}, {"num_tasks": 3, "task_seed": 5}])
def test_batched_equals_single_over_two_meta_episodes(kwargs: dict) -> None:
    n, num_arms, horizon, seed = 5, 4, 6, 11
    actions = np.random.default_rng(0).integers(num_arms, size=(2 * horizon + 1, n))
    venv = BanditVectorEnv(n, num_arms=num_arms, horizon=horizon, **kwargs)
    obs, info = venv.reset(seed=seed)
    batched = [(obs, np.zeros(n), np.zeros(n, bool), np.zeros(n, bool), info["task"])]
    for a in actions:
        obs, r, term, trunc, info = venv.step(a)
        assert obs.shape == (n, 1) and obs.dtype == np.float32
        assert r.shape == (n,) and term.dtype == bool and trunc.dtype == bool
        batched.append((obs, r, term, trunc, info["task"]))
    for i in range(n):
        single = _run_single(seed + i, actions[:, i], num_arms, horizon, **kwargs)
        assert len(single) == len(batched)
        for (so, sr, st, su, sp), (bo, br, bt, bu, bp) in zip(single, batched):
            np.testing.assert_array_equal(so, bo[i])
            assert sr == br[i] and st == bt[i] and su == bu[i]
            np.testing.assert_array_equal(sp, bp[i])
    # Both meta-episodes terminated at their last pull and the tasks changed between them.
    assert all(batched[horizon][2]) and all(batched[2 * horizon + 1][2])
    assert not np.array_equal(batched[1][4], batched[horizon + 1][4])


def test_batched_matches_gymnasium_sync_vector_env() -> None:
    """gymnasium's own NEXT_STEP implementation is the reference for autoreset."""
    n, horizon = 3, 4
    assert_matches_sync_vector_env(
        lambda: BanditEnv(num_arms=5, horizon=horizon), BanditVectorEnv(n, num_arms=5, horizon=horizon),
        np.random.default_rng(1).integers(5, size=(3 * horizon, n)), seed=2, info_keys=("task",),
    )


def test_vector_seeding_variants() -> None:
    a = BanditVectorEnv(3, num_arms=4, horizon=2)
    b = BanditVectorEnv(3, num_arms=4, horizon=2)
    np.testing.assert_array_equal(a.reset(seed=9)[1]["task"], b.reset(seed=[9, 10, 11])[1]["task"])
    c = BanditVectorEnv(3, num_arms=4, horizon=2)
    tasks = c.reset()[1]["task"]  # fresh entropy, independent sub-envs
    assert not np.array_equal(tasks[0], tasks[1])
    np.testing.assert_array_equal(c.tasks, tasks)
    with pytest.raises(ValueError):
        a.reset(seed=[1, 2])
    # An unseeded reset continues each sub-env's stream, like BanditEnv.reset().
    a.reset(seed=9)
    second = a.reset()[1]["task"]
    for i in range(3):
        env = BanditEnv(num_arms=4, horizon=2)
        env.reset(seed=9 + i)
        np.testing.assert_array_equal(env.reset()[1]["task"], second[i])


def test_reset_options_task_honoured() -> None:
    task = np.array([0.1, 0.2, 0.3])
    env = BanditEnv(num_arms=3, horizon=2)
    _, info = env.reset(seed=0, options={"task": task})
    np.testing.assert_array_equal(info["task"], task)
    np.testing.assert_array_equal(env.step(0)[4]["task"], task)
    tasks = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    venv = BanditVectorEnv(2, num_arms=3, horizon=2)
    _, info = venv.reset(seed=0, options={"task": tasks})
    np.testing.assert_array_equal(info["task"], tasks)
    np.testing.assert_array_equal(venv.step(np.array([0, 1]))[4]["task"], tasks)
    # With a given task only the noise is drawn, exactly as in the single env.
    env.reset(seed=4, options={"task": tasks[1]})
    venv.reset(seed=3, options={"task": tasks})
    for a in ([0, 2], [1, 1]):
        assert env.step(a[1])[1] == venv.step(np.array(a))[1][1]
    for bad in ([0.1, 0.2], [0.1, 0.2, 1.5], [np.nan, 0.2, 0.3]):
        with pytest.raises(ValueError):
            env.reset(options={"task": bad})
    with pytest.raises(ValueError):
        venv.reset(options={"task": np.ones((3, 3))})


def test_vector_rejects_bad_actions() -> None:
    venv = BanditVectorEnv(2, num_arms=3, horizon=2)
    with pytest.raises(RuntimeError):
        venv.step(np.array([0, 0]))
    venv.reset(seed=0)
    for bad in (np.array([0]), np.array([0, 3]), np.array([-1, 0]), np.array([0.0, 1.0])):
        with pytest.raises(ValueError):
            venv.step(bad)


def test_task_set_splits() -> None:
    ts = bandit_task_set(num_arms=4, num_train=10, num_validation=5, seed=0)
    assert ts.tasks("train").shape == (10, 4) and ts.tasks("validation").shape == (5, 4)
    pool = np.concatenate([ts.train, ts.validation])
    assert len(np.unique(pool, axis=0)) == 15  # disjoint splits
    np.testing.assert_array_equal(ts.train, bandit_task_set(4, 10, 5, 0).train)
    assert not np.array_equal(ts.train, bandit_task_set(4, 10, 5, 1).train)
    # Validation is independent of num_train and train sets are nested.
    bigger = bandit_task_set(4, 20, 5, 0)
    np.testing.assert_array_equal(bigger.validation, ts.validation)
    np.testing.assert_array_equal(bigger.train[:10], ts.train)
    with pytest.raises(ValueError, match="split"):
        ts.tasks("test")
    with pytest.raises(ValueError):
        ts.train[0, 0] = 0.5  # read-only
    assert isinstance(ts, TaskSet)


@pytest.mark.parametrize("split", ["train", "validation"])
def test_finite_task_set_only_pool_tasks(split: str) -> None:
    pool = bandit_task_set(3, 4, 6, seed=2).tasks(split)
    env = BanditEnv(num_arms=3, horizon=1, num_tasks=4, task_seed=2, split=split,
                    num_validation_tasks=6)
    seen = {tuple(env.reset(seed=s)[1]["task"]) for s in range(60)}
    assert seen == {tuple(row) for row in pool}  # every pool task, nothing else
    venv = BanditVectorEnv(60, num_arms=3, horizon=1, num_tasks=4, task_seed=2, split=split,
                           num_validation_tasks=6)
    assert {tuple(row) for row in venv.reset(seed=0)[1]["task"]} <= {tuple(r) for r in pool}


@pytest.mark.parametrize("cls", [BanditEnv, lambda **kw: BanditVectorEnv(2, **kw)])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_arms": 1},
        {"horizon": 0},
        {"num_tasks": 0},
        {"split": "test"},
        {"num_tasks": 3, "split": "validation", "num_validation_tasks": 0},
    ],
)
def test_invalid_constructor_args(cls, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        cls(**kwargs)


def test_vector_invalid_num_envs() -> None:
    with pytest.raises(ValueError):
        BanditVectorEnv(0)


def test_make_vector_env() -> None:
    venv = envs.make_vector_env("belief_rl/Bandit-K5-H10-v0", num_envs=3, num_tasks=2)
    assert isinstance(venv, BanditVectorEnv)
    assert venv.num_envs == 3 and venv.num_arms == 5 and venv.horizon == 10 and venv.num_tasks == 2
    assert venv.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.NEXT_STEP
    assert venv.observation_space.shape == (3, 1) and venv.task_spec == BetaTask(5)
    with pytest.raises(ValueError, match="belief_rl/Nope-v0"):
        envs.make_vector_env("belief_rl/Nope-v0", num_envs=2)
