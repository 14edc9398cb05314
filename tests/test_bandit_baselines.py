"""Tests of the classical bandit baselines (belief_rl.references.bandits)."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from gymnasium import spaces

from belief_rl.references import bandits
from belief_rl.references.bandits import (
    STRATEGIES,
    BanditHistory,
    BayesUCBStrategy,
    GittinsStrategy,
    GreedyStrategy,
    OracleStrategy,
    UCB1Strategy,
    argmax_random_ties,
    evaluate_strategies,
    finite_horizon_gittins_indices,
    format_table,
    make_strategy,
    run_strategy,
)

# Reference values of the strategies for K = 5, H = 10 (20,000 tasks, p ~ U(0, 1)).
REFERENCE_K5_H10 = {
    "oracle": 8.32,
    "gittins": 6.65,
    "bayes_ucb": 6.59,
    "greedy": 6.61,
    "thompson": 5.84,
    "ucb1": 5.68,
    "random": 4.98,
}


@pytest.fixture(autouse=True)
def _private_gittins_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    """Keep the on-disk Gittins cache of these tests out of the user's home."""
    monkeypatch.setenv("BELIEF_RL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gittins_cache"))
    finite_horizon_gittins_indices.cache_clear()
    yield
    finite_horizon_gittins_indices.cache_clear()


class FakeBanditVectorEnv:
    """Minimal stand-in for envs.bandit.BanditVectorEnv with the same reset/step contract.

    p ~ U(0, 1)^K per task and one uniform u[t] per pull drawn at reset (common random
    numbers); pays 1 iff u[t] < p[a]; every sub-env terminates at t = H.
    """

    def __init__(
        self, num_envs: int, num_arms: int = 20, horizon: int = 100, end_at: int | None = None
    ):
        self.num_envs = num_envs
        self.num_arms = num_arms
        self.horizon = horizon
        self.single_action_space = spaces.Discrete(num_arms)
        self.end_at = horizon if end_at is None else end_at
        self.reset_seeds: list[int | None] = []

    def reset(self, *, seed: int | None = None, options=None):
        self.reset_seeds.append(seed)
        rng = np.random.default_rng(seed)
        self._p = rng.uniform(0.0, 1.0, (self.num_envs, self.num_arms))
        self._u = rng.uniform(0.0, 1.0, (self.num_envs, self.horizon))
        self._t = 0
        return np.zeros((self.num_envs, 1), np.float32), {"task": self._p.copy()}

    def step(self, actions):
        actions = np.asarray(actions)
        assert actions.shape == (self.num_envs,) and np.issubdtype(actions.dtype, np.integer)
        assert self._t < self.horizon, "stepped after termination"
        rows = np.arange(self.num_envs)
        reward = (self._u[:, self._t] < self._p[rows, actions]).astype(np.float64)
        self._t += 1
        obs = np.full((self.num_envs, 1), self._t / self.horizon, np.float32)
        terminated = np.full(self.num_envs, self._t >= self.end_at)
        return obs, reward, terminated, np.zeros(self.num_envs, bool), {"task": self._p.copy()}

    def close(self) -> None:
        pass


def _real_env_factory():
    bandit = pytest.importorskip("envs.bandit")
    return bandit.BanditVectorEnv


# ----------------------------------------------------------------------------- history


def test_history_update_gives_exact_beta_posterior():
    h = BanditHistory.empty(2, 3, horizon=4)
    actions = [[0, 1], [0, 2], [2, 2], [0, 1]]
    rewards = [[1, 0], [0, 1], [1, 1], [1, 0]]
    for a, r in zip(actions, rewards):
        h.update(np.array(a), np.array(r, dtype=np.float64))
    assert h.step == 4
    np.testing.assert_array_equal(h.successes, [[2, 0, 1], [0, 0, 2]])
    np.testing.assert_array_equal(h.failures, [[1, 0, 0], [0, 2, 0]])
    alpha, beta = h.posterior_params()
    np.testing.assert_array_equal(alpha, [[3, 1, 2], [1, 1, 3]])
    np.testing.assert_array_equal(beta, [[2, 1, 1], [1, 3, 1]])
    np.testing.assert_allclose(h.posterior_mean(), alpha / (alpha + beta))
    with pytest.raises(RuntimeError):
        h.update(np.array([0, 0]), np.array([1, 1]))


