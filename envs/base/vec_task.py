"""IsaacGymEnvs-style ``VecTask`` base over a ``mujoco.batch.Batch`` simulator.

The interface (constructor arguments, attribute names, ``step``/``reset`` return
values) follows Isaac Gym Preview 4 / IsaacGymEnvs' ``VecTask`` so that code
written against it (skrl's Isaac Gym wrappers, rl_games-style loops) runs on the
embedded tasks unchanged.  The differences are in how the simulator is driven:

* All environments are simulated by one ``mujoco.batch.Batch`` (``nsim =
  num_envs``), stepped in C on ``sim.mujoco.nthread`` threads (0: all cores).
  There is no Python loop over environments anywhere.
* The MuJoCo state lives on the host; the task reads and writes it through
  zero-copy ``torch.from_numpy`` tensors over the Batch's live numpy views
  (created once in ``create_sim``).  Observations, rewards and every buffer
  live on ``rl_device`` (``self.device``); ``sim_device`` is recorded only.
* ``step()`` auto-resets: after computing reward and reset flags for the step,
  environments with ``reset_buf == 1`` are reset with masked (``torch.where``)
  writes into the state views, and the returned ``obs_buf`` rows of those
  environments are the new episodes' first observations.  ``rew_buf``,
  ``reset_buf`` and ``extras["time_outs"]`` describe the finished step.
* ``step()`` never synchronises with the host through Python: no ``.item()``,
  ``.cpu()``, ``.numpy()``, ``.tolist()``, ``bool(tensor)`` and no per-env
  index lists (resets are masked), so it is safe for CUDA ``rl_device``.

Threads: torch's intra-op pool and the Batch's threads run one after the other,
but they still fight: the Batch's workers keep spinning for a while after a
step, so a torch op that opens an OpenMP parallel region (any op over 32768
elements, MKL's mm/bmm) waits for a worker the OS has to deschedule first, and
torch's OpenMP workers spin after a region against MuJoCo's next step.
Measured on 2 cores: env throughput at N=1024 0.72 of raw stepping with
torch's default 2 threads in step() against 0.97 with 1.  Hence:

* ``cfg["sim"]["mujoco"]["step_torch_threads"]`` (default 1; None: off): the
  torch work of ``step()`` / ``reset()`` runs with this many intra-op threads,
  *scoped*: ``torch.set_num_threads`` is set on entry and the caller's count
  restored on return (0.2 us), so the rest of the process (e.g. training the
  policy between steps) keeps its own setting.
* ``cfg["sim"]["mujoco"]["torch_threads"]`` (default None: leave torch alone):
  an int calls ``torch.set_num_threads`` once at construction, process-wide.

``render()`` is a no-op when ``headless`` is True; with ``headless=False`` it
raises ``NotImplementedError`` (the embedded tasks have no viewer).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Dict, Optional

import numpy as np
import torch
from gymnasium import spaces

# the simulators of the embedded tasks: mujoco.batch on CPU threads, MuJoCo Warp (GPU, or Warp's CPU device)
PHYSICS_ENGINES = ("mujoco", "mujoco_warp")


class VecTask:
    """Base class of the embedded tasks (Isaac Gym Preview 4 ``VecTask`` API).

    Subclasses set ``cfg["env"]["numObservations"]`` / ``["numActions"]``
    (and optionally ``["numStates"]``) before calling ``super().__init__``,
    implement ``create_sim()`` (build the Batch and its views),
    ``pre_physics_step(actions)``, ``post_physics_step()`` (observations,
    rewards, resets -- including the auto-reset) and ``reset_all()``.
    """

    def __init__(
        self,
        cfg: Dict[str, Any],
        rl_device: str,
        sim_device: str,
        graphics_device_id: int,
        headless: bool,
        virtual_screen_capture: bool = False,
        force_render: bool = False,
    ) -> None:
        self.cfg = cfg
        env_cfg = cfg["env"]
        sim_cfg = cfg.get("sim", {}) or {}

        num_envs = env_cfg.get("numEnvs")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"cfg['env']['numEnvs'] must be an integer >= 1, got {num_envs!r}")
        self.num_envs = int(num_envs)
        self.num_observations = int(env_cfg["numObservations"])
        self.num_obs = self.num_observations
        self.num_states = int(env_cfg.get("numStates", 0))
        self.num_actions = int(env_cfg["numActions"])
        self.max_episode_length = int(env_cfg.get("episodeLength", 1000))
        if self.max_episode_length < 1:
            raise ValueError(f"cfg['env']['episodeLength'] must be >= 1, got {self.max_episode_length}")
        self.control_freq_inv = int(env_cfg.get("controlFrequencyInv", 1))
        engine = cfg.get("physics_engine") or "mujoco"
        if engine not in PHYSICS_ENGINES:
            raise ValueError(f"physics_engine={engine!r} is not valid for the embedded tasks: expected one of "
                             f"{', '.join(PHYSICS_ENGINES)}")
        self.physics_engine = engine
        self.physics = None  # the WarpPhysics with physics_engine="mujoco_warp"

        self.rl_device = rl_device
        self.sim_device = sim_device
        self.device = torch.device(rl_device)
        self.graphics_device_id = graphics_device_id
        self.headless = headless
        self.virtual_screen_capture = virtual_screen_capture
        self.force_render = force_render

        self.clip_obs = float(env_cfg.get("clipObservations", np.inf))
        self.clip_actions = float(env_cfg.get("clipActions", np.inf))

        mj_cfg = sim_cfg.get("mujoco", {}) or {}
        torch_threads = mj_cfg.get("torch_threads", None)
        if torch_threads is not None:
            torch.set_num_threads(int(torch_threads))

        step_threads = mj_cfg.get("step_torch_threads", 1)
        self.step_torch_threads = None if step_threads is None else int(step_threads)

        seed = cfg.get("seed", None)
        self.seed = None if seed is None else int(seed)
        self.rng = torch.Generator(device=self.device)
        if self.seed is None:
            self.rng.seed()
        else:
            self.rng.manual_seed(self.seed)

        n, dev = self.num_envs, self.device
        self.obs_buf = torch.zeros((n, self.num_obs), device=dev, dtype=torch.float32)
        self.states_buf = torch.zeros((n, self.num_states), device=dev, dtype=torch.float32)
        self.rew_buf = torch.zeros(n, device=dev, dtype=torch.float32)
        self.reset_buf = torch.ones(n, device=dev, dtype=torch.long)
        self.timeout_buf = torch.zeros(n, device=dev, dtype=torch.long)
        self.progress_buf = torch.zeros(n, device=dev, dtype=torch.long)
        self.randomize_buf = torch.zeros(n, device=dev, dtype=torch.long)
        self.extras: Dict[str, Any] = {}

        self.obs_space = spaces.Box(-np.inf, np.inf, (self.num_obs,), dtype=np.float32)
        self.state_space = spaces.Box(-np.inf, np.inf, (self.num_states,), dtype=np.float32)
        self.act_space = spaces.Box(-1.0, 1.0, (self.num_actions,), dtype=np.float32)

        self.obs_dict: Dict[str, torch.Tensor] = {}
        self.create_sim()

    # ------------------------------------------------------------------ spaces
    @property
    def observation_space(self) -> spaces.Box:
        return self.obs_space

    @property
    def action_space(self) -> spaces.Box:
        return self.act_space

    @property
    def num_acts(self) -> int:
        return self.num_actions

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def host_tensor(array: np.ndarray) -> torch.Tensor:
        """A zero-copy torch tensor over a (possibly read-only) live numpy view."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.from_numpy(array)

    def _create_physics(self, model: Any, nthread: int, sensors: bool = True) -> None:
        """The task's simulator and the torch tensors over its state: ``mujoco.batch`` (:meth:`_create_batch`)
        or MuJoCo Warp (:meth:`_create_warp`), as ``physics_engine`` says."""
        if self.physics_engine == "mujoco_warp":
            self._create_warp(model, sensors)
        else:
            self._create_batch(model, nthread, sensors)

    def _create_warp(self, model: Any, sensors: bool = True) -> None:
        """Build the MuJoCo Warp worlds (``sim.mujoco_warp`` options) on ``sim_device`` and expose their
        state as the same tensors as :meth:`_create_batch` (float32, zero-copy); ``_block_t`` is None."""
        from skrl_isaac_envs.base.warp_physics import WarpPhysics

        opts = (self.cfg.get("sim", {}) or {}).get("mujoco_warp", {}) or {}
        self.model = model
        self.batch = None
        self.physics = p = WarpPhysics(
            model, self.num_envs, torch.device(self.sim_device), task=type(self).__name__,
            nconmax=opts.get("nconmax"), njmax=opts.get("njmax"),
            overflow_check_interval=int(opts.get("overflow_check_interval", 100)),
            graph=bool(opts.get("graph", True)))
        self.nthread = 1
        self._ctrl_t, self._qpos_t, self._qvel_t = p.ctrl, p.qpos, p.qvel
        self._ws_t, self._time_t = p.qacc_warmstart, p.time
        if sensors:
            self._sens_t = p.sensordata
        self._host = p.device
        self._on_host = self.device == self._host
        self._block_t = self._block_x = None
        self._sim_reset = torch.zeros(self.num_envs, device=self.device, dtype=torch.bool)

    def _create_batch(self, model: Any, nthread: int, sensors: bool = True) -> None:
        """Build the ``mujoco.batch.Batch`` of ``num_envs`` copies of ``model`` and the zero-copy torch
        tensors over its live views: ``_qpos_t``, ``_qvel_t``, ``_ws_t`` (warmstart), ``_time_t``,
        ``_ctrl_t``, ``_sens_t`` (with ``sensors``) and ``_block_t`` (see :meth:`_state_block`)."""
        from mujoco.batch import Batch

        self.model = model
        self.batch = b = Batch(model, self.num_envs, nthread=nthread)
        self.nthread = b.nthread
        fields = ("time", "qpos", "qvel", "qacc_warmstart", "ctrl") + (("sensordata",) if sensors else ())
        self._np_views = {f: b.bind(f) for f in fields}
        self._ctrl_t = self.host_tensor(self._np_views["ctrl"])
        self._qpos_t = self.host_tensor(self._np_views["qpos"])
        self._qvel_t = self.host_tensor(self._np_views["qvel"])
        self._ws_t = self.host_tensor(self._np_views["qacc_warmstart"])
        self._time_t = self.host_tensor(self._np_views["time"])
        if sensors:
            self._sens_t = self.host_tensor(self._np_views["sensordata"])
        self._host = self._qpos_t.device
        self._on_host = self.device == self._host
        self._block_t = self._state_block()
        # its [qpos, qvel] columns, the state a task reads after each step
        self._block_x = None if self._block_t is None else self._block_t[:, 1:1 + model.nq + model.nv]
        # MuJoCo's own resets of unstable sims (see _or_simulator_resets): the sims' time (the live view
        # itself on the host, else a device copy), and the least time (progress + 1/2) control steps
        # after our reset, as dt_step / 2 + progress * dt_step in float64 (one addcmul)
        self._sim_time = self._time_t if self._on_host else torch.zeros(self.num_envs, device=self.device,
                                                                         dtype=torch.float64)
        dt_step = self.dt * self.control_freq_inv
        # (0-d float64 tensors: with the long progress_buf, addcmul computes in float64)
        self._half_step_time = torch.tensor(0.5 * dt_step, device=self.device, dtype=torch.float64)
        self._step_time = torch.tensor(dt_step, device=self.device, dtype=torch.float64)
        self._time_floor = torch.zeros(self.num_envs, device=self.device, dtype=torch.float64)
        self._sim_reset = torch.zeros(self.num_envs, device=self.device, dtype=torch.bool)

    def _or_simulator_resets(self, dead: torch.Tensor) -> None:
        """Mark in ``dead`` the envs that MuJoCo reset by itself during the last control step.

        When a sim goes unstable (NaN, Inf or huge ``qpos``/``qacc``) MuJoCo prints a warning and resets
        that sim's data to the model's defaults (``mj_resetData``: time 0) mid-episode. Such an episode
        is over: it ends here as terminated (the caller gives it the death cost) and restarts from a
        fresh random state. Detected from the sim's time: ``(progress + 1)`` control steps after our
        reset it is ``(progress + 1) * dt_step``, after MuJoCo's at most ``dt_step``. Call it before
        ``progress_buf`` is incremented. (Not detectable in an episode's first step: rare, harmless.)
        MuJoCo Warp does not reset a world by itself: there, a world whose ``qpos`` or ``qvel`` is not
        finite ends the same way.
        """
        if self.physics is not None:
            self._sim_reset.copy_(self.physics.unstable())
            dead.logical_or_(self._sim_reset)
            return
        if not self._on_host:
            self._sim_time.copy_(self._time_t)
        torch.addcmul(self._half_step_time, self.progress_buf, self._step_time, out=self._time_floor)
        torch.lt(self._sim_time, self._time_floor, out=self._sim_reset)
        dead.logical_or_(self._sim_reset)

    def _state_block(self) -> Optional[torch.Tensor]:
        """One (N, 1+nq+2nv) float64 tensor over [time, qpos, qvel, qacc_warmstart]
        when the Batch stores them contiguously in each sim's state row, else None."""
        v = self._np_views
        t, q, qv, ws = v["time"], v["qpos"], v["qvel"], v["qacc_warmstart"]
        nq, nv, isz = q.shape[1], qv.shape[1], t.itemsize
        row = t.strides[0]
        ok = (
            all(a.dtype == np.float64 and a.strides[0] == row for a in (t, q, qv, ws))
            and all(a.strides[1] == isz for a in (q, qv, ws))
            and q.ctypes.data == t.ctypes.data + isz
            and qv.ctypes.data == q.ctypes.data + nq * isz
            and ws.ctypes.data == qv.ctypes.data + nv * isz
        )
        if not ok:
            return None
        block = np.lib.stride_tricks.as_strided(t, shape=(self.num_envs, 1 + nq + 2 * nv), strides=(row, isz),
                                                writeable=True)
        return torch.from_numpy(block)

    # --------------------------------------------------------- to implement
    def create_sim(self) -> None:
        raise NotImplementedError

    def pre_physics_step(self, actions: torch.Tensor) -> None:
        """Continuous actions clamped to [-1, 1] into ``self.actions`` and the simulator's ``ctrl``."""
        torch.clamp(actions.detach().to(self.device), -1.0, 1.0, out=self.actions)
        self._ctrl_t.copy_(self.actions)

    def simulate(self) -> None:
        """One control step: ``substeps`` MuJoCo steps of every env, in C on the Batch's threads (or in
        MuJoCo Warp)."""
        if self.physics is not None:
            self.physics.step(self.substeps)
        else:
            self.batch.step(nstep=self.substeps)

    def post_physics_step(self) -> None:
        raise NotImplementedError

    def reset_all(self) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- API
    def _make_obs_dict(self) -> Dict[str, torch.Tensor]:
        """Fresh tensors each call, as IsaacGymEnvs' ``torch.clamp(obs_buf, ...)``:
        callers may keep the returned observations while obs_buf is rewritten
        in place by the next step."""
        if self.clip_obs != np.inf:
            self.obs_dict["obs"] = torch.clamp(self.obs_buf, -self.clip_obs, self.clip_obs)
        else:
            self.obs_dict["obs"] = self.obs_buf.clone()
        if self.num_states > 0:
            self.obs_dict["states"] = torch.clamp(self.states_buf, -self.clip_obs, self.clip_obs)
        return self.obs_dict

    def step(self, actions: torch.Tensor):
        """Apply actions, simulate one control step, compute obs/reward, auto-reset.

        Returns ``(obs_dict, rew_buf, reset_buf, extras)`` with
        ``extras["time_outs"]`` the (N,) long flags of episodes that ended by
        the time limit (and not by termination) in this step.
        """
        saved = self._enter_step_threads()
        try:
            self.pre_physics_step(actions)
            for _ in range(self.control_freq_inv):
                self.simulate()
            self.post_physics_step()
            obs_dict = self._make_obs_dict()  # in the scope too: a clone of > 32768 values is a parallel region
        finally:
            self._exit_step_threads(saved)
        self.extras["time_outs"] = self.timeout_buf
        return obs_dict, self.rew_buf, self.reset_buf, self.extras

    def _enter_step_threads(self):
        n = self.step_torch_threads
        if n is None:  # (also with a CUDA rl_device: the state rows are host work)
            return None
        saved = torch.get_num_threads()
        if saved == n:
            return None
        torch.set_num_threads(n)
        return saved

    @staticmethod
    def _exit_step_threads(saved) -> None:
        if saved is not None:
            torch.set_num_threads(saved)

    def reset(self) -> Dict[str, torch.Tensor]:
        """Reset every environment (fresh noise) and return the first observations."""
        saved = self._enter_step_threads()
        try:
            self.reset_all()
            return self._make_obs_dict()
        finally:
            self._exit_step_threads(saved)

    def reset_idx(self, env_ids) -> None:
        """Reset the given environments (a long index tensor or a bool mask)."""
        mask = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        env_ids = torch.as_tensor(env_ids, device=self.device)
        if env_ids.dtype == torch.bool:
            mask |= env_ids
        else:
            mask[env_ids.long()] = True
        self.reset_masked(mask)

    def reset_masked(self, mask: torch.Tensor) -> None:
        raise NotImplementedError

    def render(self, mode: str = "rgb_array"):
        """No-op when headless; the embedded tasks have no viewer otherwise."""
        if self.headless:
            return None
        raise NotImplementedError("the embedded MuJoCo tasks have no viewer; construct them with headless=True")

    def render_qpos(self, count: int = 1) -> np.ndarray:
        """The joint positions ``(count, nq)`` of the first ``count`` environments, as a host float64 copy
        (what an offscreen renderer draws; one small device-to-host copy when the state is on a device)."""
        return self._qpos_t[:count].detach().to("cpu", torch.float64).numpy().copy()

    def close(self) -> None:
        self.batch = None
        if self.physics is not None:
            self.physics.close()

    def set_train_info(self, env_frames, *args, **kwargs) -> None:  # IsaacGymEnvs hook
        pass

    def get_state(self) -> Dict[str, Any]:
        """The task's whole state, for an exact resume: every tensor it holds (device buffers, and the
        simulator's state rows through the host views) and its RNG. ``set_state`` restores it in place."""
        tensors = {k: v.detach().clone() for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        return {"tensors": tensors, "rng": self.rng.get_state(), "num_envs": self.num_envs,
                "task": type(self).__name__}

    def set_state(self, state: Dict[str, Any]) -> None:
        """Restore a :meth:`get_state` snapshot (same task and num_envs) in place."""
        if state.get("task") != type(self).__name__ or state.get("num_envs") != self.num_envs:
            raise ValueError(f"environment state of a {state.get('task')} with {state.get('num_envs')} envs cannot "
                             f"be restored into a {type(self).__name__} with {self.num_envs} envs")
        with torch.no_grad():
            for name, value in state["tensors"].items():
                current = getattr(self, name, None)
                if isinstance(current, torch.Tensor) and current.shape == value.shape:
                    current.copy_(value)
        self.rng.set_state(state["rng"].cpu())  # a generator state is a CPU ByteTensor, even for CUDA generators

    def get_env_state(self):
        return None

    def set_env_state(self, env_state) -> None:
        pass

    @staticmethod
    def merged_cfg(base: Dict[str, Any], overrides: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """Deep-merge ``overrides`` into a copy of ``base``."""
        out = copy.deepcopy(base)
        for key, value in (overrides or {}).items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = VecTask.merged_cfg(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
