"""Tests of NumPad-v0: geometry, sequences, press rules, single vs batched env, task sets, baselines."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from belief_rl import envs
from belief_rl.envs.numpad import (
    MAX_SEQUENCES,
    NumPadEnv,
    NumPadVectorEnv,
    apply_presses,
    check_sequence,
    numpad_task_set,
    pad_at,
    pad_centres,
    press_statistics,
    valid_sequences,
)
from belief_rl.envs.task_specs import MultiCategoricalTask
from belief_rl.references.numpad import (
    NumPadExplorer,
    NumPadOracle,
    NumPadRandom,
    numpad_reference_returns,
)
from belief_rl.references.scripted import run_scripted

from env_checks import assert_matches_sync_vector_env, vector_rollout  # tests/ helpers

NUMPAD_IDS = [i for i in envs.registered_ids() if i.startswith("belief_rl/NumPad")]
GAP = (0.5, 0.5)  # a gap crossing of the 3x3 grid
TASK = [0, 1, 4, 8]  # 3x3 Moore: right, down, down-right (row 0 is the top row)


# --------------------------------------------------------------------------------------
# Registration and gymnasium conformance
# --------------------------------------------------------------------------------------


def test_registered_ids() -> None:
    assert set(NUMPAD_IDS) == {
        "belief_rl/NumPad-v0",
        "belief_rl/NumPad-2x2-L3-v0",
        "belief_rl/NumPad-3x3-L4-v0",
        "belief_rl/NumPad-4x4-L5-v0",
    }


@pytest.mark.parametrize("env_id", NUMPAD_IDS)
def test_check_env_passes(env_id: str) -> None:
    env = gymnasium.make(env_id).unwrapped
    kwargs = envs.env_spec_kwargs(env_id)
    assert (env.size, env.length) == (kwargs["size"], kwargs["length"])
    assert env.episode_length == 500 and env.neighbourhood == "moore"
    assert env.num_pads == env.size**2
    assert env.task_spec == MultiCategoricalTask(env.size**2, env.length)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []


def test_make_vector_env() -> None:
    venv = envs.make_vector_env("belief_rl/NumPad-2x2-L3-v0", num_envs=3, num_tasks=4)
    assert isinstance(venv, NumPadVectorEnv)
    assert (venv.num_envs, venv.size, venv.length, venv.num_tasks) == (3, 2, 3, 4)
    assert venv.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.NEXT_STEP
    assert venv.observation_space.shape == (3, 8) and venv.task_spec == MultiCategoricalTask(4, 3)


# --------------------------------------------------------------------------------------
# Geometry and sequences
# --------------------------------------------------------------------------------------


def test_pad_geometry() -> None:
    centres = pad_centres(3)
    np.testing.assert_array_equal(centres[[0, 2, 4, 6]], [[-1, 1], [1, 1], [0, 0], [-1, -1]])
    np.testing.assert_array_equal(pad_at(centres, 3), np.arange(9))
    edges = np.array([[0.4, 0.4], [-0.4, 0.0], [0.41, 0.0], [0.5, 0.5], [1.45, 0.0], [0.0, -1.41]])
    np.testing.assert_array_equal(pad_at(edges, 3), [4, 4, -1, -1, -1, -1])  # closed squares
    np.testing.assert_array_equal(pad_at(pad_centres(2), 2), np.arange(4))
    np.testing.assert_array_equal(pad_at(np.zeros((1, 2)), 2), [-1])  # the 2x2 centre is a gap


def test_sequence_counts_match_hand_count() -> None:
    # 2x2 Moore: every pad neighbours every other, so 4 * 3 * 2 ordered triples.
    assert len(valid_sequences(2, 3, "moore")) == 24
    # 2x2 von Neumann: a 4-cycle; 4 starts, 2 directions, then 1 way on.
    assert len(valid_sequences(2, 3, "von_neumann")) == 8
    assert len(valid_sequences(3, 2, "moore")) == 40  # 2 * the king-move edges of 3x3 (20)
    assert len(valid_sequences(3, 2, "von_neumann")) == 24  # 2 * 12 rook-move edges


@pytest.mark.parametrize("neighbourhood", ["moore", "von_neumann"])
def test_sequences_valid_and_unique(neighbourhood: str) -> None:
    seqs = valid_sequences(3, 4, neighbourhood)
    assert seqs.dtype == np.int64 and not seqs.flags.writeable
    assert len(np.unique(seqs, axis=0)) == len(seqs)
    rows, cols = np.divmod(seqs, 3)
    dr, dc = np.abs(np.diff(rows, axis=1)), np.abs(np.diff(cols, axis=1))
    step = np.maximum(dr, dc) if neighbourhood == "moore" else dr + dc
    assert np.all(step == 1)
    assert all(len(set(s)) == 4 for s in seqs.tolist())
    assert valid_sequences(3, 4, neighbourhood) is seqs  # cached
    moore = {tuple(s) for s in valid_sequences(3, 4, "moore").tolist()}
    assert {tuple(s) for s in seqs.tolist()} <= moore


def test_sequence_enumeration_limits() -> None:
    with pytest.raises(ValueError, match=str(MAX_SEQUENCES)):
        valid_sequences(4, 12, "moore")
    for args in ((1, 1, "moore"), (3, 1, "moore"), (2, 5, "moore"), (3, 3, "hex")):
        with pytest.raises(ValueError):
            valid_sequences(*args)


def test_check_sequence() -> None:
    np.testing.assert_array_equal(check_sequence([0, 4, 8], 3, 3, "moore"), [0, 4, 8])
    with pytest.raises(ValueError, match="neighbours"):
        check_sequence([0, 4, 8], 3, 3, "von_neumann")
    for bad in ([0, 1], [0, 1, 0], [0, 1, 9], [0, 2, 5], [0.0, 1.5, 2.0], [-1, 0, 1]):
        with pytest.raises(ValueError):
            check_sequence(bad, 3, 3, "moore")


def test_press_rules() -> None:
    tasks = np.array([[0, 1, 2]] * 5)
    progress = np.array([0, 1, 2, 2, 1])
    pads = np.array([0, 0, 2, 3, 3])
    pressed = np.array([True, True, True, True, False])
    rewards, new = apply_presses(tasks, progress, pads, pressed)
    np.testing.assert_array_equal(rewards, [1, 0, 1, 0, 0])  # next, active, last, wrong, no press
    np.testing.assert_array_equal(new, [1, 1, 0, 0, 1])


# --------------------------------------------------------------------------------------
# The env, driven by placing the ball exactly
# --------------------------------------------------------------------------------------


def _visit(env: NumPadEnv, where: int | tuple[float, float]) -> tuple[np.ndarray, float]:
    """Put the ball (at rest) on pad ``where`` or at point ``where``; one still step there."""
    xy = pad_centres(env.size)[where] if isinstance(where, int) else np.array(where)
    env.physics.reset(np.array([0]), xy[None])
    obs, reward, *_ = env.step(np.zeros(2, dtype=np.float32))
    return obs, reward


def _active(obs: np.ndarray) -> list[int]:
    return np.flatnonzero(obs[4:]).tolist()


def test_press_logic_in_env() -> None:
    env = NumPadEnv(size=3, length=4)
    obs, info = env.reset(seed=0, options={"task": TASK})
    assert info["boundary"] is True and info["task"].dtype == np.int64
    np.testing.assert_array_equal(info["task"], TASK)
    assert _active(obs) == []
    assert _visit(env, 0)[1] == 1.0  # the first pad
    obs, reward = _visit(env, 0)  # staying on it: no new press
    assert reward == 0.0 and _active(obs) == [0]
    _visit(env, GAP)
    obs, reward = _visit(env, 0)  # re-entering an active pad keeps the progress
    assert reward == 0.0 and _active(obs) == [0]
    obs, reward = _visit(env, 1)  # straight from pad to pad is an entry too
    assert reward == 1.0 and _active(obs) == [0, 1]
    obs, reward = _visit(env, 5)  # a wrong pad clears everything
    assert reward == 0.0 and _active(obs) == []
    rewards = [_visit(env, pad)[1] for pad in TASK]
    assert rewards == [1.0] * 4
    obs, _ = _visit(env, TASK[-1])
    assert _active(obs) == []  # completing the sequence clears all pads
    _visit(env, GAP)
    obs, reward = _visit(env, TASK[0])  # and a repeat pays again
    assert reward == 1.0 and _active(obs) == [0]
    obs, reward = _visit(env, 3)  # wrong again: the active pad clears
    assert reward == 0.0 and _active(obs) == []
    obs, reward = _visit(env, 7)  # a wrong press with nothing active changes nothing
    assert reward == 0.0 and _active(obs) == []


def test_press_statistics_decode_what_the_agent_observed() -> None:
    env = NumPadEnv(size=3, length=4)
    obs, _ = env.reset(seed=0, options={"task": TASK})
    counts, rewards = [], []
    # first pad, a wrong pad (clears), first and second, a wrong pad (clears), the whole sequence,
    # the first again
    for pad in [TASK[0], 5, TASK[0], TASK[1], 5, *TASK, GAP, TASK[0]]:
        counts.append(len(_active(obs)))
        obs, reward = _visit(env, pad)
        rewards.append(reward)
    stats = press_statistics(np.array(counts)[:, None], np.array(rewards)[:, None], length=4)
    np.testing.assert_array_equal(stats["correct"][:, 0], [4, 2, 1, 1])
    np.testing.assert_array_equal(stats["wrong_clears"], [2])


def test_start_pad_must_be_reentered() -> None:
    env = NumPadEnv(size=3, length=2)
    obs, _ = env.reset(seed=0, options={"task": [4, 5]})
    np.testing.assert_array_equal(obs[:4], 0.0)  # at rest on the centre pad
    for _ in range(3):
        assert env.step(np.zeros(2, dtype=np.float32))[1] == 0.0
    _visit(env, GAP)
    assert _visit(env, 4)[1] == 1.0


def test_observation_info_and_termination() -> None:
    env = NumPadEnv(size=2, length=3, episode_length=5)
    with pytest.raises(RuntimeError):
        env.step(np.zeros(2))
    obs, info = env.reset(seed=1)
    assert obs.shape == (8,) and obs.dtype == np.float32
    assert info["task"].shape == (3,)
    for t in range(1, 6):
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.5], dtype=np.float32))
        assert terminated == (t == 5) and truncated is False and info["boundary"] is False
        assert isinstance(reward, float)
    # Velocity is observed per control step: the motors top out at ~0.1 per step.
    np.testing.assert_allclose(obs[2:4], [0.1, 0.05], atol=0.01)
    with pytest.raises(RuntimeError):
        env.step(np.zeros(2))


def test_actions_validated_and_clipped() -> None:
    a, b = NumPadEnv(size=2, length=2), NumPadEnv(size=2, length=2)
    a.reset(seed=0)
    b.reset(seed=0)
    for _ in range(3):
        np.testing.assert_array_equal(a.step(np.array([1.0, -1.0]))[0], b.step(np.array([9.0, -4.0]))[0])
    for bad in (np.zeros(3), np.array([np.nan, 0.0]), np.zeros((1, 2))):
        with pytest.raises(ValueError):
            a.step(bad)
    venv = NumPadVectorEnv(2, size=2, length=2)
    venv.reset(seed=0)
    for bad in (np.zeros(2), np.zeros((3, 2)), np.array([[0.0, 0.0], [np.nan, 0.0]])):
        with pytest.raises(ValueError):
            venv.step(bad)


# --------------------------------------------------------------------------------------
# Single vs batched
# --------------------------------------------------------------------------------------


def _sticky_actions(steps: int, n: int, seed: int) -> np.ndarray:
    """Random motor commands held for 8 steps, so the balls travel and press pads."""
    rng = np.random.default_rng(seed)
    return np.repeat(rng.uniform(-1, 1, (steps // 8 + 1, n, 2)), 8, axis=0)[:steps].astype(np.float32)


def _run_single(seed: int, actions: np.ndarray, horizon: int, **kwargs) -> list:
    """Two meta-episodes of NumPadEnv: seeded reset, then an unseeded one (NEXT_STEP)."""
    env = NumPadEnv(episode_length=horizon, **kwargs)
    obs, info = env.reset(seed=seed)
    trace = [(obs, 0.0, False, False, info["task"], True)]
    for step, a in enumerate(actions):
        if step == horizon:
            obs, info = env.reset()
            trace.append((obs, 0.0, False, False, info["task"], True))
            continue
        obs, r, term, trunc, info = env.step(a)
        trace.append((obs, r, term, trunc, info["task"], info["boundary"]))
    return trace


@pytest.mark.parametrize("kwargs", [{"size": 2, "length": 3}, {"size": 3, "length": 4, "num_tasks": 5}])
def test_batched_equals_single_over_two_meta_episodes(kwargs: dict) -> None:
    n, horizon, seed = 3, 60, 4
    actions = _sticky_actions(2 * horizon + 1, n, seed=0)
    batched = vector_rollout(NumPadVectorEnv(n, episode_length=horizon, **kwargs), actions, seed)
    for i in range(n):
        single = _run_single(seed + i, actions[:, i], horizon, **kwargs)
        assert len(single) == len(batched)
        for (so, sr, st, su, sp, sb), (bo, br, bt, bu, bp, bb) in zip(single, batched):
            np.testing.assert_array_equal(so, bo[i])
            assert sr == br[i] and st == bt[i] and su == bu[i] and sb == bb[i]
            np.testing.assert_array_equal(sp, bp[i])
    assert all(batched[horizon][2]) and all(batched[2 * horizon + 1][2])
    assert all(batched[horizon + 1][5]) and not any(batched[horizon][5])
    assert sum(step[1].sum() for step in batched) > 0  # some pads were pressed


def test_batched_matches_gymnasium_sync_vector_env() -> None:
    n, horizon = 2, 20
    kwargs = {"size": 2, "length": 2, "episode_length": horizon}
    assert_matches_sync_vector_env(lambda: NumPadEnv(**kwargs), NumPadVectorEnv(n, **kwargs),
                                   _sticky_actions(2 * horizon + 2, n, seed=1), seed=2)


def test_vector_seeding_variants() -> None:
    a, b = NumPadVectorEnv(3, size=3, length=4), NumPadVectorEnv(3, size=3, length=4)
    np.testing.assert_array_equal(a.reset(seed=9)[1]["task"], b.reset(seed=[9, 10, 11])[1]["task"])
    with pytest.raises(ValueError):
        a.reset(seed=[1, 2])
    second = a.reset()[1]["task"]  # continues each sub-env's stream
    for i in range(3):
        env = NumPadEnv(size=3, length=4)
        env.reset(seed=9 + i)
        np.testing.assert_array_equal(env.reset()[1]["task"], second[i])


# --------------------------------------------------------------------------------------
# Tasks: prior, options, finite sets
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("neighbourhood", ["moore", "von_neumann"])
def test_prior_is_uniform_over_valid_sequences(neighbourhood: str) -> None:
    env = NumPadEnv(size=2, length=3, neighbourhood=neighbourhood)
    seqs = valid_sequences(2, 3, neighbourhood)
    drawn = [tuple(env.reset(seed=s)[1]["task"]) for s in range(50 * len(seqs))]
    counts = np.array([drawn.count(tuple(s)) for s in seqs.tolist()])
    assert counts.sum() == len(drawn)  # only valid sequences
    assert counts.min() > 20 and counts.max() < 85  # ~50 each


def test_reset_options_task() -> None:
    env = NumPadEnv(size=3, length=3, neighbourhood="von_neumann")
    np.testing.assert_array_equal(env.reset(options={"task": [0, 1, 2]})[1]["task"], [0, 1, 2])
    for bad in ([0, 4, 8], [0, 1, 1], [0, 1, 2, 5], [0, 1, 99], [0.5, 1, 2]):
        with pytest.raises(ValueError, match="options"):
            env.reset(options={"task": bad})
    venv = NumPadVectorEnv(2, size=3, length=3)
    np.testing.assert_array_equal(venv.reset(options={"task": [0, 4, 8]})[1]["task"], [[0, 4, 8]] * 2)
    tasks = np.array([[0, 4, 8], [2, 1, 0]])
    _, info = venv.reset(seed=0, options={"task": tasks})
    np.testing.assert_array_equal(info["task"], tasks)
    np.testing.assert_array_equal(venv.step(np.zeros((2, 2)))[4]["task"], tasks)
    for bad in (np.zeros((3, 3), dtype=int), np.array([[0, 4, 8], [0, 2, 4]]), 4):
        with pytest.raises(ValueError):
            venv.reset(options={"task": bad})


def test_task_set_splits() -> None:
    ts = numpad_task_set(3, 4, "moore", num_train=10, num_validation=5, seed=0)
    assert ts.tasks("train").shape == (10, 4) and ts.tasks("validation").shape == (5, 4)
    pool = np.concatenate([ts.train, ts.validation])
    assert len(np.unique(pool, axis=0)) == 15  # distinct, disjoint splits
    valid = {tuple(s) for s in valid_sequences(3, 4, "moore").tolist()}
    assert {tuple(s) for s in pool.tolist()} <= valid
    bigger = numpad_task_set(3, 4, "moore", num_train=20, num_validation=5, seed=0)
    np.testing.assert_array_equal(bigger.validation, ts.validation)
    np.testing.assert_array_equal(bigger.train[:10], ts.train)
    assert not np.array_equal(numpad_task_set(3, 4, "moore", 10, 5, seed=1).train, ts.train)
    numpad_task_set(2, 3, "moore", num_train=20, num_validation=4, seed=0)  # all 24
    with pytest.raises(ValueError, match="only 24 valid sequences"):
        numpad_task_set(2, 3, "moore", num_train=21, num_validation=4, seed=0)


@pytest.mark.parametrize("split", ["train", "validation"])
def test_finite_task_set_only_pool_tasks(split: str) -> None:
    kwargs = {"size": 2, "length": 3, "num_tasks": 4, "task_seed": 2, "split": split,
              "num_validation_tasks": 3}
    pool = numpad_task_set(2, 3, "moore", 4, 3, seed=2).tasks(split)
    env = NumPadEnv(**kwargs)
    seen = {tuple(env.reset(seed=s)[1]["task"]) for s in range(60)}
    assert seen == {tuple(row) for row in pool.tolist()}
    venv = NumPadVectorEnv(20, **kwargs)
    assert {tuple(row) for row in venv.reset(seed=0)[1]["task"].tolist()} <= seen


def test_default_validation_split_fits_small_pools() -> None:
    env = NumPadEnv(size=2, length=3, num_tasks=18, split="validation")  # 24 // 4 = 6 held out
    assert env.num_validation_tasks == 6
    assert len({tuple(env.reset(seed=s)[1]["task"]) for s in range(80)}) == 6
    with pytest.raises(ValueError, match="only 24"):
        NumPadEnv(size=2, length=3, num_tasks=19)


@pytest.mark.parametrize("cls", [NumPadEnv, lambda **kw: NumPadVectorEnv(2, **kw)])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 1},
        {"length": 1},
        {"size": 2, "length": 5},
        {"neighbourhood": "hex"},
        {"episode_length": 0},
        {"num_tasks": 0},
        {"split": "test"},
        {"num_tasks": 3, "split": "validation", "num_validation_tasks": 0},
        {"num_validation_tasks": -1},
        {"size": 4, "length": 12},
        {"render_mode": "human"},
    ],
)
def test_invalid_constructor_args(cls, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        cls(**kwargs)


def test_vector_invalid_num_envs() -> None:
    with pytest.raises(ValueError):
        NumPadVectorEnv(0)


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def test_render_image_or_clear_error() -> None:
    assert NumPadEnv(size=2, length=2).render() is None
    env = NumPadEnv(size=2, length=2, render_mode="rgb_array")
    env.reset(seed=0, options={"task": [0, 1]})
    _visit(env, 0)
    try:
        image = env.render()
    except RuntimeError as exc:
        assert "OpenGL" in str(exc) and "\n" not in str(exc)
        pytest.skip("no offscreen GL context")
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    # The active pad (0: top left) is green, the inactive one (1: top right) grey.
    top_left, top_right = image[64, 64].astype(int), image[64, 192].astype(int)
    assert top_left[1] > top_left[0] + 40 and abs(int(top_right[1]) - int(top_right[0])) < 30
    venv = NumPadVectorEnv(2, size=2, length=2, render_mode="rgb_array")
    venv.reset(seed=0)
    images = venv.render()
    assert len(images) == 2 and images[0].shape == (256, 256, 3)
    env.close()
    venv.close()


# --------------------------------------------------------------------------------------
# Scripted baselines
# --------------------------------------------------------------------------------------


def test_oracle_beats_explorer_beats_random() -> None:
    results = numpad_reference_returns("belief_rl/NumPad-2x2-L3-v0", num_tasks=16, seed=0)
    assert set(results) == {"oracle", "explorer", "random"}
    assert all(r["num_tasks"] == 16 for r in results.values())
    oracle, explorer, random = (results[k]["mean"] for k in ("oracle", "explorer", "random"))
    assert oracle > explorer > random + 20
    assert oracle > 60  # a press every few steps, never a wrong one
    with pytest.raises(ValueError):
        numpad_reference_returns("belief_rl/NumPad-2x2-L3-v0", num_tasks=0, seed=0)


def test_explorer_infers_the_task_without_seeing_it() -> None:
    venv = NumPadVectorEnv(8, size=3, length=4, episode_length=300)
    explorer = NumPadExplorer.for_env(venv)
    returns = run_scripted(explorer, venv, seed=3)  # the policy never receives info["task"]
    seqs = explorer.sequences
    for i, task in enumerate(venv.tasks):
        consistent = seqs[explorer.candidates[i]]
        assert task.tolist() in consistent.tolist()  # never ruled out the truth
        assert len(consistent) == 1  # and pinned it down
    assert returns.min() > 10
    oracle = run_scripted(NumPadOracle.for_env(venv), venv, seed=3)
    assert oracle.mean() > returns.mean()


def test_random_policy_shapes() -> None:
    venv = NumPadVectorEnv(3, size=2, length=2, episode_length=4)
    returns = run_scripted(NumPadRandom(seed=0), venv, seed=0)
    assert returns.shape == (3,)