def test_history_rejects_bad_input():
    h = BanditHistory.empty(2, 3, horizon=5)
    with pytest.raises(ValueError):
        h.update(np.array([0, 3]), np.array([1, 0]))
    with pytest.raises(ValueError):
        h.update(np.array([0, 1]), np.array([0.5, 0]))
    with pytest.raises(ValueError):
        h.update(np.array([0]), np.array([1]))
    assert h.step == 0 and h.pulls.sum() == 0


# ----------------------------------------------------------------------------- Gittins


def _bruteforce_index(s: int, f: int, m: int) -> float:
    """Calibration index by scalar bisection on a direct recursive value function."""

    def pull_minus_retire(lam: float) -> float:
        @functools.cache
        def value(a: int, b: int, k: int) -> float:
            if k == 0:
                return 0.0
            return max(k * lam, pull(a, b, k))

        def pull(a: int, b: int, k: int) -> float:
            p = a / (a + b)
            return p * (1.0 + value(a + 1, b, k - 1)) + (1.0 - p) * value(a, b + 1, k - 1)

        return pull(1 + s, 1 + f, m) - m * lam

    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if pull_minus_retire(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def test_gittins_table_shape_and_domain():
    H = 8
    g = finite_horizon_gittins_indices(H)
    assert g.shape == (H + 1, H + 1, H + 1) and g.dtype == np.float64
    m, s, f = np.ogrid[: H + 1, : H + 1, : H + 1]
    defined = (m >= 1) & (s + f <= H - m)
    assert np.isfinite(g[defined]).all() and np.isnan(g[~defined]).all()
    assert not g.flags.writeable  # shared through the in-memory cache


def test_gittins_with_one_pull_left_is_posterior_mean():
    H = 12
    g = finite_horizon_gittins_indices(H)
    s, f = np.meshgrid(np.arange(H + 1), np.arange(H + 1), indexing="ij")
    ok = s + f <= H - 1
    np.testing.assert_allclose(g[1][ok], ((1 + s) / (2 + s + f))[ok], atol=1e-10)


def test_gittins_exceeds_mean_and_grows_with_remaining_pulls():
    H = 15
    g = finite_horizon_gittins_indices(H)
    for m in range(2, H + 1):
        for s in range(H - m + 1):
            f = np.arange(H - m - s + 1)
            mean = (1 + s) / (2 + s + f)
            # Information has positive value whenever more than one pull remains.
            assert np.all(g[m, s, f] > mean + 1e-6)
            assert np.all(g[m, s, f] > g[m - 1, s, f] + 1e-9)
    assert g[H, 0, 0] < 1.0


def test_gittins_matches_bruteforce_all_states_small_horizon():
    H = 6
    g = finite_horizon_gittins_indices(H)
    for m in range(1, H + 1):
        for s in range(H - m + 1):
            for f in range(H - m - s + 1):
                # The tangent refinement is exact with few kinks; chord interpolation is not.
                assert g[m, s, f] == pytest.approx(_bruteforce_index(s, f, m), abs=1e-7), (m, s, f)


def test_gittins_matches_bruteforce_longer_horizon():
    # Deeper states have many kinks in D(lambda): this checks the grid refinement.
    H = 30
    g = finite_horizon_gittins_indices(H)
    for m, s, f in [(30, 0, 0), (25, 2, 3), (20, 0, 10), (12, 9, 4), (7, 1, 20)]:
        assert g[m, s, f] == pytest.approx(_bruteforce_index(s, f, m), abs=1e-7), (m, s, f)


def test_gittins_disk_cache_roundtrip_and_corruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("BELIEF_RL_CACHE_DIR", str(tmp_path))
    finite_horizon_gittins_indices.cache_clear()
    fresh = finite_horizon_gittins_indices(5)
    path = tmp_path / "gittins_H5_v1.npz"
    assert path.is_file()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left behind

    # A second process would load from disk instead of recomputing.
    def no_compute(*args, **kwargs):
        raise AssertionError("should have loaded the disk cache")

    finite_horizon_gittins_indices.cache_clear()
    with monkeypatch.context() as mp:
        mp.setattr(bandits, "_compute_gittins_table", no_compute)
        np.testing.assert_array_equal(finite_horizon_gittins_indices(5), fresh)

    # Corrupt and wrong-shaped files are recomputed and rewritten, never fatal.
    for bad in (b"not a zip file", None):
        if bad is None:
            np.savez(path, indices=np.zeros((3, 3, 3)), horizon=5, version=1, grid_points=2001)
        else:
            path.write_bytes(bad)
        finite_horizon_gittins_indices.cache_clear()
        with pytest.warns(UserWarning, match="Gittins cache"):
            again = finite_horizon_gittins_indices(5)
        np.testing.assert_array_equal(again, fresh)
        with np.load(path) as data:
            np.testing.assert_array_equal(data["indices"], fresh)


def test_gittins_strategy_uses_remaining_pulls():
    H = 10
    g = finite_horizon_gittins_indices(H)
    h = BanditHistory.empty(1, 2, H)
    h.successes[:] = [[1, 0]]
    h.failures[:] = [[1, 2]]
    h.step = 4
    np.testing.assert_array_equal(GittinsStrategy().index(h), [[g[6, 1, 1], g[6, 0, 2]]])


# ----------------------------------------------------------------------------- other strategies


def test_bayes_ucb_quantile_matches_scipy():
    rng = np.random.default_rng(3)
    step = 37
    for n in (3, 400):  # direct evaluation and the tabulated path
        pulls = rng.multinomial(step, np.full(5, 0.2), size=n)
        s = rng.binomial(pulls, 0.6)
        h = BanditHistory(successes=s, failures=pulls - s, step=step, horizon=100)
        expected = scipy.stats.beta.ppf(1.0 - 1.0 / (step + 1), 1 + s, 1 + pulls - s)
        np.testing.assert_allclose(BayesUCBStrategy().index(h), expected, rtol=1e-9)


def test_ucb1_pulls_every_arm_once_then_uses_bound():
    env = FakeBanditVectorEnv(200, num_arms=4, horizon=20)
    env.reset(seed=0)
    h = BanditHistory.empty(200, 4, 20)
    rng = np.random.default_rng(0)
    strategy = UCB1Strategy()
    for _ in range(4):
        a = strategy.select(h, rng)
        h.update(a, env.step(a)[1])
    np.testing.assert_array_equal(h.pulls, 1)
    expected = h.successes / h.pulls + np.sqrt(2 * math.log(4) / h.pulls)
    np.testing.assert_allclose(strategy.index(h), expected)


def test_oracle_needs_task_and_picks_best_arm():
    h = BanditHistory.empty(2, 3, 5)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        OracleStrategy().select(h, rng)
    task = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]])
    np.testing.assert_array_equal(OracleStrategy().select(h, rng, task), [1, 0])


