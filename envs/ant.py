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
and obs/reward/reset are ~55 small torch ops (``envs.base.locomotion``, shared
with Humanoid): the quaternion-to-matrix and
Euler-angle arguments come out of one gather over the quaternion's outer
product (no mm/bmm: MKL's OpenMP threads would spin against the simulator's);
obs scaling/offsets are one ``addcmul`` over the concatenated raw
row; resets are two ``torch.where`` writes (state rows, obs rows).
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

ASSET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "ant.xml")


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
        m = self._load_model()
        assert m.nu == self.NUM_ACTIONS and m.nsensordata == 24 and m.nq == 15 and m.nv == 14 and m.na == 0
        self._create_physics(m, nthread(self.cfg))
        n, dev = self.num_envs, self.device
        self._create_locomotion_buffers(m)
        self._r_sens = self._raw[:, 28:52]
        self._ang_neg = torch.zeros((n, 2), device=dev, dtype=torch.bool)
        self._o_dp = self.obs_buf[:, 12:20]
        self._energy_w = self.energy_cost_scale
        self._limb = torch.zeros((n, 8), device=dev, dtype=torch.bool)

    def _fill_obs_scale(self, scale: np.ndarray, offset: np.ndarray) -> None:
        scale[9] = -1.0  # raw column 9 holds atan2(z - target_z, target_x - x) + yaw
        scale[28:52] = self.contact_force_scale

    def _initial_angles(self, yaw: float, roll: float, att: float) -> Tuple[float, float, float]:
        yaw, roll = yaw % (2 * math.pi), roll % (2 * math.pi)
        return yaw, roll, att - yaw

    # ------------------------------------------------------------------ step
    def _read_sensors(self) -> None:
        self._r_sens.copy_(self._sens_t)

    def _finish_angles(self) -> None:
        # yaw, roll = atan2(...) % 2 pi: atan2 is in [-pi, pi], so the remainder adds 2 pi to the negative
        # angles (the same float32 sums as remainder_, bit for bit, in two cheap ops instead of its six)
        torch.lt(self._r_ang, 0.0, out=self._ang_neg)
        self._r_ang.add_(self._ang_neg, alpha=2.0 * math.pi)
        self._r_att.add_(self._r_yaw)  # IsaacGymEnvs' angle_to_target, written for a y-up world

    def _joints_at_limit_cost(self) -> None:
        torch.gt(self._o_dp, 0.99, out=self._limb)  # IsaacGymEnvs: scaled dof pos > 0.99 (no abs)
        torch.sum(self._limb, 1, dtype=torch.float32, out=self._lim)
        self._cost.add_(self._lim, alpha=self.joints_at_limit_cost_scale)
