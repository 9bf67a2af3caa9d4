"""MuJoCo Warp physics for the embedded tasks (``physics_engine="mujoco_warp"``).

:class:`WarpPhysics` holds ``num_envs`` worlds of one MuJoCo model in ``mujoco_warp`` (``put_model`` /
``make_data(nworld=num_envs)``) on a Warp device (a CUDA GPU, or Warp's CPU device for development and
tests) and exposes the state the tasks use as **zero-copy** float32 torch tensors over the Warp arrays
(``wp.to_torch``): ``qpos``, ``qvel``, ``qacc_warmstart``, ``time``, ``ctrl``, ``sensordata``. The task's
torch code reads and writes those tensors exactly as it reads and writes the ``mujoco.batch`` views on the
CPU backend; only :meth:`step` differs.

* Graph: all ``substeps`` of a control step are captured once as a Warp graph and replayed
  (``wp.capture_launch``): a CUDA graph on a GPU (where Warp's memory pool is enabled on the device),
  Warp's recorded launch sequence on the CPU (which skips the Python cost of each kernel launch).
  ``graph=False``, or a GPU without the memory pool: eager launches.
* CUDA: the physics runs on its own Warp stream, ordered after the torch work already queued on torch's
  current stream (and torch's stream after it) with device-side events, never with a host wait.
* CPU: the tensors are plain CPU tensors.
* Buffers: contacts (``nconmax``) and constraint rows (``njmax``) are fixed-size per world. Their default
  sizes are upper bounds derived from the model (:func:`buffer_sizes`); ``sim.mujoco_warp.nconmax`` /
  ``njmax`` override them. MuJoCo Warp flags an overflow per world (``Data.overflow``); :meth:`step` looks
  at the flags every ``overflow_check_interval`` control steps (on CUDA through an asynchronous copy into
  pinned memory, read one check later, so there is no host wait) and raises :class:`WarpBufferOverflow`
  naming the task, the buffer and the size to raise.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import mujoco
import numpy as np
import torch

INSTALL_COMMAND = 'pip install -e ".[warp]"'

# the most contacts MuJoCo's primitive colliders return for a geom-type pair (smaller type first);
# pairs not listed (meshes, height fields, SDFs) get _OTHER_PAIR_CONTACTS
_G = mujoco.mjtGeom
_PAIR_CONTACTS = {
    (_G.mjGEOM_PLANE, _G.mjGEOM_SPHERE): 1, (_G.mjGEOM_PLANE, _G.mjGEOM_CAPSULE): 2,
    (_G.mjGEOM_PLANE, _G.mjGEOM_ELLIPSOID): 1, (_G.mjGEOM_PLANE, _G.mjGEOM_CYLINDER): 4,
    (_G.mjGEOM_PLANE, _G.mjGEOM_BOX): 4, (_G.mjGEOM_SPHERE, _G.mjGEOM_SPHERE): 1,
    (_G.mjGEOM_SPHERE, _G.mjGEOM_CAPSULE): 1, (_G.mjGEOM_SPHERE, _G.mjGEOM_ELLIPSOID): 1,
    (_G.mjGEOM_SPHERE, _G.mjGEOM_CYLINDER): 1, (_G.mjGEOM_SPHERE, _G.mjGEOM_BOX): 1,
    (_G.mjGEOM_CAPSULE, _G.mjGEOM_CAPSULE): 2, (_G.mjGEOM_CAPSULE, _G.mjGEOM_ELLIPSOID): 1,
    (_G.mjGEOM_CAPSULE, _G.mjGEOM_CYLINDER): 2, (_G.mjGEOM_CAPSULE, _G.mjGEOM_BOX): 2,
    (_G.mjGEOM_BOX, _G.mjGEOM_BOX): 8,
}
_OTHER_PAIR_CONTACTS = 8
# constraint rows of one equality constraint, by type
_EQ_ROWS = {mujoco.mjtEq.mjEQ_CONNECT: 3, mujoco.mjtEq.mjEQ_WELD: 6}


class WarpBufferOverflow(RuntimeError):
    """A MuJoCo Warp contact or constraint buffer overflowed: the physics of that step is not valid."""


def import_mujoco_warp():
    """``(warp, mujoco_warp)``, or ImportError naming the pip command that installs them."""
    try:
        import warp as wp

        # no start-up banner or per-module load lines (set before mujoco_warp initialises Warp)
        wp.config.quiet = True
        if hasattr(wp, "LOG_WARNING"):
            wp.config.log_level = wp.LOG_WARNING
        import mujoco_warp as mjw
    except ImportError as e:
        raise ImportError(f"physics_engine=mujoco_warp needs the mujoco-warp and warp-lang packages ({e}): "
                          f"{INSTALL_COMMAND}") from None
    return wp, mjw


def mujoco_warp_available() -> bool:
    """Whether ``mujoco_warp`` (and ``warp``) import."""
    try:
        import_mujoco_warp()
    except ImportError:
        return False
    return True


def _contact_rows(condim: int, cone: int) -> int:
    """Constraint rows of one contact of dimensionality ``condim``."""
    if condim == 1:
        return 1
    return condim if cone == mujoco.mjtCone.mjCONE_ELLIPTIC else 2 * (condim - 1)


def buffer_sizes(mjm: mujoco.MjModel, geom_pairs: np.ndarray) -> Tuple[int, int]:
    """``(nconmax, njmax)`` per world: upper bounds on the contacts and constraint rows of one world.

    ``geom_pairs`` (P, 2) are the geom pairs that can collide (MuJoCo Warp's filtered broadphase pairs).
    Contacts: the most each pair's primitive collider returns; rows: each contact's rows (condim and cone),
    plus one per limited joint or tendon, per DOF with friction loss, and each equality's rows.
    """
    nconmax = njmax = 0
    for g1, g2 in np.asarray(geom_pairs, dtype=np.int64).reshape(-1, 2):
        types = tuple(sorted((int(mjm.geom_type[g1]), int(mjm.geom_type[g2]))))
        ncon = _PAIR_CONTACTS.get(types, _OTHER_PAIR_CONTACTS)
        condim = int(max(mjm.geom_condim[g1], mjm.geom_condim[g2]))
        nconmax += ncon
        njmax += ncon * _contact_rows(condim, int(mjm.opt.cone))
    for p in range(mjm.npair):  # explicit pairs: their own condim
        nconmax += _OTHER_PAIR_CONTACTS
        njmax += _OTHER_PAIR_CONTACTS * _contact_rows(int(mjm.pair_dim[p]), int(mjm.opt.cone))
    njmax += int(np.count_nonzero(mjm.jnt_limited)) + int(np.count_nonzero(mjm.tendon_limited))
    njmax += int(np.count_nonzero(mjm.dof_frictionloss > 0)) + int(np.count_nonzero(mjm.tendon_frictionloss > 0))
    njmax += sum(_EQ_ROWS.get(int(t), 1) for t in mjm.eq_type)
    return max(nconmax, 1), max(njmax, 1)


class WarpPhysics:
    """``num_envs`` worlds of ``mjm`` in MuJoCo Warp on the Warp device matching ``device``.

    Args:
        mjm: the task's model (host).
        num_envs: number of worlds.
        device: torch device of the state tensors (``cpu`` or ``cuda[:i]``); the physics runs there.
        task: the task's name, for error messages.
        nconmax: contacts per world (None: :func:`buffer_sizes`).
        njmax: constraint rows per world (None: :func:`buffer_sizes`).
        overflow_check_interval: control steps between two looks at the overflow flags (>= 1).
        graph: capture the substeps once as a Warp graph and replay it (on CUDA where the memory pool allows).
    """

    def __init__(self, mjm: mujoco.MjModel, num_envs: int, device: torch.device, task: str = "",
                 nconmax: Optional[int] = None, njmax: Optional[int] = None, overflow_check_interval: int = 100,
                 graph: bool = True) -> None:
        wp, mjw = import_mujoco_warp()
        self._wp, self._mjw = wp, mjw
        self.task = task
        self.num_envs = num_envs
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.wp_device = wp.get_device("cpu") if self.device.type == "cpu" else wp.device_from_torch(self.device)
        if overflow_check_interval < 1:
            raise ValueError(f"sim.mujoco_warp.overflow_check_interval must be >= 1, got {overflow_check_interval}")
        self.overflow_check_interval = int(overflow_check_interval)
        with wp.ScopedDevice(self.wp_device):
            self.model = mjw.put_model(mjm)
            self.model.opt.warn_overflow = 0  # reported by check_overflow, with the task and the size to raise
            pairs = self.model.nxn_geom_pair_filtered.numpy()
            bound_con, bound_efc = buffer_sizes(mjm, pairs)
            self.nconmax = bound_con if nconmax is None else int(nconmax)
            self.njmax = bound_efc if njmax is None else int(njmax)
            if self.nconmax < 0 or self.njmax < 0:
                raise ValueError(f"sim.mujoco_warp.nconmax / njmax must be >= 0, got {self.nconmax} / {self.njmax}")
            self.data = mjw.make_data(mjm, nworld=num_envs, nconmax=self.nconmax, njmax=self.njmax)
        d = self.data
        # zero-copy torch views of the Warp arrays (float32; the overflow flags int32)
        self.qpos = wp.to_torch(d.qpos)
        self.qvel = wp.to_torch(d.qvel)
        self.qacc_warmstart = wp.to_torch(d.qacc_warmstart)
        self.time = wp.to_torch(d.time)
        self.ctrl = wp.to_torch(d.ctrl)
        self.sensordata = wp.to_torch(d.sensordata)
        self.overflow = wp.to_torch(d.overflow)
        self._nacon = wp.to_torch(d.nacon)
        self._nefc = wp.to_torch(d.nefc)

        self.is_cuda = self.wp_device.is_cuda
        self._graphs: Dict[int, Any] = {}
        self.use_graph = bool(graph) and (not self.is_cuda or wp.is_mempool_enabled(self.wp_device))
        self._steps = 0
        if self.is_cuda:
            self._stream = wp.Stream(self.wp_device)
            # the asynchronous overflow look: a device flag, its pinned host copy and the copy's event
            self._flag = torch.zeros((), device=self.device, dtype=torch.int32)
            self._flag_host = torch.zeros((), dtype=torch.int32).pin_memory()
            self._flag_event: Optional[torch.cuda.Event] = None
        if self.use_graph:
            # load every kernel outside a capture: one step of the initial state (the task resets all
            # worlds after building its simulator)
            with wp.ScopedDevice(self.wp_device):
                self._launch(1)
            wp.synchronize_device(self.wp_device)

    # ------------------------------------------------------------------ stepping
    def _launch(self, nstep: int) -> None:
        for _ in range(nstep):
            self._mjw.step(self.model, self.data)

    def _advance(self, nstep: int) -> None:
        if not self.use_graph:
            self._launch(nstep)
            return
        wp = self._wp
        graph = self._graphs.get(nstep)
        if graph is None:
            stream = self._stream if self.is_cuda else None
            with wp.ScopedCapture(device=self.wp_device, stream=stream) as capture:
                self._launch(nstep)
            graph = self._graphs[nstep] = capture.graph
        wp.capture_launch(graph, stream=self._stream if self.is_cuda else None)

    def step(self, nstep: int) -> None:
        """``nstep`` physics steps of every world (one control step), then the periodic overflow look."""
        wp = self._wp
        if self.is_cuda:
            torch_stream = wp.stream_from_torch(torch.cuda.current_stream(self.device))
            self._stream.wait_stream(torch_stream)  # after the torch writes (ctrl, resets) already queued
            with wp.ScopedStream(self._stream):  # Warp launches (and captures) on the current stream
                self._advance(nstep)
            torch_stream.wait_stream(self._stream)  # torch reads the new state after the physics
        else:
            with wp.ScopedDevice(self.wp_device):
                self._advance(nstep)
        self._steps += 1
        if self._steps % self.overflow_check_interval == 0:
            self.check_overflow(wait=not self.is_cuda)

    def check_overflow(self, wait: bool = True) -> None:
        """Raise :class:`WarpBufferOverflow` if a world's contact or constraint buffer overflowed.

        ``wait=False`` (CUDA) never blocks the host: it reads the flag copied at the previous look, if that
        copy has finished, and queues a new copy; ``wait=True`` reads the flags now.
        """
        if not self.is_cuda or wait:
            if self.is_cuda:
                torch.cuda.current_stream(self.device).synchronize()
            if bool(self.overflow.any()):
                self._raise_overflow()
            return
        if self._flag_event is not None and self._flag_event.query() and int(self._flag_host) != 0:
            self._raise_overflow()
        torch.amax(self.overflow, dim=0, out=self._flag)
        self._flag_host.copy_(self._flag, non_blocking=True)
        self._flag_event = torch.cuda.Event()
        self._flag_event.record(torch.cuda.current_stream(self.device))

    def _raise_overflow(self) -> None:
        ot = self._mjw.OverflowType
        flags = int(np.bitwise_or.reduce(self.overflow.cpu().numpy()))
        worlds = np.flatnonzero(self.overflow.cpu().numpy()).tolist()
        what = []
        if flags & (int(ot.BROADPHASE) | int(ot.NARROWPHASE)):
            need = math.ceil(int(self._nacon.cpu()[0]) / self.num_envs)
            what.append(f"the contact buffer (nconmax={self.nconmax} per world) overflowed: raise "
                        f"sim.mujoco_warp.nconmax to at least {max(need, self.nconmax + 1)}")
        if flags & int(ot.NEFC):
            need = int(self._nefc.max().cpu())
            what.append(f"the constraint buffer (njmax={self.njmax} rows per world) overflowed: raise "
                        f"sim.mujoco_warp.njmax to at least {max(need, self.njmax + 1)}")
        if not what:
            what.append(f"a MuJoCo Warp buffer overflowed (OverflowType flags {flags})")
        shown = ", ".join(map(str, worlds[:8])) + (", ..." if len(worlds) > 8 else "")
        raise WarpBufferOverflow(f"task {self.task or '?'} on MuJoCo Warp: {'; '.join(what)} (worlds {shown}; "
                                 "the physics of those steps is not valid)")

    # ------------------------------------------------------------------ state
    def unstable(self) -> torch.Tensor:
        """(num_envs,) bool on the physics device: worlds whose qpos or qvel is not finite."""
        return torch.isfinite(self.qpos).all(1).logical_and_(torch.isfinite(self.qvel).all(1)).logical_not_()

    def close(self) -> None:
        self._graphs.clear()
        self.model = self.data = None
