"""Classical strategies for Bernoulli bandits (Bandit-v0), the bar a belief agent must reach.

Every strategy sees the same sufficient statistic a Bayesian agent would keep: per-arm
success and failure counts (:class:`BanditHistory`), whose exact posterior under the
uniform prior of Bandit-v0 is ``Beta(1 + s, 1 + f)`` per arm. Strategies are fully
vectorized over a batch of tasks and break exact ties uniformly at random.

The strongest of them is the finite-horizon Gittins index
(:func:`finite_horizon_gittins_indices`), computed once per horizon by the
calibration dynamic program and cached in memory and on disk.

Typical use::

    results = evaluate_strategies(["gittins", "greedy", "random"], num_arms=20,
                                  horizon=100, num_tasks=20_000, seed=0)
    print(format_table(results))
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy.special import betaincinv

from belief_rl import envs
from belief_rl.envs.bandit import BanditVectorEnv
from belief_rl.stats import summarize

__all__ = [
    "BanditHistory",
    "Strategy",
    "RandomStrategy",
    "GreedyStrategy",
    "ThompsonStrategy",
    "BayesUCBStrategy",
    "UCB1Strategy",
    "GittinsStrategy",
    "OracleStrategy",
    "STRATEGIES",
    "make_strategy",
    "argmax_random_ties",
    "finite_horizon_gittins_indices",
    "run_strategy",
    "evaluate_strategies",
    "format_table",
]

# Bump when the table's definition or accuracy changes, so stale disk caches are ignored.
_GITTINS_CACHE_VERSION = 1
# Grid over the calibration reward lambda in [0, 1]. With the tangent refinement below,
# 2001 points give indices within ~2e-6 of exact bisection at H = 100.
_GITTINS_GRID_POINTS = 2001
_CACHE_DIR_ENV = "BELIEF_RL_CACHE_DIR"


# --------------------------------------------------------------------------------------
# History: the sufficient statistic of a Bernoulli bandit under a Beta prior
# --------------------------------------------------------------------------------------


@dataclass
class BanditHistory:
    """Per-arm success/failure counts of a batch of ``n`` bandit tasks with ``K`` arms.

    Attributes:
        successes: int ``[n, K]``, rewards of 1 observed on each arm.
        failures: int ``[n, K]``, rewards of 0 observed on each arm.
        step: pulls made so far in the meta-episode (the same for every task).
        horizon: total pulls in the meta-episode ``H``.
    """

    successes: np.ndarray
    failures: np.ndarray
    step: int
    horizon: int

    def __post_init__(self) -> None:
        if self.successes.ndim != 2 or self.successes.shape != self.failures.shape:
            raise ValueError(
                "successes and failures must be [n, K] arrays of the same shape, got "
                f"{self.successes.shape} and {self.failures.shape}"
            )
        if not 0 <= self.step <= self.horizon:
            raise ValueError(f"step must lie in [0, horizon={self.horizon}], got {self.step}")

    @classmethod
    def empty(cls, n: int, num_arms: int, horizon: int) -> BanditHistory:
        """The history before the first pull of ``n`` tasks with ``num_arms`` arms."""
        if n < 1 or num_arms < 1 or horizon < 1:
            raise ValueError(f"n, num_arms, horizon must be >= 1, got {n}, {num_arms}, {horizon}")
        zeros = np.zeros((n, num_arms), dtype=np.int64)
        return cls(successes=zeros, failures=zeros.copy(), step=0, horizon=horizon)

    @property
    def num_envs(self) -> int:
        return self.successes.shape[0]

    @property
    def num_arms(self) -> int:
        return self.successes.shape[1]

    @property
    def pulls(self) -> np.ndarray:
        """Pulls per arm, int ``[n, K]``."""
        return self.successes + self.failures

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Record one pull per task: arm ``actions[i]`` paid ``rewards[i]`` in {0, 1}."""
        if self.step >= self.horizon:
            raise RuntimeError(
                f"the meta-episode is over: {self.step} of {self.horizon} pulls made"
            )
        actions = np.asarray(actions)
        rewards = np.asarray(rewards)
        n, k = self.successes.shape
        if actions.shape != (n,) or rewards.shape != (n,):
            raise ValueError(
                f"actions and rewards must have shape ({n},), got {actions.shape}, {rewards.shape}"
            )
        if np.any((actions < 0) | (actions >= k)):
            raise ValueError(f"actions must lie in [0, {k})")
        if not np.all((rewards == 0) | (rewards == 1)):
            raise ValueError("rewards must be 0 or 1 (Bernoulli bandit)")
        hit = rewards.astype(np.int64)
        rows = np.arange(n)
        # One action per row, so (row, action) pairs are distinct and += does not drop updates.
        self.successes[rows, actions] += hit
        self.failures[rows, actions] += 1 - hit
        self.step += 1

    def posterior_params(
        self, prior_a: float = 1.0, prior_b: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Beta posterior ``(alpha, beta)`` per arm, float ``[n, K]`` each.

        With the default uniform prior this is the exact posterior of Bandit-v0.
        """
        return prior_a + self.successes.astype(np.float64), prior_b + self.failures.astype(
            np.float64
        )

    def posterior_mean(self, prior_a: float = 1.0, prior_b: float = 1.0) -> np.ndarray:
        """Posterior mean success probability per arm, float ``[n, K]``."""
        a, b = self.posterior_params(prior_a, prior_b)
        return a / (a + b)


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------


@runtime_checkable
class Strategy(Protocol):
    """What every bandit strategy provides."""

    name: str

    def select(
        self, history: BanditHistory, rng: np.random.Generator, task: np.ndarray | None = None
    ) -> np.ndarray:
        """Arms to pull next, int ``[n]``; only oracles may read ``task`` (``[n, K]``)."""
        ...


def argmax_random_ties(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise argmax of ``values [n, K]``, choosing uniformly among exactly tied maxima.

    Only rows that actually have ties consume random numbers, and non-tied orderings are
    never changed (no noise is added to the values themselves).
    """
    best = values.max(axis=1, keepdims=True)
    if np.isnan(best).any():
        raise ValueError("strategy values contain NaN")
    tied = values == best
    choice = tied.argmax(axis=1)
    rows = np.flatnonzero(tied.sum(axis=1) > 1)
    if rows.size:
        keys = rng.random((rows.size, values.shape[1]))
        keys[~tied[rows]] = -1.0
        choice[rows] = keys.argmax(axis=1)
    return choice


class RandomStrategy:
    """Pull an arm uniformly at random: the floor (expected return H/2 under p ~ U(0, 1))."""

    name = "random"

    def select(
        self, history: BanditHistory, rng: np.random.Generator, task: np.ndarray | None = None
    ) -> np.ndarray:
        return rng.integers(0, history.num_arms, size=history.num_envs)


class IndexStrategy:
    """A strategy that pulls the arm with the largest index (ties broken uniformly at random)."""

    name: str

    def index(self, history: BanditHistory) -> np.ndarray:
        """One index per arm, float ``[n, K]``."""
        raise NotImplementedError

    def select(
        self, history: BanditHistory, rng: np.random.Generator, task: np.ndarray | None = None
    ) -> np.ndarray:
        return argmax_random_ties(self.index(history), rng)


class GreedyStrategy(IndexStrategy):
    """Pull the arm with the highest posterior mean (no deliberate exploration)."""

    name = "greedy"

    def index(self, history: BanditHistory) -> np.ndarray:
        """Posterior means, float ``[n, K]``."""
        return history.posterior_mean()


class ThompsonStrategy:
    """Thompson sampling: pull the arm whose Beta posterior sample is largest."""

    name = "thompson"

    def select(
        self, history: BanditHistory, rng: np.random.Generator, task: np.ndarray | None = None
    ) -> np.ndarray:
        a, b = history.posterior_params()
        return argmax_random_ties(rng.beta(a, b), rng)


class BayesUCBStrategy(IndexStrategy):
    """Bayes-UCB (Kaufmann et al., 2012): the ``1 - 1/t`` posterior quantile, ``t = step + 1``.

    At ``t = 1`` the level is 0 and every arm's quantile is 0, so the first pull is a tie
    broken uniformly at random (as it must be: all posteriors are equal then).
    """

    name = "bayes_ucb"

    def index(self, history: BanditHistory) -> np.ndarray:
        """Posterior quantiles at level ``1 - 1/(step + 1)``, float ``[n, K]``."""
        level = 1.0 - 1.0 / (history.step + 1)
        states = int(max(history.successes.max(), history.failures.max())) + 1
        if states * states < history.successes.size:
            # betaincinv is slow; with many tasks, tabulate it once per (s, f) and gather.
            # Same function values as the direct call, so results are identical.
            counts = np.arange(1.0, states + 1.0)
            quantiles = betaincinv(counts[:, None], counts[None, :], level)
            return quantiles[history.successes, history.failures]
        a, b = history.posterior_params()
        return betaincinv(a, b, level)


class UCB1Strategy(IndexStrategy):
    """UCB1 (Auer et al., 2002): pull each arm once, then ``mean + sqrt(2 ln t / n_k)``.

    ``mean`` is the empirical mean of the arm and ``t`` the number of pulls made so far.
    """

    name = "ucb1"

    def index(self, history: BanditHistory) -> np.ndarray:
        """Upper confidence bounds, float ``[n, K]``; ``+inf`` for arms never pulled."""
        pulls = history.pulls
        t = max(history.step, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ucb = history.successes / pulls + np.sqrt(2.0 * math.log(t) / pulls)
        # Unpulled arms come first; +inf ties spread the initial round uniformly.
        ucb[pulls == 0] = np.inf
        return ucb


class GittinsStrategy(IndexStrategy):
    """Pull the arm with the largest finite-horizon Gittins index.

    At step ``t`` an arm with counts ``(s, f)`` gets index ``G[H - t, s, f]`` from
    :func:`finite_horizon_gittins_indices`: the calibration index for the ``H - t`` pulls
    that remain in the meta-episode.
    """

    name = "gittins"

    def __init__(self) -> None:
        self._horizon: int | None = None
        self._table: np.ndarray | None = None

    def index(self, history: BanditHistory) -> np.ndarray:
        """Gittins indices of every arm for the pulls that remain, float ``[n, K]``."""
        if self._horizon != history.horizon:
            self._table = finite_horizon_gittins_indices(history.horizon)
            self._horizon = history.horizon
        assert self._table is not None
        remaining = history.horizon - history.step
        if remaining < 1:
            raise RuntimeError("no pulls remain in the meta-episode")
        return self._table[remaining][history.successes, history.failures]


class OracleStrategy:
    """Pull the arm with the highest true success probability (reads the privileged task)."""

    name = "oracle"

    def select(
        self, history: BanditHistory, rng: np.random.Generator, task: np.ndarray | None = None
    ) -> np.ndarray:
        if task is None:
            raise ValueError("OracleStrategy needs the task (arm probabilities, [n, K])")
        task = np.asarray(task, dtype=np.float64)
        if task.shape != history.successes.shape:
            raise ValueError(f"task must have shape {history.successes.shape}, got {task.shape}")
        return argmax_random_ties(task, rng)


STRATEGIES: dict[str, Callable[[], Strategy]] = {
    cls.name: cls
    for cls in (
        RandomStrategy,
        GreedyStrategy,
        ThompsonStrategy,
        BayesUCBStrategy,
        UCB1Strategy,
        GittinsStrategy,
        OracleStrategy,
    )
}


def make_strategy(name: str) -> Strategy:
    """A fresh strategy from :data:`STRATEGIES` by name."""
    try:
        factory = STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown bandit strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}"
        ) from None
    return factory()


