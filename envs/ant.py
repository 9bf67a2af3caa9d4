"""IsaacGymEnvs' Ant task, simulated batched with ``mujoco.batch.Batch``.

Task definition (as IsaacGymEnvs ``tasks/ant.py``):

* 60 observations: [0] torso height, [1:4] torso linear velocity and [4:7]
  angular velocity in the torso frame (``quat_rotate_inverse(torso_quat, .)``,
  as IsaacGymEnvs' ``compute_rot``), [7] yaw, [8] roll (both ``% 2*pi``, as
  ``get_euler_xyz``), [9] angle_to_target, [10] up_proj, [11] heading_proj,
  [12:20] DOF positions unscaled to [-1, 1] by the joint limits, [20:28] DOF
  velocities * dofVelocityScale, [28:52] the four foot force/torque sensors *
  contactForceScale, [52:60] the actions of the step.
  ``angle_to_target`` keeps IsaacGymEnvs' formula verbatim:
  ``atan2(target_z - z, target_x - x) - yaw`` (written there for a y-up world).
* 8 actions, clamped to [-1, 1], written to ``ctrl``; the motors apply
  ``ctrl * gear(15) * powerScale`` (powerScale is folded into the model's gear
  at load time, so the ctrlrange clamp stays [-1, 1]).  Action i drives DOF i.
* reward = progress (potential - previous potential, potential =
  -|to_target_xy| / dt) + 0.5 alive + upWeight if up_proj > 0.93 +
  headingWeight * min(heading_proj / 0.8, 1) - actionsCost * sum(a^2)
  - energyCost * sum(|a * dof_vel_scaled|)
  - jointsAtLimitCost * count(dof_pos_scaled > 0.99) (IsaacGymEnvs counts the upper limits only);
  reward = deathCost (-2) and reset where torso height < terminationHeight;
  time-out reset where progress >= episodeLength - 1 (``time_outs`` = 1 there
  unless the env also terminated).
* reset: root at its initial pose at rest, DOF positions = initial (each
  joint's limit nearest to 0, as IsaacGymEnvs) + U(-0.2, 0.2) clamped to the
  limits, DOF velocities U(-0.1, 0.1); noise from a seeded ``torch.Generator``.
  The first observation of a new episode is computed from that state with the
  foot sensors and previous actions at zero (no forward pass is run for it).

Simulation fidelity (``cfg["sim"]``): IsaacGymEnvs runs the Ant at dt = 0.0166
(60 Hz control) with 2 PhysX substeps.  Here the default is the same split:
``substeps: 2`` MuJoCo steps of dt / 2 = 0.0083 s per control step, Euler
integrator, Newton solver (50 iterations, tolerance 1e-10, pyramidal cone,
dense Jacobian, as nv_ant).  Measured on this 2-core CPU (random actions):
1 substep of 0.0166 s is ~1.6-1.8x faster but MuJoCo must soften the contacts
(timestep > solref timeconst / 2): feet sink up to 16.6 cm into the floor on
landing (4.9 cm with 2 substeps), and in 1024 envs x 1200 random-action steps
one env blew up (|qvel| 1.6e6, MuJoCo's "unstable" auto-reset) while 2
substeps stayed bounded (max |qvel| 54).  The settled torso height is 0.38 in
both.  ``sim.substeps: 1`` selects the faster variant.  A sim that still goes
unstable (seen twice in ~800k env-steps of a trained policy) is reset by MuJoCo
itself; that episode then ends as terminated (death cost) and restarts from a
fresh random state (``VecTask._or_simulator_resets``).

Sensors: MuJoCo's force/torque sensors at a site report the interaction of
the foot body with its parent (the ankle joint reaction incl. contact), in
the site frame, computed in the last substep's forward pass (MuJoCo's
derived fields are one substep behind ``qpos``/``qvel``), i.e. the forces that
acted during the last substep, like PhysX force sensors after ``simulate``.

Performance: the state is read with one host->device conversion of the
Batch's contiguous per-sim state rows (time, qpos, qvel, warmstart) when the
layout allows it (checked at start-up; otherwise per-field views are used),
and obs/reward/reset are ~55 small torch ops: the quaternion-to-matrix and
Euler-angle arguments come out of one gather over the quaternion's outer
product (no mm/bmm: MKL's OpenMP threads would spin against the simulator's);
obs scaling/offsets are one ``addcmul`` over the concatenated raw
row; resets are two ``torch.where`` writes (state rows, obs rows).
"""

