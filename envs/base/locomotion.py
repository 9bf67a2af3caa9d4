"""What Ant and Humanoid (IsaacGymEnvs' locomotion tasks) share: their reward-scale config, the
episode bookkeeping after each step and the masked resets.

Subclasses set ``NUM_OBS``, ``NUM_ACTIONS``, ``DEFAULT_SUBSTEPS`` and ``CFG_DEFAULTS`` (the task's
``cfg["env"]`` keys read into attributes, with IsaacGymEnvs' defaults), and build in ``create_sim`` the
persistent buffers these methods use: the state rows of a reset env (``_rows``, ``_rows_dofs2``), the
reset noise (``_noise*``, ``_new``, ``_new2``), the first observation of a new episode (``_obs_new``,
``_obs_new_dofs``, ``_reset_obs_*``), the masks (``_reset_b``, ``_reset_col``, ``_timeout_b``,
``_dead``, ``_mask_h``, ``_mask_h_col``) and the potentials (``potentials``, ``prev_potentials``,
``_pot0``); they implement ``_read_state``, ``_compute_observations`` and ``_compute_reward``.
"""

from __future__ import annotations

from typing import Any, Dict

import torch

from envs.base.mjcf import sim_timing
from envs.base.vec_task import VecTask

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

    def _read_state(self) -> None:
        raise NotImplementedError

    def _compute_observations(self) -> None:
        raise NotImplementedError

    def _compute_reward(self) -> None:
        raise NotImplementedError

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
        nq, nv = self.model.nq, self.model.nv
        self._noise.uniform_(generator=self.rng)  # (torch.rand(out=_noise)'s numbers, without its resize)
        torch.addcmul(self._noise_off, self._noise, self._noise_scale, out=self._new).clamp_(self._noise_lo, self._noise_hi)
        # simulator state rows
        self._rows_dofs2.copy_(self._new2)
        if not self._on_host:
            self._mask_h.copy_(self._reset_b)
        if self._block_t is not None:
            torch.where(self._mask_h_col, self._rows, self._block_t, out=self._block_t)
        else:
            m1, rows = self._mask_h_col, self._rows
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