def test_argmax_random_ties_spreads_exact_ties_only():
    rng = np.random.default_rng(0)
    values = np.tile([0.1, 0.3, 0.3, 0.2, 0.3 - 1e-15], (6000, 1))
    counts = np.bincount(argmax_random_ties(values, rng), minlength=5)
    assert counts[[0, 3, 4]].sum() == 0  # a 1e-15 gap is not a tie
    assert abs(counts[1] - 3000) < 250 and abs(counts[2] - 3000) < 250
    distinct = rng.random((1000, 7))
    np.testing.assert_array_equal(argmax_random_ties(distinct, rng), distinct.argmax(axis=1))
    with pytest.raises(ValueError):
        argmax_random_ties(np.array([[np.nan, 1.0]]), rng)


@pytest.mark.parametrize("name", ["greedy", "bayes_ucb", "gittins", "ucb1", "thompson", "random"])
def test_first_pull_is_uniform_over_arms(name: str):
    n, k = 20_000, 5
    h = BanditHistory.empty(n, k, horizon=10)
    counts = np.bincount(make_strategy(name).select(h, np.random.default_rng(1)), minlength=k)
    # All posteriors are equal before the first pull; 6 binomial s.d. is about 340.
    assert np.all(np.abs(counts - n / k) < 6 * math.sqrt(n * 0.2 * 0.8)), counts