from __future__ import annotations

import math
import os

import mujoco
import numpy as np
import torch

from envs.base.locomotion import LocomotionTask
from envs.base.mjcf import load_model, nthread

ASSET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "ant.xml")



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


class Ant(LocomotionTask):
    """IsaacGymEnvs' Ant on ``mujoco.batch.Batch`` (see the module docstring)."""

    NUM_OBS = 60
    NUM_ACTIONS = 8

    DEFAULT_SUBSTEPS = 2
    CFG_DEFAULTS = {  # cfg["env"] key: IsaacGymEnvs' default
        "dofVelocityScale": 0.2,
        "contactForceScale": 0.1,
        "powerScale": 1.0,
        "headingWeight": 0.5,
        "upWeight": 0.1,
        "actionsCost": 0.005,
        "energyCost": 0.05,
        "jointsAtLimitCost": 0.1,
        "deathCost": -2.0,
        "terminationHeight": 0.31,
        "aliveReward": 0.5,
    }

    # ------------------------------------------------------------------ model
    def _load_model(self) -> mujoco.MjModel:
        m = load_model(self.cfg, ASSET, self.dt, self.substeps)
        m.actuator_gear[:, 0] *= self.power_scale
        return m

    def create_sim(self) -> None:
        n, dev = self.num_envs, self.device
        m = self._load_model()
        assert m.nu == self.NUM_ACTIONS and m.nsensordata == 24 and m.nq == 15 and m.nv == 14 and m.na == 0
        self._create_batch(m, nthread(self.cfg))

        f32 = dict(device=dev, dtype=torch.float32)
        lo_n, hi_n = m.jnt_range[1:, 0].copy(), m.jnt_range[1:, 1].copy()
        lo, hi = torch.tensor(lo_n, **f32), torch.tensor(hi_n, **f32)
        self.dof_limits_lower, self.dof_limits_upper = lo, hi
        init_dof_n = np.where(lo_n > 0, lo_n, np.where(hi_n < 0, hi_n, 0.0))  # IsaacGymEnvs initial_dof_pos
        self.initial_dof_pos = torch.tensor(init_dof_n, **f32)
        self.initial_root_pose = torch.tensor(m.qpos0[:7], **f32)
        self.targets = torch.tensor([1000.0, 0.0, 0.0], **f32)

        # -- persistent buffers and their views: step() is a fixed sequence of
        #    out=/in-place ops on them (no per-step slicing or allocation)
        self._x = x = torch.zeros((n, m.nq + m.nv), **f32)  # [qpos, qvel]
        self._x_pos_xy, self._x_z = x[:, 0:2], x[:, 2]
        quat = x[:, 3:7]  # w, x, y, z
        self._x_quat_a, self._x_quat_b = quat.unsqueeze(2), quat.unsqueeze(1)
        self._x_linvel_b = x[:, 15:18].unsqueeze(1)
        self._x_angvel = x[:, 18:21]
        self._x_dofs2 = x.as_strided((n, 2, 8), (x.stride(0), 14, 1), x.storage_offset() + 7)  # dof pos | dof vel
        self._raw = raw = torch.zeros((n, self.NUM_OBS), **f32)  # obs before scale/offset
        self._r_z, self._r_vel, self._r_angvel = raw[:, 0], raw[:, 1:4], raw[:, 4:7]
        self._r_ang, self._r_yaw, self._r_att = raw[:, 7:9], raw[:, 7], raw[:, 9]
        self._ang_neg = torch.zeros((n, 2), device=dev, dtype=torch.bool)
        self._r_up, self._r_heading = raw[:, 10], raw[:, 11]
        self._r_dofs2 = raw[:, 12:28].view(n, 2, 8)
        self._r_sens = raw[:, 28:52]
        self.actions = raw[:, 52:60]  # this step's (clamped) actions, as the obs holds them
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
        scale[9] = -1.0  # raw column 9 holds atan2(z - target_z, target_x - x) + yaw
        scale[12:20] = 2.0 / (hi_n - lo_n)
        offset[12:20] = -(hi_n + lo_n) / (hi_n - lo_n)
        scale[20:28] = self.dof_vel_scale
        scale[28:52] = self.contact_force_scale
        self._obs_scale = torch.tensor(scale, **f32)
        self._obs_off = torch.tensor(offset, **f32)
        obs = self.obs_buf
        self._o_z, self._o_up, self._o_heading = obs[:, 0], obs[:, 10], obs[:, 11]
        self._o_abs = torch.zeros((n, 48), **f32)  # |obs[:, 12:60]|
        self._o_tail = obs[:, 12:60]
        self._o_dp = obs[:, 12:20]
        self._abs_dp, self._abs_dv, self._abs_a = self._o_abs[:, 0:8], self._o_abs[:, 8:16], self._o_abs[:, 40:48]

        # reward / episode buffers
        self.potentials = torch.zeros(n, **f32)
        self.prev_potentials = torch.zeros(n, **f32)
        self._pot0 = -math.hypot(1000.0 - float(m.qpos0[0]), float(m.qpos0[1])) / self.dt
        self._u = torch.zeros((n, 8), **f32)
        self._cost = torch.zeros(n, **f32)
        self._limb = torch.zeros((n, 8), device=dev, dtype=torch.bool)
        self._lim = torch.zeros(n, **f32)
        self._head = torch.zeros(n, **f32)
        self._upb = torch.zeros(n, device=dev, dtype=torch.bool)
        self._dead = torch.zeros(n, device=dev, dtype=torch.bool)
        self._timeout_b = torch.zeros(n, device=dev, dtype=torch.bool)
        self._reset_b = torch.zeros(n, device=dev, dtype=torch.bool)
        self._reset_col = self._reset_b.unsqueeze(1)

        # reset noise: [dof pos (8) | dof vel (8)] = clamp(off + U(0,1) * scale)
        self._noise = torch.zeros((n, 16), **f32)
        self._new = torch.zeros((n, 16), **f32)
        self._new2 = self._new.view(n, 2, 8)
        self._noise_scale = torch.tensor([0.4] * 8 + [0.2] * 8, **f32)
        self._noise_off = torch.tensor(np.concatenate([init_dof_n - 0.2, np.full(8, -0.1)]), **f32)
        self._noise_lo = torch.tensor(np.concatenate([lo_n, np.full(8, -np.inf)]), **f32)
        self._noise_hi = torch.tensor(np.concatenate([hi_n, np.full(8, np.inf)]), **f32)
        # a reset env's state row [time, qpos, qvel, warmstart] (host, float64):
        # time 0, root at its initial pose at rest, warmstart 0, dofs from _new
        ncol = 1 + m.nq + 2 * m.nv
        self._rows = torch.zeros((n, ncol), device=self._host, dtype=torch.float64)
        self._rows[:, 1:8] = torch.from_numpy(m.qpos0[:7].copy())
        self._rows_dofs2 = self._rows.as_strided((n, 2, 8), (ncol, 14, 1), 1 + 7)
        self._mask_h = self._reset_b if self._on_host else torch.zeros(n, dtype=torch.bool, device=self._host)
        self._mask_h_col = self._mask_h.unsqueeze(1)
        # first observation of a new episode: constant head (computed from the
        # initial pose at rest), scaled dofs from _new, zero sensors / actions
        self._obs_new = torch.zeros((n, self.NUM_OBS), **f32)
        self._obs_new[:, :12] = torch.tensor(self._initial_obs_head(m.qpos0[:7]), **f32)
        self._obs_new_dofs = self._obs_new[:, 12:28]
        self._reset_obs_scale = self._obs_scale[12:28].clone()
        self._reset_obs_off = self._obs_off[12:28].clone()

    def _initial_obs_head(self, root: np.ndarray) -> np.ndarray:
        """obs[0:12] of a root pose at rest (numpy, independent of the torch path)."""
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, root[3:7])
        r = rot.reshape(3, 3)
        yaw = math.atan2(r[1, 0], r[0, 0]) % (2 * math.pi)
        roll = math.atan2(r[2, 1], r[2, 2]) % (2 * math.pi)
        to_target = np.array([1000.0 - root[0], -root[1], 0.0])
        heading = float(r[:, 0] @ (to_target / np.linalg.norm(to_target)))
        angle_to_target = math.atan2(0.0 - root[2], 1000.0 - root[0]) - yaw
        return np.array([root[2], 0, 0, 0, 0, 0, 0, yaw, roll, angle_to_target, r[2, 2], heading])

    # ------------------------------------------------------------------ step
    def _read_state(self) -> None:
        if self._block_t is not None:
            self._x.copy_(self._block_x)
        else:
            self._x[:, :15].copy_(self._qpos_t)
            self._x[:, 15:].copy_(self._qvel_t)
        self._r_sens.copy_(self._sens_t)

    def _compute_observations(self) -> None:
        """obs_buf from the state in _x / _raw (sensors, actions); also _dist."""
        raw = self._raw
        # rotation matrix (R^T, row-major) and the Euler-angle arguments from
        # the quaternion's outer product; no mm/bmm here: MKL would wake its
        # OpenMP threads, which then fight the simulator's (+0.4 ms at N=256)
        torch.mul(self._x_quat_a, self._x_quat_b, out=self._qq)
        torch.index_select(self._qq.view(self.num_envs, 16), 1, self._rot_index, out=self._sel)
        torch.addcmul(self._rot_const, self._sel_0, self._rot_w0, out=self._X)
        self._X.addcmul_(self._sel_1, self._rot_w1)
        # yaw, roll = atan2(...) % 2 pi: atan2 is in [-pi, pi], so the remainder adds 2 pi to the negative
        # angles (the same float32 sums as remainder_, bit for bit, in two cheap ops instead of its six)
        torch.atan2(self._X_num, self._X_den, out=self._r_ang)
        torch.lt(self._r_ang, 0.0, out=self._ang_neg)
        self._r_ang.add_(self._ang_neg, alpha=2.0 * math.pi)
        torch.sub(self._target_xy, self._x_pos_xy, out=self._d)
        torch.linalg.vector_norm(self._d, dim=1, out=self._dist)
        torch.linalg.vecdot(self._X_head, self._d, out=self._r_heading).div_(self._dist)
        torch.atan2(self._x_z, self._d_x, out=self._r_att).add_(self._r_yaw)
        torch.mul(self._X_rt, self._x_linvel_b, out=self._rv)
        torch.sum(self._rv, 2, out=self._r_vel)  # R^T v
        self._r_z.copy_(self._x_z)
        self._r_angvel.copy_(self._x_angvel)  # MuJoCo's free-joint angular velocity is body-frame
        self._r_dofs2.copy_(self._x_dofs2)
        self._r_up.copy_(self._X_up)
        torch.addcmul(self._obs_off, raw, self._obs_scale, out=self.obs_buf)

    def _compute_reward(self) -> None:
        """rew_buf, _dead, potentials (IsaacGymEnvs compute_ant_reward)."""
        pot_new, pot_old = self.prev_potentials, self.potentials
        torch.mul(self._dist, -1.0 / self.dt, out=pot_new)
        rew = torch.sub(pot_new, pot_old, out=self.rew_buf)  # progress
        torch.abs(self._o_tail, out=self._o_abs)
        # actionsCost * a^2 + energyCost * |a| |v| = |a| . (actionsCost |a| + energyCost |v|)
        torch.mul(self._abs_dv, self.energy_cost_scale, out=self._u).add_(self._abs_a, alpha=self.actions_cost_scale)
        torch.linalg.vecdot(self._abs_a, self._u, out=self._cost)
        torch.gt(self._o_dp, 0.99, out=self._limb)  # IsaacGymEnvs: scaled dof pos > 0.99 (no abs)
        torch.sum(self._limb, 1, dtype=torch.float32, out=self._lim)
        self._cost.add_(self._lim, alpha=self.joints_at_limit_cost_scale)
        torch.mul(self._o_heading, self.heading_weight / 0.8, out=self._head).clamp_(max=self.heading_weight)
        self._head.sub_(self._cost)
        rew.add_(self._head)
        torch.gt(self._o_up, 0.93, out=self._upb)
        rew.add_(self._upb, alpha=self.up_weight).add_(self.alive_reward)
        torch.lt(self._o_z, self.termination_height, out=self._dead)
        self._or_simulator_resets(self._dead)
        rew.masked_fill_(self._dead, self.death_cost)
        self.prev_potentials, self.potentials = pot_old, pot_new