# --------------------------------------------------------------------------------------
# Finite-horizon Gittins index (calibration dynamic program)
# --------------------------------------------------------------------------------------


def _defined_mask(horizon: int) -> np.ndarray:
    """Where the ``[m, s, f]`` table is defined: ``m >= 1`` and ``s + f <= H - m``."""
    m, s, f = np.ogrid[: horizon + 1, : horizon + 1, : horizon + 1]
    return (m >= 1) & (s + f <= horizon - m)


def _compute_gittins_table(horizon: int, grid_points: int = _GITTINS_GRID_POINTS) -> np.ndarray:
    """Finite-horizon Gittins indices for the Beta(1, 1) prior, ``[m, s, f]``, NaN elsewhere.

    Calibration: an arm in posterior state ``Beta(a, b)`` with ``m`` pulls left is compared
    with a known arm paying ``lam`` per pull. Writing ``W = V - m * lam`` (the value of the
    option to pull over retiring at once), the Bellman equation becomes

        D_m(s, f; lam) = p + W_{m-1}(s, f+1) + p * (W_{m-1}(s+1, f) - W_{m-1}(s, f+1)) - lam,
        W_m(s, f; lam) = max(D_m, 0),   W_0 = 0,   p = (1 + s) / (2 + s + f),

    and the index is the root of ``D_m`` in ``lam``, which is unique because D is strictly
    decreasing (slope <= -1). D is convex and piecewise linear in ``lam``, so we solve the DP
    on a grid of ``lam`` for all states at once, carry the exact slope dD/dlam alongside,
    and take the larger root of the two tangents at the bracketing grid points: that is
    exact when the bracket contains at most one kink and a (tight) lower bound otherwise.

    The state ``(m, s, f)`` only depends on states with ``m + s + f`` equal to its own,
    so the DP runs along independent chains of constant ``c = m + s + f``; each works on
    arrays of at most ``(c + 1) x grid`` floats, which stay in cache. The index does not
    depend on ``horizon`` except through which states exist.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    lam = np.linspace(0.0, 1.0, grid_points)
    table = np.full((horizon + 1, horizon + 1, horizon + 1), np.nan)
    for c in range(1, horizon + 1):
        value = np.zeros((c + 1, grid_points))  # W on the diagonal s + f = c - m + 1, at m - 1
        slope = np.zeros((c + 1, grid_points))  # dW/dlam there
        for m in range(1, c + 1):
            n = c - m  # pulls already made on the arm: s + f = n, s = 0..n
            s = np.arange(n + 1)
            p = ((1.0 + s) / (2.0 + n))[:, None]
            w_fail, w_succ = value[:-1], value[1:]
            d = w_succ - w_fail
            d += 1.0
            d *= p
            d += w_fail
            d -= lam
            pull = d > 0
            # D(0) >= p > 0 and D(1) <= p - 1 < 0, so 1 <= j <= grid_points - 1.
            j = np.count_nonzero(pull, axis=1)
            g_fail = slope[:-1]
            g = slope[1:] - g_fail
            g *= p
            g += g_fail
            g -= 1.0
            lo, hi = lam[j - 1], lam[j]
            root_lo = lo - d[s, j - 1] / g[s, j - 1]
            root_hi = hi - d[s, j] / g[s, j]
            table[m, s, n - s] = np.clip(np.maximum(root_lo, root_hi), lo, hi)
            np.maximum(d, 0.0, out=d)
            g *= pull
            value, slope = d, g
    return table


def _cache_path(horizon: int) -> Path:
    default = os.path.join(os.path.expanduser("~"), ".cache", "belief_rl")
    root = os.environ.get(_CACHE_DIR_ENV) or default
    return Path(root) / f"gittins_H{horizon}_v{_GITTINS_CACHE_VERSION}.npz"


def _load_table(path: Path, horizon: int) -> np.ndarray | None:
    """The cached table at ``path`` if present and valid; None (with a warning if corrupt) else."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            table = np.asarray(data["indices"], dtype=np.float64)
            meta = (int(data["horizon"]), int(data["version"]), int(data["grid_points"]))
        mask = _defined_mask(horizon)
        expected = (horizon, _GITTINS_CACHE_VERSION, _GITTINS_GRID_POINTS)
        # A truncated or hand-edited file must never feed the strategy garbage.
        valid = (
            meta == expected
            and table.shape == (horizon + 1,) * 3
            and np.isnan(table[~mask]).all()
            and np.all((table[mask] > 0.0) & (table[mask] < 1.0))
        )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"ignoring unreadable Gittins cache {path}: {exc!r}", stacklevel=3)
        return None
    if not valid:
        warnings.warn(f"ignoring invalid Gittins cache {path}", stacklevel=3)
        return None
    return table


