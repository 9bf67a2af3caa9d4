"""IsaacGymEnvs' Cartpole task, simulated batched with ``mujoco.batch.Batch``.

Task definition (as IsaacGymEnvs ``tasks/cartpole.py``):

* 4 observations: cart position, cart velocity, pole angle, pole angular
  velocity (the slider and hinge DOF states).
* 1 continuous action, clamped to [-1, 1] and applied as a force of
  ``action * maxEffort`` (400 N) on the cart's slider DOF.
  ``CartpoleDiscrete`` (or ``env.discrete: True``) has a ``Discrete(2)`` action
  space instead: action 0 pushes left, 1 pushes right, with ``discreteEffort``
  newtons (default 20 N: a bang-bang push of 400 N throws the cart off the rail
  within a few steps, so a discrete policy could not balance with it).
* reward = 1 - pole_angle^2 - 0.01 |cart_vel| - 0.005 |pole_vel|; reward = -2
  and reset where |cart_pos| > resetDist (3.0) or |pole_angle| > pi / 2;
  time-out reset where progress >= episodeLength - 1 (``time_outs`` = 1 there
  unless the env also terminated).
* reset: DOF positions U(-0.1, 0.1), DOF velocities U(-0.25, 0.25)
  (IsaacGymEnvs: ``0.2 * (rand - 0.5)`` and ``0.5 * (rand - 0.5)``), noise from
  the task's seeded ``torch.Generator``.  The returned observation rows of the
  reset envs are the new episodes' first observations (auto-reset inside
  ``step``, masked writes only, as ``envs.ant``).

Simulation: dt = 0.0166 s control step (60 Hz) split into ``sim.substeps`` (2)
MuJoCo Euler steps, as IsaacGymEnvs' 2 PhysX substeps.  No contacts.
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict

import mujoco
import torch
from gymnasium import spaces

from skrl_isaac_envs.base.mjcf import load_model, nthread, sim_timing
from skrl_isaac_envs.base.vec_task import VecTask

ASSET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "cartpole.xml")


class Cartpole(VecTask):
    """IsaacGymEnvs' Cartpole on ``mujoco.batch.Batch`` (see the module docstring)."""

    NUM_OBS = 4
    NUM_ACTIONS = 1
    DISCRETE = False

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
        self.reset_dist = float(env.get("resetDist", 3.0))
        self.max_push_effort = float(env.get("maxEffort", 400.0))
        self.discrete = bool(env.get("discrete", self.DISCRETE))
        self.discrete_effort = float(env.get("discreteEffort", 20.0))
        self.dt, self.substeps = sim_timing(cfg, default_substeps=2)
        env["numObservations"] = self.NUM_OBS
        env["numActions"] = self.NUM_ACTIONS
        super().__init__(cfg, rl_device, sim_device, graphics_device_id, headless, virtual_screen_capture, force_render)
        if self.discrete:
            self.act_space = spaces.Discrete(2)
        self.reset_all()

    # ------------------------------------------------------------------ model
    def _load_model(self) -> mujoco.MjModel:
        m = load_model(self.cfg, ASSET, self.dt, self.substeps, solver_options=False, plane_friction=False)
        # the action is scaled by the task (continuous: maxEffort, discrete: +-discreteEffort)
        m.actuator_gear[:, 0] = self.discrete_effort if self.discrete else self.max_push_effort
        return m

    def create_sim(self) -> None:
        n, dev = self.num_envs, self.device
        m = self._load_model()
        assert m.nq == 2 and m.nv == 2 and m.nu == 1
        self._create_physics(m, nthread(self.cfg), sensors=False)

        f32 = dict(device=dev, dtype=torch.float32)
        self.actions = torch.zeros((n, self.NUM_ACTIONS), **f32)
        # reset noise: [pole/cart positions (2), velocities (2)] = off + U(0, 1) * scale
        self._noise = torch.empty((n, 4), **f32)
        self._noise_scale = torch.tensor([0.2, 0.2, 0.5, 0.5], **f32)
        self._noise_off = -0.5 * self._noise_scale
        # state columns [x, theta, v, omega] -> observation columns [x, v, theta, omega]
        self._obs_order = torch.tensor([0, 2, 1, 3], device=dev, dtype=torch.long)

    # ------------------------------------------------------------------ step
    def pre_physics_step(self, actions: torch.Tensor) -> None:
        actions = actions.detach().to(self.device)
        if self.discrete:  # (N,) or (N, 1) indexes: 0 -> push left (-1), 1 -> push right (+1)
            torch.mul(actions.reshape(-1, 1).to(torch.float32), 2.0, out=self.actions).sub_(1.0)
        else:
            torch.clamp(actions.reshape(-1, 1).to(torch.float32), -1.0, 1.0, out=self.actions)
        self._ctrl_t.copy_(self.actions)

    def post_physics_step(self) -> None:
        obs = self.obs_buf
        state = torch.cat((self._qpos_t, self._qvel_t), 1).to(self.device, torch.float32)  # [x, theta, v, omega]
        torch.index_select(state, 1, self._obs_order, out=obs)
        cart_pos, cart_vel, pole_angle, pole_vel = obs.unbind(1)

        # reward (IsaacGymEnvs compute_cartpole_reward)
        rew = torch.mul(pole_angle, pole_angle, out=self.rew_buf).neg_().add_(1.0)
        rew.sub_(cart_vel.abs(), alpha=0.01).sub_(pole_vel.abs(), alpha=0.005)
        dead = cart_pos.abs().gt(self.reset_dist).logical_or_(pole_angle.abs().gt(math.pi / 2))
        if self.physics is not None:  # MuJoCo Warp: a world whose state is not finite ends as terminated
            dead.logical_or_(self.physics.unstable().to(self.device))
        rew.masked_fill_(dead, -2.0)

        # episode bookkeeping
        self.progress_buf.add_(1)
        timeout = self.progress_buf.ge(self.max_episode_length - 1)
        reset = dead.logical_or(timeout)
        self.timeout_buf.copy_(timeout.logical_and_(dead.logical_not_()))
        self.reset_buf.copy_(reset)

        self.reset_masked(reset)

    def reset_masked(self, mask: torch.Tensor) -> None:
        """Reset the environments where mask (N,) bool is True; masked writes only."""
        torch.rand((self.num_envs, 4), generator=self.rng, device=self.device, out=self._noise)
        new = torch.addcmul(self._noise_off, self._noise, self._noise_scale)  # [x, theta, v, omega]

        new_h = new.to(self._host, self._qpos_t.dtype)
        m1 = mask.to(self._host).unsqueeze(1)
        self._qpos_t.copy_(torch.where(m1, new_h[:, 0:2], self._qpos_t))
        self._qvel_t.copy_(torch.where(m1, new_h[:, 2:4], self._qvel_t))
        self._ws_t.masked_fill_(m1, 0.0)
        self._time_t.masked_fill_(m1.squeeze(1), 0.0)

        # first observations of the new episodes: [x, v, theta, omega]
        torch.where(mask.unsqueeze(1), new.index_select(1, self._obs_order), self.obs_buf, out=self.obs_buf)
        self.progress_buf.masked_fill_(mask, 0)

    def reset_all(self) -> None:
        mask = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        self.reset_masked(mask)
        self.reset_buf.zero_()
        self.timeout_buf.zero_()
        self.rew_buf.zero_()
        self.actions.zero_()


class CartpoleDiscrete(Cartpole):
    """Cartpole with a ``Discrete(2)`` action space (0: push left, 1: push right), e.g. for DQN."""

    DISCRETE = True
