"""What Ant and Humanoid (IsaacGymEnvs' locomotion tasks) share: their reward-scale config, the
persistent buffers of a step, the observation head (torso height, velocities in the torso frame, Euler
angles, heading and up projections), the reward's common terms, the episode bookkeeping after each step
and the masked resets.

Subclasses set ``NUM_OBS``, ``NUM_ACTIONS`` (one action per DOF), ``DEFAULT_SUBSTEPS`` and
``CFG_DEFAULTS`` (the task's ``cfg["env"]`` keys read into attributes, with IsaacGymEnvs' defaults). Their
``create_sim`` loads the model, builds the Batch (``_create_batch``) and calls
:meth:`LocomotionTask._create_locomotion_buffers`, then set ``_energy_w`` (energyCost's weight on
``|a| |v|``: a float, or one per DOF). They implement:

* ``_fill_obs_scale(scale, offset)``: their own columns of the observation's scale and offset;
* ``_read_sensors()``: the sensor columns of the raw observation (after the state is read);
* ``_finish_angles()``: the task's angle conventions for yaw, roll and angle_to_target;
* ``_initial_angles(yaw, roll, att)``: the same conventions for the first observation of an episode;
* ``_joints_at_limit_cost()``: the joint-limit cost, added to ``_cost``.

The observation layout is IsaacGymEnvs': ``[0:12]`` the head, then the DOF positions and velocities
(``2 * NUM_ACTIONS`` columns), then task columns, and the step's actions last.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import mujoco
import numpy as np
import torch

from skrl_isaac_envs.base.mjcf import sim_timing
from skrl_isaac_envs.base.vec_task import VecTask

# cfg["env"] key -> attribute
CFG_ATTRIBUTES = {
    "dofVelocityScale": "dof_vel_scale",
    "angularVelocityScale": "angular_velocity_scale",
    "contactForceScale": "contact_force_scale",
    "powerScale": "power_scale",
    "headingWeight": "heading_weight",
    "upWeight": "up_weight",
    "actionsCost": "actions_cost_scale",
    "energyCost": "energy_cost_scale",
    "jointsAtLimitCost": "joints_at_limit_cost_scale",
    "deathCost": "death_cost",
    "terminationHeight": "termination_height",
    "aliveReward": "alive_reward",
}


class LocomotionTask(VecTask):
    """Base of the embedded Ant and Humanoid (see the module docstring)."""

    NUM_OBS: int
    NUM_ACTIONS: int
    DEFAULT_SUBSTEPS: int
    CFG_DEFAULTS: Dict[str, float]

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
        env = cfg["env"]
        for key, default in self.CFG_DEFAULTS.items():
            setattr(self, CFG_ATTRIBUTES[key], float(env.get(key, default)))
        self.dt, self.substeps = sim_timing(cfg, default_substeps=self.DEFAULT_SUBSTEPS)
        env["numObservations"] = self.NUM_OBS
        env["numActions"] = self.NUM_ACTIONS
        super().__init__(cfg, rl_device, sim_device, graphics_device_id, headless, virtual_screen_capture, force_render)
        self.reset_all()

    # ------------------------------------------------------------ the task's part
    def _fill_obs_scale(self, scale: np.ndarray, offset: np.ndarray) -> None:
        raise NotImplementedError

    def _read_sensors(self) -> None:
        raise NotImplementedError

    def _finish_angles(self) -> None:
        raise NotImplementedError

    def _initial_angles(self, yaw: float, roll: float, att: float) -> Tuple[float, float, float]:
        raise NotImplementedError

    def _joints_at_limit_cost(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ buffers
    def _create_locomotion_buffers(self, m: mujoco.MjModel) -> None:
        """The persistent buffers and their views: a step is a fixed sequence of out=/in-place ops on them
        (no per-step slicing or allocation). ``m`` is the task's model (free root joint, then one hinge
        per action)."""
        n, dev, nd = self.num_envs, self.device, self.NUM_ACTIONS
        nq, nv, n_obs = m.nq, m.nv, self.NUM_OBS
        f32 = dict(device=dev, dtype=torch.float32)
        lo_n, hi_n = m.jnt_range[1:, 0].copy(), m.jnt_range[1:, 1].copy()
        self.dof_limits_lower, self.dof_limits_upper = torch.tensor(lo_n, **f32), torch.tensor(hi_n, **f32)
        init_dof_n = np.where(lo_n > 0, lo_n, np.where(hi_n < 0, hi_n, 0.0))  # IsaacGymEnvs initial_dof_pos
        self.initial_dof_pos = torch.tensor(init_dof_n, **f32)
        self.initial_root_pose = torch.tensor(m.qpos0[:7], **f32)
        self.targets = torch.tensor([1000.0, 0.0, 0.0], **f32)

        # the state [qpos, qvel] in float32
        self._x = x = torch.zeros((n, nq + nv), **f32)
        self._x_pos_xy, self._x_z = x[:, 0:2], x[:, 2]
        quat = x[:, 3:7]  # w, x, y, z
        self._x_quat_a, self._x_quat_b = quat.unsqueeze(2), quat.unsqueeze(1)
        self._x_linvel_b = x[:, nq:nq + 3].unsqueeze(1)
        self._x_angvel = x[:, nq + 3:nq + 6]
        self._x_dofs2 = x.as_strided((n, 2, nd), (x.stride(0), nv, 1), x.storage_offset() + 7)  # dof pos | vel
        # a sim that ran away (|qvel| beyond sim.max_qvel, or NaN) without MuJoCo resetting it ends as dead
        self.max_qvel = float((self.cfg.get("sim") or {}).get("max_qvel", 1000.0))
        if not self.max_qvel > 0:
            raise ValueError(f"cfg['sim']['max_qvel'] must be > 0, got {self.max_qvel!r}")
        self._x_qvel = x[:, nq:]
        self._qvel_abs = torch.zeros((n, nv), **f32)
        self._qvel_max = torch.zeros(n, **f32)
        self._calm = torch.zeros(n, device=dev, dtype=torch.bool)
        # the observation before scale and offset
        self._raw = raw = torch.zeros((n, n_obs), **f32)
        self._r_z, self._r_vel, self._r_angvel = raw[:, 0], raw[:, 1:4], raw[:, 4:7]
        self._r_ang, self._r_yaw, self._r_att = raw[:, 7:9], raw[:, 7], raw[:, 9]
        self._r_up, self._r_heading = raw[:, 10], raw[:, 11]
        self._r_dofs2 = raw[:, 12:12 + 2 * nd].view(n, 2, nd)
        self.actions = raw[:, n_obs - nd:]  # this step's (clamped) actions, as the obs holds them
        # rotation matrix and Euler-angle arguments from the quaternion's outer product
        self._qq = torch.zeros((n, 4, 4), **f32)
        rot_index, rot_weight, rot_const = _quat_products_to_rotation()
        self._rot_index = torch.tensor(rot_index, device=dev, dtype=torch.long)
        self._rot_w0 = torch.tensor(rot_weight[0::2], **f32)
        self._rot_w1 = torch.tensor(rot_weight[1::2], **f32)
        self._rot_const = torch.tensor(rot_const, **f32)
        self._sel = torch.zeros((n, 26), **f32)
        self._sel_0, self._sel_1 = self._sel[:, 0::2], self._sel[:, 1::2]
        self._X = X = torch.zeros((n, 13), **f32)
        self._X_rt = X[:, :9].unflatten(1, (3, 3))  # R^T
        self._X_num, self._X_den, self._X_up, self._X_head = X[:, 9:11], X[:, 11:13], X[:, 8], X[:, 0:2]
        self._rv = torch.zeros((n, 3, 3), **f32)
        self._target_xy = self.targets[:2].clone()
        self._d = torch.zeros((n, 2), **f32)
        self._d_x = self._d[:, 0]
        self._dist = torch.zeros(n, **f32)

        scale, offset = np.ones(n_obs), np.zeros(n_obs)
        scale[12:12 + nd] = 2.0 / (hi_n - lo_n)  # dof positions unscaled to [-1, 1]
        offset[12:12 + nd] = -(hi_n + lo_n) / (hi_n - lo_n)
        scale[12 + nd:12 + 2 * nd] = self.dof_vel_scale
        self._fill_obs_scale(scale, offset)
        self._obs_scale = torch.tensor(scale, **f32)
        self._obs_off = torch.tensor(offset, **f32)
        obs = self.obs_buf
        self._o_z, self._o_up, self._o_heading = obs[:, 0], obs[:, 10], obs[:, 11]
        self._o_abs = torch.zeros((n, n_obs - 12), **f32)  # |obs[:, 12:]|
        self._o_tail = obs[:, 12:]
        self._abs_dp, self._abs_dv, self._abs_a = self._o_abs[:, 0:nd], self._o_abs[:, nd:2 * nd], self._o_abs[:, -nd:]

        # reward / episode buffers
        self.potentials = torch.zeros(n, **f32)
        self.prev_potentials = torch.zeros(n, **f32)
        self._pot0 = -math.hypot(1000.0 - float(m.qpos0[0]), float(m.qpos0[1])) / self.dt
        self._u = torch.zeros((n, nd), **f32)
        self._cost = torch.zeros(n, **f32)
        self._lim = torch.zeros(n, **f32)
        self._head = torch.zeros(n, **f32)
        self._upb = torch.zeros(n, device=dev, dtype=torch.bool)
        self._dead = torch.zeros(n, device=dev, dtype=torch.bool)
        self._timeout_b = torch.zeros(n, device=dev, dtype=torch.bool)
        self._reset_b = torch.zeros(n, device=dev, dtype=torch.bool)
        self._reset_col = self._reset_b.unsqueeze(1)

        # reset noise: [dof pos | dof vel] = clamp(off + U(0,1) * scale)
        self._noise = torch.zeros((n, 2 * nd), **f32)
        self._new = torch.zeros((n, 2 * nd), **f32)
        self._new2 = self._new.view(n, 2, nd)
        self._noise_scale = torch.tensor([0.4] * nd + [0.2] * nd, **f32)
        self._noise_off = torch.tensor(np.concatenate([init_dof_n - 0.2, np.full(nd, -0.1)]), **f32)
        self._noise_lo = torch.tensor(np.concatenate([lo_n, np.full(nd, -np.inf)]), **f32)
        self._noise_hi = torch.tensor(np.concatenate([hi_n, np.full(nd, np.inf)]), **f32)
        # a reset env's state row [time, qpos, qvel, warmstart] (the simulator's device and dtype):
        # time 0, root at its initial pose at rest, warmstart 0, dofs from _new
        ncol = 1 + nq + 2 * nv
        self._rows = torch.zeros((n, ncol), device=self._host, dtype=self._qpos_t.dtype)
        self._rows[:, 1:8] = torch.from_numpy(m.qpos0[:7].copy())
        self._rows_dofs2 = self._rows.as_strided((n, 2, nd), (ncol, nv, 1), 1 + 7)
        self._mask_h = self._reset_b if self._on_host else torch.zeros(n, dtype=torch.bool, device=self._host)
        self._mask_h_col = self._mask_h.unsqueeze(1)
        # first observation of a new episode: constant head (computed from the initial pose at rest),
        # scaled dofs from _new, zero task columns and actions
        self._obs_new = torch.zeros((n, n_obs), **f32)
        self._obs_new[:, :12] = torch.tensor(self._initial_obs_head(m.qpos0[:7]), **f32)
        self._obs_new_dofs = self._obs_new[:, 12:12 + 2 * nd]
        self._reset_obs_scale = self._obs_scale[12:12 + 2 * nd].clone()
        self._reset_obs_off = self._obs_off[12:12 + 2 * nd].clone()

    def _initial_obs_head(self, root: np.ndarray) -> np.ndarray:
        """obs[0:12] of a root pose at rest (numpy, independent of the torch path)."""
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, root[3:7])
        r = rot.reshape(3, 3)
        to_target = np.array([1000.0 - root[0], -root[1], 0.0])
        heading = float(r[:, 0] @ (to_target / np.linalg.norm(to_target)))
        yaw, roll, att = self._initial_angles(math.atan2(r[1, 0], r[0, 0]), math.atan2(r[2, 1], r[2, 2]),
                                              math.atan2(0.0 - root[2], 1000.0 - root[0]))
        return np.array([root[2], 0, 0, 0, 0, 0, 0, yaw, roll, att, r[2, 2], heading])

    # ------------------------------------------------------------------ step
    def _read_state(self) -> None:
        if self._block_t is not None:
            self._x.copy_(self._block_x)
        else:
            nq = self.model.nq
            self._x[:, :nq].copy_(self._qpos_t)
            self._x[:, nq:].copy_(self._qvel_t)
        self._read_sensors()

    def _compute_observations(self) -> None:
        """obs_buf from the state in _x / _raw (sensors, actions); also _dist."""
        # rotation matrix (R^T, row-major) and the Euler-angle arguments from the quaternion's outer
        # product; no mm/bmm here: MKL would wake its OpenMP threads, which then fight the simulator's
        # (+0.4 ms at N=256)
        torch.mul(self._x_quat_a, self._x_quat_b, out=self._qq)
        torch.index_select(self._qq.view(self.num_envs, 16), 1, self._rot_index, out=self._sel)
        torch.addcmul(self._rot_const, self._sel_0, self._rot_w0, out=self._X)
        self._X.addcmul_(self._sel_1, self._rot_w1)
        torch.atan2(self._X_num, self._X_den, out=self._r_ang)  # yaw, roll in [-pi, pi]
        torch.sub(self._target_xy, self._x_pos_xy, out=self._d)
        torch.linalg.vector_norm(self._d, dim=1, out=self._dist)
        torch.linalg.vecdot(self._X_head, self._d, out=self._r_heading).div_(self._dist)
        torch.atan2(self._x_z, self._d_x, out=self._r_att)
        self._finish_angles()
        torch.mul(self._X_rt, self._x_linvel_b, out=self._rv)
        torch.sum(self._rv, 2, out=self._r_vel)  # R^T v
        self._r_z.copy_(self._x_z)
        self._r_angvel.copy_(self._x_angvel)  # MuJoCo's free-joint angular velocity is body-frame
        self._r_dofs2.copy_(self._x_dofs2)
        self._r_up.copy_(self._X_up)
        torch.addcmul(self._obs_off, self._raw, self._obs_scale, out=self.obs_buf)

    def _compute_reward(self) -> None:
        """rew_buf, _dead, potentials (IsaacGymEnvs compute_ant_reward / compute_humanoid_reward)."""
        pot_new, pot_old = self.prev_potentials, self.potentials
        torch.mul(self._dist, -1.0 / self.dt, out=pot_new)
        rew = torch.sub(pot_new, pot_old, out=self.rew_buf)  # progress
        torch.abs(self._o_tail, out=self._o_abs)
        # actionsCost a^2 + energyCost |a| |v| w = |a| . (actionsCost |a| + energyCost w |v|)
        torch.mul(self._abs_dv, self._energy_w, out=self._u).add_(self._abs_a, alpha=self.actions_cost_scale)
        torch.linalg.vecdot(self._abs_a, self._u, out=self._cost)
        self._joints_at_limit_cost()
        torch.mul(self._o_heading, self.heading_weight / 0.8, out=self._head).clamp_(max=self.heading_weight)
        self._head.sub_(self._cost)
        rew.add_(self._head)
        torch.gt(self._o_up, 0.93, out=self._upb)
        rew.add_(self._upb, alpha=self.up_weight).add_(self.alive_reward)
        torch.lt(self._o_z, self.termination_height, out=self._dead)
        self._or_simulator_resets(self._dead)
        self._or_runaway(self._dead)
        rew.masked_fill_(self._dead, self.death_cost)
        self.prev_potentials, self.potentials = pot_old, pot_new

    def _or_runaway(self, dead: torch.Tensor) -> None:
        """Mark in ``dead`` the sims whose joint velocities ran away (any ``|qvel| > sim.max_qvel``, default 1000,
        or not finite) without MuJoCo resetting them: such a step's energy cost and observations are
        numerical garbage (rewards of -1e3 and worse), which would poison the observation and value
        normalizers' running statistics for the rest of training. The episode ends as terminated, with the
        death cost, and restarts from a fresh state. On the device, no host sync."""
        torch.abs(self._x_qvel, out=self._qvel_abs)
        torch.amax(self._qvel_abs, dim=1, out=self._qvel_max)
        torch.le(self._qvel_max, self.max_qvel, out=self._calm)  # NaN compares False: not calm
        dead.logical_or_(self._calm.logical_not_())

    def post_physics_step(self) -> None:
        self._read_state()
        self._compute_observations()
        self._compute_reward()
        # episode bookkeeping
        self.progress_buf.add_(1)
        torch.ge(self.progress_buf, self.max_episode_length - 1, out=self._timeout_b)
        torch.logical_or(self._dead, self._timeout_b, out=self._reset_b)
        torch.gt(self._reset_b, self._dead, out=self.timeout_buf)  # timed out and not terminated
        self.reset_buf.copy_(self._reset_b)
        self._reset_envs()

    def _reset_envs(self) -> None:
        """Reset the environments flagged in _reset_b with masked writes only."""
        self._noise.uniform_(generator=self.rng)  # (torch.rand(out=_noise)'s numbers, without its resize)
        torch.addcmul(self._noise_off, self._noise, self._noise_scale, out=self._new).clamp_(self._noise_lo, self._noise_hi)
        # simulator state rows
        self._rows_dofs2.copy_(self._new2)
        if not self._on_host:
            self._mask_h.copy_(self._reset_b)
        if self._block_t is not None:
            torch.where(self._mask_h_col, self._rows, self._block_t, out=self._block_t)
        else:
            m1, rows, nq, nv = self._mask_h_col, self._rows, self.model.nq, self.model.nv
            self._qpos_t.copy_(torch.where(m1, rows[:, 1:1 + nq], self._qpos_t))
            self._qvel_t.copy_(torch.where(m1, rows[:, 1 + nq:1 + nq + nv], self._qvel_t))
            self._ws_t.masked_fill_(m1, 0.0)
            self._time_t.masked_fill_(self._mask_h, 0.0)
        # first observations of the new episodes
        torch.addcmul(self._reset_obs_off, self._new, self._reset_obs_scale, out=self._obs_new_dofs)
        torch.where(self._reset_col, self._obs_new, self.obs_buf, out=self.obs_buf)
        self.potentials.masked_fill_(self._reset_b, self._pot0)
        self.prev_potentials.masked_fill_(self._reset_b, self._pot0)
        self.progress_buf.masked_fill_(self._reset_b, 0)

    def reset_masked(self, mask: torch.Tensor) -> None:
        """Reset the environments where mask (N,) is True (masked writes only)."""
        self._reset_b.copy_(mask)
        self._reset_envs()

    def reset_all(self) -> None:
        self.reset_masked(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        self.reset_buf.zero_()
        self.timeout_buf.zero_()
        self.rew_buf.zero_()
        self.actions.zero_()
        self._reset_b.zero_()


def _quat_products_to_rotation():
    """Index/weight tables turning the 16 products q_a * q_b of a unit
    quaternion q = (w, x, y, z) (flattened outer product) into 13 columns:
    the rotation matrix R column-major [R00, R10, R20, R01, R11, R21, R02, R12,
    R22] (= R^T row-major), then [R10, R21] (yaw, roll numerators) and
    [R00, R22] (their denominators).  Column c = sum_k W[c, k] * qq[I[c, k]] + C[c]
    with two terms each (diagonals use |q| = 1: R00 = 2(w^2 + x^2) - 1, ...)."""
    w, x, y, z = range(4)
    terms = {
        "00": ((w, w, 2), (x, x, 2), -1), "11": ((w, w, 2), (y, y, 2), -1), "22": ((w, w, 2), (z, z, 2), -1),
        "10": ((x, y, 2), (w, z, 2), 0), "01": ((x, y, 2), (w, z, -2), 0),
        "20": ((x, z, 2), (w, y, -2), 0), "02": ((x, z, 2), (w, y, 2), 0),
        "21": ((y, z, 2), (w, x, 2), 0), "12": ((y, z, 2), (w, x, -2), 0),
    }
    cols = ["00", "10", "20", "01", "11", "21", "02", "12", "22", "10", "21", "00", "22"]
    index, weight, const = [], [], []
    for key in cols:
        (a1, b1, s1), (a2, b2, s2), c = terms[key]
        index += [a1 * 4 + b1, a2 * 4 + b2]
        weight += [s1, s2]
        const.append(c)
    return np.array(index), np.array(weight, dtype=np.float64), np.array(const, dtype=np.float64)