def _save_table(path: Path, table: np.ndarray, horizon: int) -> None:
    """Write atomically (temp file in the same directory, fsync, rename); never raise."""
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(
                fh,
                indices=table,
                horizon=np.int64(horizon),
                version=np.int64(_GITTINS_CACHE_VERSION),
                grid_points=np.int64(_GITTINS_GRID_POINTS),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        # A read-only home must not stop evaluation; the table is simply recomputed next time.
        warnings.warn(f"could not write Gittins cache {path}: {exc!r}", stacklevel=3)
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


@functools.lru_cache(maxsize=8)
def finite_horizon_gittins_indices(horizon: int) -> np.ndarray:
    """Finite-horizon Gittins indices of Bernoulli arms under the uniform Beta(1, 1) prior.

    Returns a read-only float64 array ``G`` of shape ``[H + 1, H + 1, H + 1]`` indexed
    ``[m, s, f]``: the index of an arm with ``s`` successes and ``f`` failures when ``m``
    pulls remain in the meta-episode. Defined where ``m >= 1`` and ``s + f <= H - m``
    (NaN elsewhere). ``G[1, s, f]`` is the posterior mean ``(1 + s) / (2 + s + f)``, and
    the index grows with ``m``. Within ~1e-5 of exact bisection (measured <= 3e-6 at
    H = 100; see :func:`_compute_gittins_table`).

    Cached in memory and on disk at ``~/.cache/belief_rl/gittins_H{H}_v1.npz`` (directory
    overridable with ``$BELIEF_RL_CACHE_DIR``); an unreadable cache file is recomputed.
    Building the table for H = 100 takes about 2.5 s on one core.
    """
    horizon = int(horizon)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    path = _cache_path(horizon)
    table = _load_table(path, horizon)
    if table is None:
        table = _compute_gittins_table(horizon)
        _save_table(path, table, horizon)
    table.setflags(write=False)  # shared through the lru_cache: callers must not edit it
    return table


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------

# Distinguishes the strategy's random stream from the env's, which is seeded with the
# same integer (gymnasium seeds sub-env i with seed + i).
_STRATEGY_STREAM = 0x5EED


def run_strategy(strategy: Strategy, env: Any, seed: int) -> np.ndarray:
    """Play one meta-episode of ``env.horizon`` pulls in every sub-env; total returns ``[n]``.

    ``env`` is a batched bandit (e.g. :class:`belief_rl.envs.bandit.BanditVectorEnv`) reset here with
    ``seed``. The strategy's own randomness (tie-breaking, Thompson samples) comes from a
    generator derived from ``seed`` but independent of the env's streams.
    """
    _, info = env.reset(seed=seed)
    task = np.asarray(info["task"], dtype=np.float64)
    num_envs = int(env.num_envs)
    num_arms = int(env.single_action_space.n)
    horizon = int(env.horizon)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STRATEGY_STREAM,)))
    history = BanditHistory.empty(num_envs, num_arms, horizon)
    returns = np.zeros(num_envs, dtype=np.float64)
    for t in range(horizon):
        actions = strategy.select(history, rng, task)
        _, reward, terminated, truncated, _ = env.step(actions)
        reward = np.asarray(reward)
        returns += reward
        history.update(actions, reward)
        done = np.asarray(terminated) | np.asarray(truncated)
        # Stepping past an early end would silently play an autoreset task.
        if t < horizon - 1 and done.any():
            raise RuntimeError(f"env ended the meta-episode after {t + 1} of {horizon} pulls")
    if not done.all():
        raise RuntimeError(f"env did not end the meta-episode after {horizon} pulls")
    return returns


