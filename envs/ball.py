"""A MuJoCo ball rolling on a walled plane, stepped for a batch of sub-envs.

Shared physics of the ball environments (NumPad, SemicircleBall). The ball has
three slide joints (x, y, z) and a ball joint: the slide joints carry the
translation in world axes, so the two motors push along world x and y whatever
the ball's orientation, and the ball joint lets floor friction turn that push
into rolling (the ball is a real rolling sphere, not a sliding puck). The z
slide lets gravity press the ball onto the floor so that friction exists at
all; a free joint would be equivalent except that its damping would act on
translation and rotation alike, while here only translation is damped.

Speed calibration: a motor force ``gear * ctrl`` against linear damping ``b``
on the x/y slides gives the terminal speed ``gear / b`` exactly (rolling
without slipping dissipates nothing) and the time constant ``m_eff / b`` with
``m_eff = 7/5 m`` for a rolling solid sphere. Both are set from the control
period so that full throttle reaches ~0.1 length units per control step, within
~1 control step's time constant.

Timestep 0.025 s with 2 physics steps per 0.05 s control step halves the cost
of 0.01 s x 5, whose trajectories it follows to ~5 mm on average (up to ~6 cm
after wall impacts) under random controls; at full speed the
ball moves half its radius per physics step, so it cannot tunnel through a
wall, and it dents a wall by at most ~6 cm on impact (soft contact). Walls are
frictionless so that a spinning ball does not climb them (it can still hop
a few cm on impact).

Stepping uses ``mujoco.batch.Batch`` (mujoco >= 4; one state row per ball, one
C call per control step) or, as a fallback, a Python loop of
``mj_step(model, data, nstep=frame_skip)`` over one ``MjData`` per ball; the two
give identical numbers. At two physics steps per control step the loop's
per-ball Python overhead (~8 us) is as large as the physics (~9 us), which is
what the batch saves. ``mujoco.rollout`` was about as fast as the batch but
needs the solver warm start carried along by hand to stay bit-identical.

Each ball is its own simulation of the shared ``MjModel``, stepped by the same
code path whatever the batch size, so a batch of ``n`` reproduces ``n`` single
balls bit for bit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import mujoco
import numpy as np

BALL_RADIUS = 0.1
BALL_MASS = 1.0
BOX_MASS = 0.5
#: Physics timestep (s); see the module docstring for why this large.
TIMESTEP = 0.025
#: Physics steps per control step: control period = FRAME_SKIP * TIMESTEP.
FRAME_SKIP = 2
#: Terminal speed at full throttle, in length units per control step.
STEP_SPEED = 0.1
#: Velocity time constant, in control steps: ~95% of terminal speed after 3.
TIME_CONSTANT_STEPS = 1.0
#: Largest image ``render`` can produce (MuJoCo's offscreen framebuffer size).
MAX_RENDER_SIZE = 1024

_WALL_THICKNESS = 0.05
# Why the first offscreen GL context failed, if it did: with some backends (GLFW
# without a display) a second attempt aborts the process, so it is never retried.
_gl_failure: str | None = None
_WALL_HEIGHT = 2.0 * BALL_RADIUS
_PAD_THICKNESS = 0.002
_PAD_RGBA = (0.55, 0.55, 0.6, 1.0)


def _motor_constants(control_dt: float) -> tuple[float, float]:
    """Slide damping and motor gear for the calibrated terminal speed and time constant."""
    effective_mass = 1.4 * BALL_MASS  # m + I / r^2 for a solid sphere rolling without slipping
    damping = effective_mass / (TIME_CONSTANT_STEPS * control_dt)
    gear = damping * STEP_SPEED / control_dt
    return damping, gear


def ball_arena_xml(half_extent: float, pads: Sequence[tuple[float, float, float]] = (),
                   box_half_size: float | None = None) -> str:
    """MJCF of a square arena ``[-half_extent, half_extent]^2`` with one actuated ball.

    Args:
        half_extent: Half the side of the walled square; the walls' inner faces lie at ``±half_extent``.
        pads: ``(cx, cy, half_size)`` of square floor pads, visual only (no contacts),
            named ``pad0``, ``pad1``, ...
        box_half_size: If given, a pushable cube of this half side (named ``box``). It slides on two damped
            slide joints without turning (its position is its whole state) and does not touch the floor,
            so the slide damping is its only friction: pushed by the ball it moves at about half the ball's
            free speed and stops within a control step or two when let go. It collides with the ball and
            the walls only.

    The motors are calibrated for :data:`FRAME_SKIP`; :class:`BallPhysics`
    recalibrates them for its own ``frame_skip``.
    """
    if not half_extent > BALL_RADIUS:
        raise ValueError(f"half_extent must be > the ball radius {BALL_RADIUS}, got {half_extent}")
    if box_half_size is not None and not 0 < box_half_size < half_extent:
        raise ValueError(f"box_half_size must lie in (0, half_extent), got {box_half_size}")
    damping, gear = _motor_constants(FRAME_SKIP * TIMESTEP)
    e, t, r = half_extent, _WALL_THICKNESS, BALL_RADIUS
    # Contact bits: 1 = floor, 2 = box. The ball and the walls touch both, the box never the floor.
    solid = ' contype="3" conaffinity="3"' if box_half_size is not None else ""
    walls = "\n".join(
        f'    <geom name="wall_{name}" type="box" pos="{x:.6g} {y:.6g} {_WALL_HEIGHT / 2:.6g}" '
        f'size="{sx:.6g} {sy:.6g} {_WALL_HEIGHT / 2:.6g}" condim="1" priority="1"{solid} '
        f'rgba="0.4 0.4 0.45 1"/>'
        for name, x, y, sx, sy in (
            ("east", e + t, 0.0, t, e + 2 * t),
            ("west", -e - t, 0.0, t, e + 2 * t),
            ("north", 0.0, e + t, e + 2 * t, t),
            ("south", 0.0, -e - t, e + 2 * t, t),
        )
    )
    pad_geoms = []
    for k, pad in enumerate(pads):
        if len(pad) != 3 or not pad[2] > 0:
            raise ValueError(f"pad {k} must be (cx, cy, half_size) with half_size > 0, got {pad}")
        cx, cy, h = pad
        pad_geoms.append(
            f'    <geom name="pad{k}" type="box" pos="{cx:.6g} {cy:.6g} {_PAD_THICKNESS:.6g}" '
            f'size="{h:.6g} {h:.6g} {_PAD_THICKNESS:.6g}" contype="0" conaffinity="0" '
            f'rgba="{" ".join(str(c) for c in _PAD_RGBA)}"/>'
        )
    # A top-down camera whose 45-degree field of view just covers the walls.
    camera_height = (e + 2 * t) / np.tan(np.radians(22.5)) + _WALL_HEIGHT
    return f"""<mujoco model="ball_arena">
  <option timestep="{TIMESTEP}" integrator="implicitfast"/>
  <visual>
    <global offwidth="{MAX_RENDER_SIZE}" offheight="{MAX_RENDER_SIZE}"/>
    <headlight ambient="0.5 0.5 0.5" diffuse="0.5 0.5 0.5"/>
  </visual>
  <worldbody>
    <geom name="floor" type="plane" size="{e + 2 * t:.6g} {e + 2 * t:.6g} 0.1" rgba="0.85 0.85 0.85 1"/>
{walls}
{chr(10).join(pad_geoms)}
    <camera name="top" pos="0 0 {camera_height:.6g}" xyaxes="1 0 0 0 1 0" fovy="45"/>
    <body name="ball" pos="0 0 {r}">
      <joint name="x" type="slide" axis="1 0 0" damping="{damping:.6g}"/>
      <joint name="y" type="slide" axis="0 1 0" damping="{damping:.6g}"/>
      <joint name="z" type="slide" axis="0 0 1"/>
      <joint name="rot" type="ball"/>
      <geom name="ball" type="sphere" size="{r}" mass="{BALL_MASS}"{solid} rgba="0.85 0.2 0.15 1"/>
    </body>
{_box_xml(box_half_size, damping)}
  </worldbody>
  <actuator>
    <motor name="x" joint="x" gear="{gear:.6g}" ctrlrange="-1 1" ctrllimited="true"/>
    <motor name="y" joint="y" gear="{gear:.6g}" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>
