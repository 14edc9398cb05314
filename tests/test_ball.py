"""Tests of the shared MuJoCo ball physics (envs/ball.py)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from belief_rl.envs.ball import BALL_RADIUS, STEP_SPEED, BallPhysics, _has_batch, ball_arena_xml

PADS = [(-0.5, 0.0, 0.4), (0.5, 0.0, 0.4)]


def _physics(num_envs: int = 1, **kwargs) -> BallPhysics:
    return BallPhysics(num_envs, ball_arena_xml(1.5, PADS), **kwargs)


def test_xml_compiles_with_named_visual_pads() -> None:
    model = mujoco.MjModel.from_xml_string(ball_arena_xml(1.5, PADS))
    for k, (cx, cy, h) in enumerate(PADS):
        pad = model.geom(f"pad{k}")
        assert pad.contype[0] == 0 and pad.conaffinity[0] == 0
        np.testing.assert_allclose(pad.pos[:2], [cx, cy])
        np.testing.assert_allclose(pad.size[:2], [h, h])
    assert model.nu == 2
    np.testing.assert_array_equal(model.actuator_ctrlrange, [[-1, 1], [-1, 1]])
    assert _physics().num_pads == 2
    assert mujoco.MjModel.from_xml_string(ball_arena_xml(1.0)).ngeom == 6  # floor, 4 walls, ball


@pytest.mark.parametrize("frame_skip", [None, 4])
@pytest.mark.parametrize("direction", [(1.0, 0.0), (0.0, -1.0), (-0.6, 0.8)])
def test_ball_rolls_in_commanded_direction_and_saturates(direction, frame_skip) -> None:
    physics = _physics(**({} if frame_skip is None else {"frame_skip": frame_skip}))
    action = np.array([direction])
    speeds = []
    for _ in range(8):
        physics.step(action)
        per_step = physics.velocities()[0] * physics.control_dt
        speeds.append(per_step)
    speeds = np.array(speeds)
    target = STEP_SPEED * action[0]  # each motor's terminal speed is proportional to its control
    np.testing.assert_allclose(speeds[-1], target, atol=0.003)
    assert np.all(speeds[3:] @ target > 0.9 * target @ target)  # saturated within 3 steps
    assert np.all(np.linalg.norm(speeds, axis=1) < 1.05 * np.linalg.norm(target))
    # Rolling without slipping: spin about the horizontal axis matches speed / radius.
    velocity = np.zeros(6)  # [angular, linear] in world axes
    mujoco.mj_objectVelocity(physics.model, physics.data(0), mujoco.mjtObj.mjOBJ_BODY,
                             physics.model.body("ball").id, velocity, 0)
    spin, linear = velocity[:3], velocity[3:]
    np.testing.assert_allclose(spin, np.array([-linear[1], linear[0], 0.0]) / BALL_RADIUS,
                               rtol=0.02, atol=0.05)  # the soft contact sinks the ball ~1 mm


def test_actions_clipped_and_validated() -> None:
    a, b = _physics(), _physics()
    for _ in range(3):
        a.step(np.array([[1.0, -1.0]]))
        b.step(np.array([[7.0, -3.0]]))
    np.testing.assert_array_equal(a.positions(), b.positions())
    for bad in (np.zeros((2, 2)), np.zeros(2), np.array([[np.nan, 0.0]])):
        with pytest.raises(ValueError):
            a.step(bad)


def test_reset_places_balls_at_rest() -> None:
    physics = _physics(3)
    physics.step(np.ones((3, 2)))
    physics.reset(np.array([0, 2]), np.array([[0.3, -0.2], [-1.0, 1.0]]))
    pos, vel = physics.positions(), physics.velocities()
    assert pos.dtype == np.float64 and pos.shape == (3, 2) and vel.shape == (3, 2)
    np.testing.assert_array_equal(pos[[0, 2]], [[0.3, -0.2], [-1.0, 1.0]])
    np.testing.assert_array_equal(vel[[0, 2]], 0.0)
    assert np.all(vel[1] > 0)  # ball 1 untouched
    physics.step(np.zeros((3, 2)))  # at rest: it stays put
    np.testing.assert_allclose(physics.positions()[[0, 2]], [[0.3, -0.2], [-1.0, 1.0]], atol=1e-6)
    positions = physics.positions()
    positions[:] = 99.0  # positions() returns a copy
    assert np.abs(physics.positions()).max() < 2
    with pytest.raises(ValueError):
        physics.reset(np.array([0]), np.zeros((2, 2)))
    with pytest.raises(ValueError):
        physics.reset(np.array([0]), np.array([[np.inf, 0.0]]))


def test_walls_contain_the_ball() -> None:
    physics = _physics(4)
    for _ in range(60):
        physics.step(np.array([[1, 0], [-1, 0], [1, 1], [0, -1]], dtype=float))
    pos = physics.positions()
    assert np.all(np.abs(pos) < 1.5)
    np.testing.assert_allclose(np.abs(pos[[0, 1, 2, 2, 3], [0, 0, 0, 1, 1]]), 1.5 - BALL_RADIUS, atol=0.02)


BACKENDS = ["loop"] + (["batch"] if _has_batch() else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_equals_single(backend: str) -> None:
    n, steps = 4, 40
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1.2, 1.2, (steps, n, 2))
    starts = rng.uniform(-1, 1, (n, 2))
    batch = _physics(n, backend=backend)
    batch.reset(np.arange(n), starts)
    trace = []
    for t in range(steps):
        if t == 20:  # a partial reset must not disturb the others
            batch.reset(np.array([1]), np.array([[0.0, 0.0]]))
        batch.step(actions[t])
        trace.append((batch.positions(), batch.velocities()))
    for i in range(n):
        single = _physics(1, backend=backend)
        single.reset(np.array([0]), starts[i : i + 1])
        for t in range(steps):
            if t == 20 and i == 1:
                single.reset(np.array([0]), np.array([[0.0, 0.0]]))
            single.step(actions[t, i : i + 1])
            np.testing.assert_array_equal(single.positions()[0], trace[t][0][i])
            np.testing.assert_array_equal(single.velocities()[0], trace[t][1][i])


@pytest.mark.skipif(not _has_batch(), reason="mujoco.batch needs mujoco >= 4")
def test_backends_agree_exactly() -> None:
    rng = np.random.default_rng(1)
    loop, batch = _physics(3, backend="loop"), _physics(3, backend="batch", num_threads=2)
    assert (loop.backend, batch.backend, _physics(1).backend) == ("loop", "batch", "batch")
    for t in range(50):
        if t == 25:
            for physics in (loop, batch):
                physics.reset(np.array([2, 0]), np.array([[0.5, 0.5], [-0.3, 0.0]]))
        actions = rng.uniform(-1, 1, (3, 2))
        loop.step(actions)
        batch.step(actions)
        np.testing.assert_array_equal(loop.positions(), batch.positions())
        np.testing.assert_array_equal(loop.velocities(), batch.velocities())
    np.testing.assert_array_equal(loop.data(1).qpos, batch.data(1).qpos)


def test_invalid_arguments() -> None:
    xml = ball_arena_xml(1.0)
    with pytest.raises(ValueError):
        BallPhysics(0, xml)
    with pytest.raises(ValueError):
        BallPhysics(1, xml, frame_skip=0)
    with pytest.raises(ValueError):
        BallPhysics(1, xml, backend="gpu")
    with pytest.raises(ValueError):
        BallPhysics(1, xml, num_threads=-1)
    with pytest.raises(ValueError):
        _physics(2).reset(np.array([2]), np.zeros((1, 2)))
    with pytest.raises(ValueError):
        _physics(2).reset(np.array([1, 1]), np.zeros((2, 2)))
    with pytest.raises(ValueError):
        _physics(2).data(2)
    with pytest.raises(ValueError):
        ball_arena_xml(0.05)
    with pytest.raises(ValueError):
        ball_arena_xml(1.0, [(0.0, 0.0, -0.1)])


def test_render_image_or_clear_error() -> None:
    physics = _physics(2)
    rgba = np.array([[0, 1, 0, 1], [1, 0, 0, 1]], dtype=float)
    try:
        image = physics.render(1, 48, 32, pad_rgba=rgba)
    except RuntimeError as exc:
        assert "OpenGL" in str(exc) and "\n" not in str(exc)
        pytest.skip("no offscreen GL context")
    assert image.shape == (32, 48, 3) and image.dtype == np.uint8
    assert image.std() > 0
    with pytest.raises(ValueError):
        physics.render(0, 48, 32, pad_rgba=np.ones((3, 4)))
    with pytest.raises(ValueError):
        physics.render(2, 48, 32)
    physics.close()
