"""IsaacGymEnvs' Humanoid task, simulated batched with ``mujoco.batch.Batch``.

Task definition (as IsaacGymEnvs ``tasks/humanoid.py``):

* 108 observations (``compute_humanoid_observations``): [0] torso height,
  [1:4] torso linear velocity and [4:7] angular velocity * angularVelocityScale
  in the torso frame, [7] yaw, [8] roll, [9] angle_to_target (all three
  wrapped to [-pi, pi] by ``normalize_angle``), [10] up_proj, [11]
  heading_proj, [12:33] DOF positions unscaled to [-1, 1] by the joint limits,
  [33:54] DOF velocities * dofVelocityScale, [54:75] DOF forces *
  contactForceScale, [75:87] the two foot force/torque sensors (right foot,
  then left) * contactForceScale, [87:108] the actions of the step.
  ``angle_to_target`` keeps IsaacGymEnvs' formula verbatim:
  ``normalize_angle(atan2(target_z - z, target_x - x) - yaw)``.
  DOF force: Isaac Gym's DOF force sensor reports the force along each DOF
  (drive + joint limit); here it is MuJoCo's motor torque plus joint-limit
  torque of each hinge (``jointactuatorfrc`` + ``jointlimitfrc`` sensors).
* 21 actions, clamped to [-1, 1], written to ``ctrl``; the motors apply
  ``ctrl * motor_effort * powerScale`` (nv_humanoid's efforts are the MJCF
  gears; powerScale is folded into the gear at load time).  Action i drives
  DOF i.
* reward (``compute_humanoid_reward``) = progress (potential - previous
  potential, potential = -|to_target_xy| / dt) + 2.0 alive + upWeight if
  up_proj > 0.93 + headingWeight * min(heading_proj / 0.8, 1)
  - actionsCost * sum(a^2)
  - energyCost * sum(|a * dof_vel_scaled| * motor_effort / max_motor_effort)
  - sum(jointsAtLimitCost * (|dof_pos_scaled| - 0.98) / 0.02
        * (|dof_pos_scaled| > 0.98) * motor_effort / max_motor_effort);
  reward = deathCost (-1) and reset where torso height < terminationHeight
  (0.8); time-out reset where progress >= episodeLength - 1 (``time_outs`` =
  1 there unless the env also terminated).
* reset: root at its initial pose (z = 1.34) at rest, DOF positions =
  initial (each joint's limit nearest to 0, as IsaacGymEnvs; all 0 here) +
  U(-0.2, 0.2) clamped to the limits, DOF velocities U(-0.1, 0.1); noise from
  a seeded ``torch.Generator``.  The first observation of a new episode is
  computed from that state with DOF forces, foot sensors and previous actions
  at zero (no forward pass is run for it).

Simulation fidelity (``cfg["sim"]``): IsaacGymEnvs runs the Humanoid at
dt = 0.0166 (60 Hz control) with 2 PhysX substeps.  Here the default is
``substeps: 3`` MuJoCo steps of dt / 3 = 0.00553 s (nv_humanoid's own MJCF
timestep is 0.00555), Euler integrator, Newton solver.  Measured on this
2-core CPU with random actions (256 envs, 150 steps, no resets): 2 substeps
(~22k raw env-steps/s) blew up (|qvel| ~1e5, MuJoCo "unstable" warnings; the
same with implicitfast and without self-collisions), 3 substeps (~13k raw)
stayed bounded (max |qvel| 190).  ``sim.substeps: 2`` selects the faster
variant at your own risk.

Sensors are computed in the last substep's forward pass (MuJoCo's derived
fields are one substep behind ``qpos``/``qvel``), like PhysX sensors read
after ``simulate``.

Performance: as ``envs.ant.Ant``: one host->device copy of the Batch's
contiguous state rows when the layout allows it, the rotation from one
gather over the quaternion's outer product (no mm/bmm), obs scaling/offsets
as one ``addcmul`` over the raw row, resets as two ``torch.where`` writes.
"""

from __future__ import annotations

import math
import os

import mujoco
import numpy as np
import torch

from envs.ant import _quat_products_to_rotation
from envs.base.locomotion import LocomotionTask
from envs.base.mjcf import load_model, nthread

ASSET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "humanoid.xml")

_NDOF = 21
# observation layout
_O_DP, _O_DV, _O_DF, _O_SENS, _O_ACT = 12, 33, 54, 75, 87
# sensordata layout: motor torques (21), joint-limit torques (21), feet (12)
_S_ACT, _S_LIM, _S_FEET = 0, 21, 42