"""


def _box_xml(half_size: float | None, ball_damping: float) -> str:
    """The box body of :func:`ball_arena_xml` (empty without one); its slide damping equals the ball's, so
    the ball pushing it moves at half its free terminal speed."""
    if half_size is None:
        return ""
    h = half_size
    return f"""    <body name="box" pos="0 0 {h:.6g}">
      <joint name="box_x" type="slide" axis="1 0 0" damping="{ball_damping:.6g}"/>
      <joint name="box_y" type="slide" axis="0 1 0" damping="{ball_damping:.6g}"/>
      <geom name="box" type="box" size="{h:.6g} {h:.6g} {h:.6g}" mass="{BOX_MASS}" contype="2" conaffinity="2"
            rgba="0.35 0.45 0.8 1"/>
    </body>"""


class _LoopSims:
    """One ``MjData`` per simulation, stepped in a Python loop (the fallback before ``mujoco.batch``)."""

    def __init__(self, model: mujoco.MjModel, nsim: int) -> None:
        self._model = model
        self._data = [mujoco.MjData(model) for _ in range(nsim)]

    def reset(self, ids: np.ndarray, qpos_adr: np.ndarray, values: np.ndarray) -> None:
        for i, value in zip(ids, values):
            mujoco.mj_resetData(self._model, self._data[i])
            self._data[i].qpos[qpos_adr] = value
            mujoco.mj_forward(self._model, self._data[i])

    def step(self, ctrl: np.ndarray, nstep: int) -> None:
        for i, data in enumerate(self._data):
            data.ctrl[:] = ctrl[i]
            mujoco.mj_step(self._model, data, nstep=nstep)

    def qpos(self, adr: np.ndarray) -> np.ndarray:
        return np.stack([data.qpos[adr] for data in self._data])

    def qvel(self, adr: np.ndarray) -> np.ndarray:
        return np.stack([data.qvel[adr] for data in self._data])

    def copy_data(self, i: int, out: mujoco.MjData) -> None:
        mujoco.mj_copyData(out, self._model, self._data[i])


class _BatchSims:
    """``mujoco.batch.Batch`` (mujoco >= 4): state rows per simulation, one C call per step.

    MuJoCo documents it as bit-identical to :class:`_LoopSims` (and tests check it);
    it saves the per-sub-env Python overhead, which at two physics steps per control
    step is as large as the physics.
    """

    def __init__(self, model: mujoco.MjModel, nsim: int, nthread: int) -> None:
        from mujoco import batch

        self._batch = batch.Batch(model, nsim, nthread=nthread)
        self._qpos, self._qvel, self._ctrl = (self._batch.bind(f) for f in ("qpos", "qvel", "ctrl"))

    def reset(self, ids: np.ndarray, qpos_adr: np.ndarray, values: np.ndarray) -> None:
        order = np.argsort(ids)  # the batch takes sorted ids
        ids, values = ids[order], values[order]
        # Defaults first (mj_resetData: warm start and time too), then the position.
        self._batch.reset(ids, stage=mujoco.mjtStage.mjSTAGE_NONE.value)
        self._qpos[np.ix_(ids, qpos_adr)] = values
        self._batch.forward(ids)

    def step(self, ctrl: np.ndarray, nstep: int) -> None:
        self._ctrl[:] = ctrl
        self._batch.step(nstep=nstep)

    def qpos(self, adr: np.ndarray) -> np.ndarray:
        return self._qpos[:, adr]

    def qvel(self, adr: np.ndarray) -> np.ndarray:
        return self._qvel[:, adr]

    def copy_data(self, i: int, out: mujoco.MjData) -> None:
        self._batch.get_data(i, out)


def _has_batch() -> bool:
    try:
        from mujoco import batch  # noqa: F401
    except ImportError:
        return False
    return True


BACKENDS = ("auto", "batch", "loop")


class BallPhysics:
    """``num_envs`` independent balls in one arena model.

    Each ball is its own simulation (its own ``MjData`` state), stepped by the same
    code whatever ``num_envs``, so a batch reproduces single balls bit for bit.
    Positions are the ball centre's world ``(x, y)``; velocities are in length
    units per second (multiply by :attr:`control_dt` for units per control step).

    Args:
        num_envs: Number of balls.
        xml: MJCF from :func:`ball_arena_xml`.
        frame_skip: Physics steps per control step; the motors are recalibrated
            for it (terminal speed :data:`STEP_SPEED` per control step).
        backend: ``"batch"`` (``mujoco.batch``, mujoco >= 4), ``"loop"`` (a Python
            loop of ``mj_step`` over ``MjData`` s) or ``"auto"`` (batch if available).
            Both give identical numbers; batch is ~1.5x faster.
        num_threads: Threads of the batch backend (0: all cores); results do not
            depend on it.
    """

    def __init__(
        self, num_envs: int, xml: str, frame_skip: int = FRAME_SKIP, *,
        backend: str = "auto", num_threads: int = 1,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if frame_skip < 1:
            raise ValueError(f"frame_skip must be >= 1, got {frame_skip}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
        if num_threads < 0:
            raise ValueError(f"num_threads must be >= 0, got {num_threads}")
        if backend == "auto":
            backend = "batch" if _has_batch() else "loop"
        elif backend == "batch" and not _has_batch():
            raise ValueError("backend='batch' needs mujoco >= 4.0 (mujoco.batch)")
        self.num_envs = num_envs
        self.frame_skip = frame_skip
        self.backend = backend
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.control_dt = frame_skip * self.model.opt.timestep
        damping, gear = _motor_constants(self.control_dt)
        for name in ("x", "y"):
            self.model.dof_damping[self.model.joint(name).dofadr[0]] = damping
            self.model.actuator(name).gear[0] = gear
        self.has_box = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, "box") >= 0
        if self.has_box:
            for name in ("box_x", "box_y"):
                self.model.dof_damping[self.model.joint(name).dofadr[0]] = damping
        # The batch copies the model: calibrate first.
        self._sims: _BatchSims | _LoopSims = (
            _BatchSims(self.model, num_envs, num_threads) if backend == "batch"
            else _LoopSims(self.model, num_envs)
        )
        self._xy = np.array([self.model.joint("x").qposadr[0], self.model.joint("y").qposadr[0]])
        self._vxy = np.array([self.model.joint("x").dofadr[0], self.model.joint("y").dofadr[0]])
        self._origin = self.model.body("ball").pos[:2].copy()
        if self.has_box:
            self._box_xy = np.array([self.model.joint(f"box_{a}").qposadr[0] for a in "xy"])
            self._box_vxy = np.array([self.model.joint(f"box_{a}").dofadr[0] for a in "xy"])
            self._box_origin = self.model.body("box").pos[:2].copy()
        self._pad_ids = [
            i for i in range(self.model.ngeom)
            if (mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_GEOM, i) or "").startswith("pad")
        ]
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._render_data: mujoco.MjData | None = None
        self.reset(np.arange(num_envs), np.zeros((num_envs, 2)),
                   np.full((num_envs, 2), 0.5) if self.has_box else None)

    @property
    def num_pads(self) -> int:
        """Number of ``pad*`` geoms in the model."""
        return len(self._pad_ids)

    def reset(self, indices: np.ndarray, positions: np.ndarray,
              box_positions: np.ndarray | None = None) -> None:
        """Place balls ``indices`` at ``positions`` ``[len(indices), 2]``, at rest and unrotated (and, in an
        arena with a box, their boxes at ``box_positions``, at rest)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        positions = np.asarray(positions, dtype=np.float64)
        if positions.shape != (len(indices), 2):
            raise ValueError(f"positions must have shape ({len(indices)}, 2), got {positions.shape}")
        if not np.all(np.isfinite(positions)):
            raise ValueError("positions must be finite")
        adr, values = self._xy, positions - self._origin
        if self.has_box:
            if box_positions is None:
                raise ValueError("this arena has a box: reset needs box_positions")
            box_positions = np.asarray(box_positions, dtype=np.float64)
            if box_positions.shape != (len(indices), 2) or not np.all(np.isfinite(box_positions)):
                raise ValueError(f"box_positions must be finite, of shape ({len(indices)}, 2)")
            adr = np.concatenate([adr, self._box_xy])
            values = np.concatenate([values, box_positions - self._box_origin], axis=1)
        elif box_positions is not None:
            raise ValueError("this arena has no box")
        if np.any((indices < 0) | (indices >= self.num_envs)) or len(np.unique(indices)) != len(indices):
            raise ValueError(f"indices must be distinct and lie in [0, {self.num_envs}), "
                             f"got {indices.tolist()}")
        # A full reset (warm start and time included) makes a reset ball
        # indistinguishable from a freshly built one: batched == single.
        self._sims.reset(indices, adr, values)

    def step(self, actions: np.ndarray) -> None:
        """Apply ``actions`` ``[num_envs, 2]`` (clipped to [-1, 1]) for ``frame_skip`` physics steps."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, 2):
            raise ValueError(f"actions must have shape ({self.num_envs}, 2), got {actions.shape}")
        if np.isnan(actions).any():
            raise ValueError("actions must not be NaN")
        self._sims.step(np.clip(actions, -1.0, 1.0), self.frame_skip)

    def positions(self) -> np.ndarray:
        """Ball centres ``(x, y)``, float64 ``[num_envs, 2]`` (a copy)."""
        return self._sims.qpos(self._xy) + self._origin

    def velocities(self) -> np.ndarray:
        """Ball velocities ``(vx, vy)`` in units per second, float64 ``[num_envs, 2]`` (a copy)."""
        return self._sims.qvel(self._vxy).copy()

    def box_positions(self) -> np.ndarray:
        """Box centres ``(x, y)``, float64 ``[num_envs, 2]`` (arenas with a box only)."""
        if not self.has_box:
            raise ValueError("this arena has no box")
        return self._sims.qpos(self._box_xy) + self._box_origin

    def box_velocities(self) -> np.ndarray:
        """Box velocities ``(vx, vy)`` in units per second, float64 ``[num_envs, 2]``."""
        if not self.has_box:
            raise ValueError("this arena has no box")
        return self._sims.qvel(self._box_vxy).copy()

    def data(self, index: int) -> mujoco.MjData:
        """A copy of ball ``index``'s full ``MjData``, derived quantities computed (for inspection)."""
        return self._snapshot(index, mujoco.MjData(self.model))

    def _snapshot(self, index: int, out: mujoco.MjData) -> mujoco.MjData:
        if not 0 <= index < self.num_envs:
            raise ValueError(f"index must lie in [0, {self.num_envs}), got {index}")
        self._sims.copy_data(index, out)
        mujoco.mj_forward(self.model, out)  # on the copy: the simulation's state is untouched
        return out

    def _renderer(self, width: int, height: int) -> mujoco.Renderer:
        key = (width, height)
        if key not in self._renderers:
            if not (0 < width <= MAX_RENDER_SIZE and 0 < height <= MAX_RENDER_SIZE):
                raise ValueError(f"width and height must lie in [1, {MAX_RENDER_SIZE}], got {width}x{height}")
            global _gl_failure
            if _gl_failure is None:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        self._renderers[key] = mujoco.Renderer(self.model, height=height, width=width)
                    except Exception as exc:  # the GL backends raise assorted error types
                        _gl_failure = f"{type(exc).__name__}: {exc}"
                if _gl_failure is None:  # a failure's warnings only repeat it; keep a success's
                    for w in caught:
                        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            if _gl_failure is not None:
                raise RuntimeError(
                    f"cannot render: no offscreen OpenGL context ({_gl_failure}); "
                    "set MUJOCO_GL=egl or MUJOCO_GL=osmesa before importing mujoco"
                )
        return self._renderers[key]

    def render(
        self, index: int, width: int, height: int, pad_rgba: np.ndarray | None = None
    ) -> np.ndarray:
        """Top-down RGB image ``uint8 [height, width, 3]`` of ball ``index``.

        ``pad_rgba`` ``[num_pads, 4]`` recolours the pads in this image only (the
        shared model is left untouched).
        """
        if self._render_data is None:
            self._render_data = mujoco.MjData(self.model)
        data = self._snapshot(index, self._render_data)
        if pad_rgba is not None:
            pad_rgba = np.asarray(pad_rgba, dtype=np.float32)
            if pad_rgba.shape != (self.num_pads, 4):
                raise ValueError(f"pad_rgba must have shape ({self.num_pads}, 4), got {pad_rgba.shape}")
        renderer = self._renderer(width, height)
        renderer.update_scene(data, camera="top")
        if pad_rgba is not None:
            colour = {gid: pad_rgba[k] for k, gid in enumerate(self._pad_ids)}
            scene = renderer.scene
            for g in range(scene.ngeom):
                geom = scene.geoms[g]
                if geom.objtype == mujoco.mjtObj.mjOBJ_GEOM and geom.objid in colour:
                    geom.rgba[:] = colour[geom.objid]
        return renderer.render().copy()

    def close(self) -> None:
        """Free the rendering contexts (physics stays usable)."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
