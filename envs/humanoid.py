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
from typing import Tuple

import mujoco
import numpy as np
import torch

from skrl_isaac_envs.base.locomotion import LocomotionTask
from skrl_isaac_envs.base.mjcf import load_model, nthread

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
        self._create_physics(m, nthread(self.cfg))
        f32 = dict(device=dev, dtype=torch.float32)
        effort = self.motor_efforts_np
        self.motor_efforts = torch.tensor(effort, **f32)
        self.max_motor_effort = float(effort.max())
        self._create_locomotion_buffers(m)
        self._r_dof_force = self._raw[:, _O_DF:_O_SENS]
        self._r_sens = self._raw[:, _O_SENS:_O_ACT]
        # sensors: the live host view itself on the CPU, else a device copy refreshed each step
        self._sens = self._sens_t if self._on_host else torch.zeros(self._sens_t.shape, device=dev,
                                                                    dtype=self._sens_t.dtype)
        self._s_act = self._sens[:, _S_ACT:_S_ACT + nd]
        self._s_lim = self._sens[:, _S_LIM:_S_LIM + nd]
        self._s_feet = self._sens[:, _S_FEET:_S_FEET + 12]
        # energyCost * motor_effort_ratio and jointsAtLimitCost / 0.02 * motor_effort_ratio per DOF
        # (IsaacGymEnvs weighs both costs by the effort *ratio*, effort / max effort, in [1/6, 1])
        effort_ratio = effort / self.max_motor_effort
        self._energy_w = torch.tensor(self.energy_cost_scale * effort_ratio, **f32)
        self._limit_w = torch.tensor(self.joints_at_limit_cost_scale / 0.02 * effort_ratio, **f32)
        self._over = torch.zeros((n, nd), **f32)

    def _fill_obs_scale(self, scale: np.ndarray, offset: np.ndarray) -> None:
        scale[4:7] = self.angular_velocity_scale
        # raw column 9 holds remainder(atan2(z - target_z, target_x - x) + yaw + pi, 2 pi) in [0, 2 pi):
        # obs = pi - raw = normalize_angle(atan2(target_z - z, target_x - x) - yaw) in (-pi, pi]
        scale[9], offset[9] = -1.0, math.pi
        scale[_O_DF:_O_ACT] = self.contact_force_scale

    def _initial_angles(self, yaw: float, roll: float, att: float) -> Tuple[float, float, float]:
        att = att - yaw
        return yaw, roll, math.atan2(math.sin(att), math.cos(att))

    # ------------------------------------------------------------------ step
    def _read_sensors(self) -> None:
        if not self._on_host:
            self._sens.copy_(self._sens_t)
        torch.add(self._s_act, self._s_lim, out=self._r_dof_force)
        self._r_sens.copy_(self._s_feet)

    def _finish_angles(self) -> None:
        # yaw, roll stay in [-pi, pi] (normalize_angle); angle_to_target as the module docstring says
        self._r_att.add_(self._r_yaw).add_(math.pi).remainder_(2.0 * math.pi)

    def _joints_at_limit_cost(self) -> None:
        # (|p| - 0.98) * (|p| > 0.98) = relu(|p| - 0.98)
        torch.sub(self._abs_dp, 0.98, out=self._over).clamp_(min=0.0)
        torch.linalg.vecdot(self._over, self._limit_w, out=self._lim)
        self._cost.add_(self._lim)