def evaluate_strategies(
    names: Sequence[str],
    num_arms: int,
    horizon: int,
    num_tasks: int,
    seed: int,
    make_env: Callable[..., Any] | None = None,
    chunk_size: int = 5000,
) -> dict[str, dict[str, Any]]:
    """Mean return and standard error of each strategy on the same ``num_tasks`` tasks.

    Tasks are played in chunks of ``chunk_size`` environments, chunk ``k`` reset with seed
    ``seed + k * chunk_size``: since the env seeds sub-env ``i`` with ``seed + i``, task
    ``i`` always gets seed ``seed + i``, whatever the chunking. Every strategy replays the
    same seeds and therefore the same tasks and reward noise (common random numbers).

    Args:
        names: Keys of :data:`STRATEGIES`.
        make_env: ``make_env(num_envs, num_arms=..., horizon=...)`` returning a batched
            bandit env; defaults to :class:`belief_rl.envs.bandit.BanditVectorEnv`.

    Returns:
        ``{name: {"mean", "stderr", "num_tasks", "seed"}}`` in the order of ``names``.
    """
    if num_tasks < 1 or chunk_size < 1:
        raise ValueError(f"num_tasks and chunk_size must be >= 1, got {num_tasks}, {chunk_size}")
    strategies = {name: make_strategy(name) for name in names}
    if make_env is None:
        make_env = BanditVectorEnv
    returns: dict[str, list[np.ndarray]] = {name: [] for name in strategies}
    env = None
    for offset in range(0, num_tasks, chunk_size):
        n = min(chunk_size, num_tasks - offset)
        if env is None or env.num_envs != n:
            if env is not None:
                env.close()
            env = make_env(n, num_arms=num_arms, horizon=horizon)
        for name, strategy in strategies.items():
            returns[name].append(run_strategy(strategy, env, seed + offset))
    if env is not None:
        env.close()

    results: dict[str, dict[str, Any]] = {}
    for name, chunks in returns.items():
        results[name] = {**summarize(np.concatenate(chunks)), "seed": seed}
    return results