class Humanoid(LocomotionTask):
    """IsaacGymEnvs' Humanoid on ``mujoco.batch.Batch`` (see the module docstring)."""

    NUM_OBS = 108
    NUM_ACTIONS = 21

    DEFAULT_SUBSTEPS = 3
    CFG_DEFAULTS = {  # cfg["env"] key: IsaacGymEnvs' default
        "dofVelocityScale": 0.1,
        "angularVelocityScale": 0.25,
        "contactForceScale": 0.01,
        "powerScale": 1.0,
        "headingWeight": 0.5,
        "upWeight": 0.1,
        "actionsCost": 0.01,
        "energyCost": 0.05,
        "jointsAtLimitCost": 0.25,
        "deathCost": -1.0,
        "terminationHeight": 0.8,
        "aliveReward": 2.0,
    }

    # ------------------------------------------------------------------ model
    def _load_model(self) -> mujoco.MjModel:
        m = load_model(self.cfg, ASSET, self.dt, self.substeps)
        self.motor_efforts_np = m.actuator_gear[:, 0].copy()  # nv_humanoid's motor efforts (before powerScale)
        m.actuator_gear[:, 0] *= self.power_scale
        return m

    def create_sim(self) -> None:
        n, dev, nd = self.num_envs, self.device, _NDOF
        m = self._load_model()
        assert m.nu == nd and m.nq == 7 + nd and m.nv == 6 + nd and m.na == 0 and m.nsensordata == 54
        assert np.array_equal(m.actuator_trnid[:, 0], np.arange(1, nd + 1))  # action i drives DOF i
        self._create_batch(m, nthread(self.cfg))
        nq, nv = m.nq, m.nv

        f32 = dict(device=dev, dtype=torch.float32)
        lo_n, hi_n = m.jnt_range[1:, 0].copy(), m.jnt_range[1:, 1].copy()
        lo, hi = torch.tensor(lo_n, **f32), torch.tensor(hi_n, **f32)
        self.dof_limits_lower, self.dof_limits_upper = lo, hi
        init_dof_n = np.where(lo_n > 0, lo_n, np.where(hi_n < 0, hi_n, 0.0))  # IsaacGymEnvs initial_dof_pos
        self.initial_dof_pos = torch.tensor(init_dof_n, **f32)
        self.initial_root_pose = torch.tensor(m.qpos0[:7], **f32)
        self.targets = torch.tensor([1000.0, 0.0, 0.0], **f32)
        effort = self.motor_efforts_np
        self.motor_efforts = torch.tensor(effort, **f32)
        self.max_motor_effort = float(effort.max())

        # -- persistent buffers and their views (step() is a fixed sequence of out=/in-place ops)
        self._x = x = torch.zeros((n, nq + nv), **f32)  # [qpos, qvel]
        self._x_pos_xy, self._x_z = x[:, 0:2], x[:, 2]
        quat = x[:, 3:7]  # w, x, y, z
        self._x_quat_a, self._x_quat_b = quat.unsqueeze(2), quat.unsqueeze(1)
        self._x_linvel_b = x[:, nq:nq + 3].unsqueeze(1)
        self._x_angvel = x[:, nq + 3:nq + 6]
        self._x_dofs2 = x.as_strided((n, 2, nd), (x.stride(0), nv, 1), x.storage_offset() + 7)  # dof pos | dof vel
        self._raw = raw = torch.zeros((n, self.NUM_OBS), **f32)  # obs before scale/offset
        self._r_z, self._r_vel, self._r_angvel = raw[:, 0], raw[:, 1:4], raw[:, 4:7]
        self._r_ang, self._r_yaw, self._r_att = raw[:, 7:9], raw[:, 7], raw[:, 9]
        self._r_up, self._r_heading = raw[:, 10], raw[:, 11]
        self._r_dofs2 = raw[:, _O_DP:_O_DF].view(n, 2, nd)
        self._r_dof_force = raw[:, _O_DF:_O_SENS]
        self._r_sens = raw[:, _O_SENS:_O_ACT]
        self.actions = raw[:, _O_ACT:]  # this step's (clamped) actions, as the obs holds them
        # sensors: the live host view itself on the CPU, else a device copy refreshed each step
        self._sens = self._sens_t if self._on_host else torch.zeros(self._sens_t.shape, device=dev,
                                                                    dtype=self._sens_t.dtype)
        self._s_act = self._sens[:, _S_ACT:_S_ACT + nd]
        self._s_lim = self._sens[:, _S_LIM:_S_LIM + nd]
        self._s_feet = self._sens[:, _S_FEET:_S_FEET + 12]
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

        scale, offset = np.ones(self.NUM_OBS), np.zeros(self.NUM_OBS)
        scale[4:7] = self.angular_velocity_scale
        # raw column 9 holds remainder(atan2(z - target_z, target_x - x) + yaw + pi, 2 pi) in [0, 2 pi):
        # obs = pi - raw = normalize_angle(atan2(target_z - z, target_x - x) - yaw) in (-pi, pi]
        scale[9], offset[9] = -1.0, math.pi
        scale[_O_DP:_O_DV] = 2.0 / (hi_n - lo_n)
        offset[_O_DP:_O_DV] = -(hi_n + lo_n) / (hi_n - lo_n)
        scale[_O_DV:_O_DF] = self.dof_vel_scale
        scale[_O_DF:_O_ACT] = self.contact_force_scale
        self._obs_scale = torch.tensor(scale, **f32)
        self._obs_off = torch.tensor(offset, **f32)
        obs = self.obs_buf
        self._o_z, self._o_up, self._o_heading = obs[:, 0], obs[:, 10], obs[:, 11]
        self._o_abs = torch.zeros((n, self.NUM_OBS - _O_DP), **f32)  # |obs[:, 12:108]|
        self._o_tail = obs[:, _O_DP:]
        self._abs_dp = self._o_abs[:, 0:nd]
        self._abs_dv = self._o_abs[:, nd:2 * nd]
        self._abs_a = self._o_abs[:, _O_ACT - _O_DP:]

        # reward / episode buffers
        self.potentials = torch.zeros(n, **f32)
        self.prev_potentials = torch.zeros(n, **f32)
        self._pot0 = -math.hypot(1000.0 - float(m.qpos0[0]), float(m.qpos0[1])) / self.dt
        # energyCost * motor_effort_ratio and jointsAtLimitCost / 0.02 * motor_effort_ratio per DOF
        # (IsaacGymEnvs weighs both costs by the effort *ratio*, effort / max effort, in [1/6, 1])
        effort_ratio = effort / self.max_motor_effort
        self._energy_w = torch.tensor(self.energy_cost_scale * effort_ratio, **f32)
        self._limit_w = torch.tensor(self.joints_at_limit_cost_scale / 0.02 * effort_ratio, **f32)
        self._u = torch.zeros((n, nd), **f32)
        self._over = torch.zeros((n, nd), **f32)
        self._cost = torch.zeros(n, **f32)
        self._lim = torch.zeros(n, **f32)
        self._head = torch.zeros(n, **f32)
        self._upb = torch.zeros(n, device=dev, dtype=torch.bool)
        self._dead = torch.zeros(n, device=dev, dtype=torch.bool)
        self._timeout_b = torch.zeros(n, device=dev, dtype=torch.bool)
        self._reset_b = torch.zeros(n, device=dev, dtype=torch.bool)
        self._reset_col = self._reset_b.unsqueeze(1)

        # reset noise: [dof pos (21) | dof vel (21)] = clamp(off + U(0,1) * scale)
        self._noise = torch.zeros((n, 2 * nd), **f32)
        self._new = torch.zeros((n, 2 * nd), **f32)
        self._new2 = self._new.view(n, 2, nd)
        self._noise_scale = torch.tensor([0.4] * nd + [0.2] * nd, **f32)
        self._noise_off = torch.tensor(np.concatenate([init_dof_n - 0.2, np.full(nd, -0.1)]), **f32)
        self._noise_lo = torch.tensor(np.concatenate([lo_n, np.full(nd, -np.inf)]), **f32)
        self._noise_hi = torch.tensor(np.concatenate([hi_n, np.full(nd, np.inf)]), **f32)
        # a reset env's state row [time, qpos, qvel, warmstart] (host, float64):
        # time 0, root at its initial pose at rest, warmstart 0, dofs from _new
        ncol = 1 + nq + 2 * nv
        self._rows = torch.zeros((n, ncol), device=self._host, dtype=torch.float64)
        self._rows[:, 1:8] = torch.from_numpy(m.qpos0[:7].copy())
        self._rows_dofs2 = self._rows.as_strided((n, 2, nd), (ncol, nv, 1), 1 + 7)
        self._mask_h = self._reset_b if self._on_host else torch.zeros(n, dtype=torch.bool, device=self._host)
        self._mask_h_col = self._mask_h.unsqueeze(1)
        # first observation of a new episode: constant head (initial pose at rest),
        # scaled dofs from _new, zero DOF forces / sensors / actions
        self._obs_new = torch.zeros((n, self.NUM_OBS), **f32)
        self._obs_new[:, :12] = torch.tensor(self._initial_obs_head(m.qpos0[:7]), **f32)
        self._obs_new_dofs = self._obs_new[:, _O_DP:_O_DF]
        self._reset_obs_scale = self._obs_scale[_O_DP:_O_DF].clone()
        self._reset_obs_off = self._obs_off[_O_DP:_O_DF].clone()

    def _initial_obs_head(self, root: np.ndarray) -> np.ndarray:
        """obs[0:12] of a root pose at rest (numpy, independent of the torch path)."""
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, root[3:7])
        r = rot.reshape(3, 3)
        yaw = math.atan2(r[1, 0], r[0, 0])
        roll = math.atan2(r[2, 1], r[2, 2])
        to_target = np.array([1000.0 - root[0], -root[1], 0.0])
        heading = float(r[:, 0] @ (to_target / np.linalg.norm(to_target)))
        att = math.atan2(0.0 - root[2], 1000.0 - root[0]) - yaw
        att = math.atan2(math.sin(att), math.cos(att))
        return np.array([root[2], 0, 0, 0, 0, 0, 0, yaw, roll, att, r[2, 2], heading])

    # ------------------------------------------------------------------ step
    def _read_state(self) -> None:
        nq = self.model.nq
        if self._block_t is not None:
            self._x.copy_(self._block_x)
        else:
            self._x[:, :nq].copy_(self._qpos_t)
            self._x[:, nq:].copy_(self._qvel_t)
        if not self._on_host:
            self._sens.copy_(self._sens_t)
        torch.add(self._s_act, self._s_lim, out=self._r_dof_force)
        self._r_sens.copy_(self._s_feet)

    def _compute_observations(self) -> None:
        """obs_buf from the state in _x / _raw (sensors, actions); also _dist."""
        torch.mul(self._x_quat_a, self._x_quat_b, out=self._qq)
        torch.index_select(self._qq.view(self.num_envs, 16), 1, self._rot_index, out=self._sel)
        torch.addcmul(self._rot_const, self._sel_0, self._rot_w0, out=self._X)
        self._X.addcmul_(self._sel_1, self._rot_w1)
        torch.atan2(self._X_num, self._X_den, out=self._r_ang)  # yaw, roll in [-pi, pi] (normalize_angle)
        torch.sub(self._target_xy, self._x_pos_xy, out=self._d)
        torch.linalg.vector_norm(self._d, dim=1, out=self._dist)
        torch.linalg.vecdot(self._X_head, self._d, out=self._r_heading).div_(self._dist)
        torch.atan2(self._x_z, self._d_x, out=self._r_att).add_(self._r_yaw).add_(math.pi).remainder_(2.0 * math.pi)
        torch.mul(self._X_rt, self._x_linvel_b, out=self._rv)
        torch.sum(self._rv, 2, out=self._r_vel)  # R^T v
        self._r_z.copy_(self._x_z)
        self._r_angvel.copy_(self._x_angvel)  # MuJoCo's free-joint angular velocity is body-frame
        self._r_dofs2.copy_(self._x_dofs2)
        self._r_up.copy_(self._X_up)
        torch.addcmul(self._obs_off, self._raw, self._obs_scale, out=self.obs_buf)

    def _compute_reward(self) -> None:
        """rew_buf, _dead, potentials (IsaacGymEnvs compute_humanoid_reward)."""
        pot_new, pot_old = self.prev_potentials, self.potentials
        torch.mul(self._dist, -1.0 / self.dt, out=pot_new)
        rew = torch.sub(pot_new, pot_old, out=self.rew_buf)  # progress
        torch.abs(self._o_tail, out=self._o_abs)
        # actionsCost a^2 + energyCost |a| |v| effort = |a| . (actionsCost |a| + energyCost effort |v|)
        torch.mul(self._abs_dv, self._energy_w, out=self._u).add_(self._abs_a, alpha=self.actions_cost_scale)
        torch.linalg.vecdot(self._abs_a, self._u, out=self._cost)
        # (|p| - 0.98) * (|p| > 0.98) = relu(|p| - 0.98)
        torch.sub(self._abs_dp, 0.98, out=self._over).clamp_(min=0.0)
        torch.linalg.vecdot(self._over, self._limit_w, out=self._lim)
        self._cost.add_(self._lim)
        torch.mul(self._o_heading, self.heading_weight / 0.8, out=self._head).clamp_(max=self.heading_weight)
        self._head.sub_(self._cost)
        rew.add_(self._head)
        torch.gt(self._o_up, 0.93, out=self._upb)
        rew.add_(self._upb, alpha=self.up_weight).add_(self.alive_reward)
        torch.lt(self._o_z, self.termination_height, out=self._dead)
        self._or_simulator_resets(self._dead)
        rew.masked_fill_(self._dead, self.death_cost)
        self.prev_potentials, self.potentials = pot_old, pot_new
