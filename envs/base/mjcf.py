"""Building a task's MuJoCo model from its MJCF asset and the task config's ``sim`` section."""

from __future__ import annotations

import os
from typing import Any, Dict, Tuple

import mujoco
import numpy as np

INTEGRATORS = {
    "euler": mujoco.mjtIntegrator.mjINT_EULER,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
    "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
    "rk4": mujoco.mjtIntegrator.mjINT_RK4,
}
SOLVERS = {"newton": mujoco.mjtSolver.mjSOL_NEWTON, "cg": mujoco.mjtSolver.mjSOL_CG, "pgs": mujoco.mjtSolver.mjSOL_PGS}
CONES = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL, "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}


def sim_timing(cfg: Dict[str, Any], default_substeps: int) -> Tuple[float, int]:
    """``(dt, substeps)``: the control step (``sim.dt``, 60 Hz by default) and the MuJoCo steps per control step."""
    sim = cfg.get("sim", {}) or {}
    dt = float(sim.get("dt", 0.0166))
    substeps = int(sim.get("substeps", default_substeps))
    if substeps < 1:
        raise ValueError(f"cfg['sim']['substeps'] must be >= 1, got {substeps}")
    if dt <= 0:
        raise ValueError(f"cfg['sim']['dt'] must be > 0, got {dt}")
    return dt, substeps


def nthread(cfg: Dict[str, Any]) -> int:
    """The Batch's threads (``sim.mujoco.nthread``; 0: all cores)."""
    return int(((cfg.get("sim", {}) or {}).get("mujoco", {}) or {}).get("nthread", 0) or 0)


def load_model(cfg: Dict[str, Any], default_asset: str, dt: float, substeps: int, *,
               solver_options: bool = True, plane_friction: bool = True) -> mujoco.MjModel:
    """The task's model: ``env.asset.assetFileName`` (relative to the default asset's folder) or the
    default asset, with timestep ``dt / substeps``, ``sim.gravity``, and (``solver_options``) the
    ``sim.mujoco`` integrator / solver / cone / iterations / tolerance, and (``plane_friction``) every
    geom's sliding friction set to the plane's (MuJoCo takes the larger friction of a contact pair)."""
    cfg_env, sim = cfg["env"], cfg.get("sim", {}) or {}
    asset = (cfg_env.get("asset", {}) or {}).get("assetFileName", None)
    folder = os.path.dirname(default_asset)
    path = default_asset if not asset else (asset if os.path.isabs(asset) else os.path.join(folder, asset))
    m = mujoco.MjModel.from_xml_path(path)
    m.opt.timestep = dt / substeps
    if solver_options:
        mj = sim.get("mujoco", {}) or {}
        m.opt.integrator = INTEGRATORS[str(mj.get("integrator", "Euler")).lower()]
        m.opt.solver = SOLVERS[str(mj.get("solver", "Newton")).lower()]
        m.opt.cone = CONES[str(mj.get("cone", "pyramidal")).lower()]
        m.opt.iterations = int(mj.get("iterations", 50))
        m.opt.ls_iterations = int(mj.get("ls_iterations", m.opt.ls_iterations))
        m.opt.tolerance = float(mj.get("tolerance", 1e-10))
    if "gravity" in sim:
        m.opt.gravity[:] = np.asarray(sim["gravity"], dtype=np.float64)
    if plane_friction:
        m.geom_friction[:, 0] = float((cfg_env.get("plane", {}) or {}).get("staticFriction", 1.0))
    return m