def bandit_reference_returns(env_id: str, num_tasks: int, seed: int, env_kwargs: dict[str, Any] | None = None,
                             names: Sequence[str] | None = None,
                             chunk_size: int = 5000) -> dict[str, dict[str, Any]]:
    """:func:`evaluate_strategies` on the registered bandit ``env_id`` (``env_kwargs`` override its
    arguments)."""
    kwargs = dict(env_kwargs or {})
    probe = envs.make_vector_env(env_id, 1, **kwargs)
    num_arms, horizon = probe.unwrapped.num_arms, probe.unwrapped.horizon
    probe.close()

    def make_env(num_envs: int, **_: Any) -> Any:
        return envs.make_vector_env(env_id, num_envs, **kwargs)

    return evaluate_strategies(list(names or STRATEGIES), num_arms, horizon, num_tasks, seed, make_env,
                               chunk_size)


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """A plain-text table of :func:`evaluate_strategies` results, best mean first."""
    rows = sorted(results.items(), key=lambda item: item[1]["mean"], reverse=True)
    width = max([len("strategy")] + [len(name) for name, _ in rows])
    lines = [f"{'strategy':<{width}}  {'mean':>8}   {'s.e.':>6}  {'tasks':>7}"]
    for name, r in rows:
        lines.append(
            f"{name:<{width}}  {r['mean']:>8.2f} ± {r['stderr']:>6.2f}  {r['num_tasks']:>7d}"
        )
    return "\n".join(lines)