def test_registry_names():
    assert set(STRATEGIES) == {
        "random", "greedy", "thompson", "bayes_ucb", "ucb1", "gittins", "oracle"
    }
    for name, factory in STRATEGIES.items():
        assert factory().name == name
    with pytest.raises(ValueError, match="unknown bandit strategy"):
        make_strategy("epsilon_greedy")


# ----------------------------------------------------------------------------- evaluation


def test_run_strategy_plays_exactly_one_meta_episode():
    env = FakeBanditVectorEnv(50, num_arms=3, horizon=7)
    returns = run_strategy(GreedyStrategy(), env, seed=4)
    assert returns.shape == (50,) and np.all((returns >= 0) & (returns <= 7))
    with pytest.raises(RuntimeError, match="ended the meta-episode"):
        run_strategy(GreedyStrategy(), FakeBanditVectorEnv(5, 3, horizon=7, end_at=3), seed=0)
    with pytest.raises(RuntimeError, match="did not end"):
        run_strategy(GreedyStrategy(), FakeBanditVectorEnv(5, 3, horizon=7, end_at=99), seed=0)


def test_evaluate_chunks_share_tasks_across_strategies():
    made: list[FakeBanditVectorEnv] = []

    def make_env(n, num_arms, horizon):
        made.append(FakeBanditVectorEnv(n, num_arms, horizon))
        return made[-1]

    res = evaluate_strategies(
        ["oracle", "random"], 4, 6, num_tasks=23, seed=100, make_env=make_env, chunk_size=10
    )
    assert [e.num_envs for e in made] == [10, 3]
    assert made[0].reset_seeds == [100, 100, 110, 110] and made[1].reset_seeds == [120, 120]
    for r in res.values():
        assert r["num_tasks"] == 23 and r["seed"] == 100 and r["stderr"] > 0
    assert res["oracle"]["mean"] > res["random"]["mean"]


def test_format_table_sorted_by_mean():
    res = {
        "random": {"mean": 5.0, "stderr": 0.01, "num_tasks": 10, "seed": 0},
        "oracle": {"mean": 8.3, "stderr": 0.02, "num_tasks": 10, "seed": 0},
        "greedy": {"mean": 6.6, "stderr": 0.02, "num_tasks": 10, "seed": 0},
    }
    lines = format_table(res).splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["oracle", "greedy", "random"]
    assert "8.30 ±" in lines[1]


@pytest.mark.parametrize("env_kind", ["fake", "real"])
def test_reference_numbers_k5_h10(env_kind: str):
    make_env = FakeBanditVectorEnv if env_kind == "fake" else _real_env_factory()
    res = evaluate_strategies(
        list(REFERENCE_K5_H10), 5, 10, num_tasks=20_000, seed=0, make_env=make_env
    )
    for name, ref in REFERENCE_K5_H10.items():
        r = res[name]
        assert abs(r["mean"] - ref) < 3 * r["stderr"], (name, r["mean"], r["stderr"], ref)


def test_gittins_beats_greedy_on_common_random_numbers():
    # Paired on the same tasks and noise, the 0.03 gap is about five paired s.e.
    env = FakeBanditVectorEnv(20_000, num_arms=5, horizon=10)
    gittins = run_strategy(GittinsStrategy(), env, seed=7)
    diff = gittins - run_strategy(GreedyStrategy(), env, seed=7)
    assert diff.mean() > 2 * diff.std() / math.sqrt(diff.size)


def test_real_env_results_do_not_depend_on_chunking():
    make_env = _real_env_factory()
    # Sub-env i is seeded with seed + i, so task i is the same whatever the chunk size.
    a, b = (
        evaluate_strategies(["oracle"], 4, 5, num_tasks=30, seed=3, make_env=make_env, chunk_size=c)
        for c in (7, 30)
    )
    assert a["oracle"]["mean"] == b["oracle"]["mean"]
    assert a["oracle"]["stderr"] == b["oracle"]["stderr"]
