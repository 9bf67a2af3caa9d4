"""The MuJoCo Warp backend (physics_engine="mujoco_warp") on Warp's CPU device: parity with mujoco.batch from the
same initial state and actions, the other tasks on Warp, buffer overflow, bad input. CUDA-only checks at the end.

Tolerances are float32's (Warp simulates in float32, mujoco.batch in float64). Ant is compared with elliptic
friction cones: with pyramidal cones MuJoCo Warp orients each contact's friction pyramid along the world axes
where MuJoCo C orients it along the geom (e.g. the capsule's axis), a different (equally valid) pyramid, so the
two backends give different contact forces from the same state (docs/gpu-physics.md).
"""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("mujoco_warp")

import skrl_isaac_envs as envs  # noqa: E402
from skrl_isaac_envs.base.warp_physics import WarpBufferOverflow, buffer_sizes  # noqa: E402

ELLIPTIC = {"sim": {"mujoco": {"cone": "elliptic"}}}
ANGLE_COLUMNS = (7, 8, 9)  # Ant's yaw, roll, angle_to_target: wrap at 2 pi


def _pair(task, num_envs, cfg=None, seed=1):
    return (envs.make(task, num_envs, seed=seed, cfg=cfg),
            envs.make(task, num_envs, seed=seed, cfg=cfg, physics_engine="mujoco_warp"))


def _angle_diff(a, b):
    d = torch.remainder(a - b + math.pi, 2 * math.pi) - math.pi
    return d.abs()


def _rollout(cpu, warp, steps, actions, obs_atol, rew_atol, state_atol):
    """Step both with the same actions; assert obs, rewards, resets and time-outs agree at every step."""
    worst, resets = 0.0, 0
    for i in range(steps):
        act = actions(i)
        oa, ra, da, ea = cpu.step(act)
        ob, rb, db, eb = warp.step(act)
        assert torch.equal(da, db), f"step {i}: resets differ {da.tolist()} vs {db.tolist()}"
        assert torch.equal(ea["time_outs"], eb["time_outs"]), f"step {i}: time-outs differ"
        resets += int(da.sum())
        diff = (oa["obs"] - ob["obs"]).abs()
        if cpu.num_obs > 12:
            for c in ANGLE_COLUMNS:
                diff[:, c] = _angle_diff(oa["obs"][:, c], ob["obs"][:, c])
        worst = max(worst, float(diff.max()))
        assert float(diff.max()) <= obs_atol, f"step {i}: obs differ by {float(diff.max())}"
        assert float((ra - rb).abs().max()) <= rew_atol, f"step {i}: rewards differ"
        xa = torch.cat([cpu._qpos_t, cpu._qvel_t], 1).float()
        xb = torch.cat([warp._qpos_t, warp._qvel_t], 1)
        assert float((xa - xb).abs().max()) <= state_atol, f"step {i}: state differs"
    return worst, resets


def test_cartpole_parity_with_mujoco_batch_including_resets():
    """Cartpole, 8 envs, 90 control steps of random pushes (terminations and 40-step time-outs included)."""
    cpu, warp = _pair("Cartpole", 8, cfg={"env": {"episodeLength": 40}})
    torch.testing.assert_close(warp.obs_buf, cpu.obs_buf, rtol=0, atol=1e-6)  # the same first states
    gen = torch.Generator().manual_seed(0)
    acts = [torch.rand((8, 1), generator=gen) * 2 - 1 for _ in range(90)]
    _, resets = _rollout(cpu, warp, 90, lambda i: acts[i], obs_atol=1e-4, rew_atol=1e-4, state_atol=1e-4)
    assert resets >= 8  # episodes ended (time-outs at least) and restarted on both alike


def test_cartpole_terminations_agree():
    """A full push to one side: the cart leaves the rail at the same step in both backends."""
    cpu, warp = _pair("Cartpole", 4)
    ended = []
    for i in range(60):
        act = torch.ones((4, 1))
        _, _, da, _ = cpu.step(act)
        _, _, db, _ = warp.step(act)
        assert torch.equal(da, db)
        ended.append(int(da.sum()))
    assert sum(ended) >= 4  # every env terminated at least once


def test_ant_parity_with_mujoco_batch():
    """Ant (elliptic cones), 4 envs, 40 control steps (80 physics steps, falling and landing on the floor)."""
    cpu, warp = _pair("Ant", 4, cfg=ELLIPTIC)
    torch.testing.assert_close(warp.obs_buf, cpu.obs_buf, rtol=0, atol=1e-6)
    gen = torch.Generator().manual_seed(0)
    acts = [torch.rand((4, 8), generator=gen) * 2 - 1 for _ in range(40)]
    # reward: the progress term is a difference of two float32 potentials of ~6e4 (one ulp ~4e-3)
    worst, _ = _rollout(cpu, warp, 40, lambda i: acts[i], obs_atol=5e-3, rew_atol=1e-2, state_atol=5e-3)
    assert worst > 0.0  # two simulators, not one
    assert float(warp.physics._nacon[0]) >= 0 and int(warp.physics.overflow.abs().sum()) == 0


def test_humanoid_parity_with_mujoco_batch():
    """Humanoid (elliptic cones, self-collisions), 4 envs, 20 control steps (60 physics steps); the state
    (joint velocities of several rad/s) within 3e-2."""
    cpu, warp = _pair("Humanoid", 4, cfg=ELLIPTIC)
    gen = torch.Generator().manual_seed(0)
    acts = [torch.rand((4, 21), generator=gen) * 2 - 1 for _ in range(20)]
    _rollout(cpu, warp, 20, lambda i: acts[i], obs_atol=1e-2, rew_atol=1e-2, state_atol=3e-2)


def test_ant_time_out_resets_agree():
    """10-step episodes: both backends reset the same envs to the same new first states."""
    cfg = {**ELLIPTIC, "env": {"episodeLength": 10}}
    cpu, warp = _pair("Ant", 3, cfg=cfg, seed=5)
    for i in range(12):
        act = torch.zeros((3, 8))
        oa, _, da, ea = cpu.step(act)
        ob, _, db, eb = warp.step(act)
        assert torch.equal(da, db) and torch.equal(ea["time_outs"], eb["time_outs"])
        if bool(da.any()):
            # the first observations of the new episodes (from the seeded reset noise) agree
            torch.testing.assert_close(ob["obs"][da.bool()], oa["obs"][da.bool()], rtol=0, atol=1e-5)
            torch.testing.assert_close(warp._qpos_t[da.bool()], cpu._qpos_t[da.bool()].float(), rtol=0, atol=1e-6)
    assert int(warp.progress_buf.max()) < 10


@pytest.mark.parametrize("task", ["Humanoid", "CartpoleDiscrete"])
def test_other_tasks_build_and_step_on_warp(task):
    env = envs.make(task, 3, seed=0, physics_engine="mujoco_warp")
    assert env.physics is not None and env.batch is None
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        if task == "CartpoleDiscrete":
            act = torch.randint(0, 2, (3, 1), generator=gen)
        else:
            act = torch.rand((3, env.num_actions), generator=gen) * 2 - 1
        obs, rew, done, extras = env.step(act)
        assert torch.isfinite(obs["obs"]).all() and torch.isfinite(rew).all()
    assert obs["obs"].shape == (3, env.num_obs)
    assert float(env.physics.time.max()) > 0  # the Warp worlds advanced


def test_graph_replay_matches_eager_launches_bit_for_bit():
    """The substeps captured once and replayed (the default, here Warp's CPU graph) = launching them each step."""
    cfg = {"env": {"episodeLength": 12}}
    graph = envs.make("Ant", 3, seed=4, cfg=cfg, physics_engine="mujoco_warp")
    eager = envs.make("Ant", 3, seed=4, cfg={**cfg, "sim": {"mujoco_warp": {"graph": False}}},
                      physics_engine="mujoco_warp")
    assert graph.physics.use_graph and not eager.physics.use_graph
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):  # a time-out reset at step 11
        act = torch.rand((3, 8), generator=gen) * 2 - 1
        og, rg, dg, _ = graph.step(act)
        oe, re_, de, _ = eager.step(act)
        assert torch.equal(og["obs"], oe["obs"]) and torch.equal(rg, re_) and torch.equal(dg, de)
    assert list(graph.physics._graphs) == [graph.substeps]


def test_state_tensors_are_zero_copy_views_of_the_warp_arrays():
    env = envs.make("Cartpole", 2, seed=0, physics_engine="mujoco_warp")
    p = env.physics
    assert env._qpos_t.data_ptr() == p.data.qpos.ptr and env._ctrl_t.data_ptr() == p.data.ctrl.ptr
    env._qpos_t[1, 0] = 0.25
    assert p.data.qpos.numpy()[1, 0] == pytest.approx(0.25)


def test_unstable_world_ends_as_terminated():
    """A world whose state is not finite: that episode ends (death cost) and restarts from a finite state."""
    env = envs.make("Ant", 2, seed=0, physics_engine="mujoco_warp")
    env._qvel_t[1, 0] = float("nan")
    obs, rew, done, extras = env.step(torch.zeros((2, 8)))
    assert done.tolist() == [0, 1] and extras["time_outs"].tolist() == [0, 0]
    assert rew[1] == pytest.approx(env.death_cost)
    assert torch.isfinite(env._qpos_t).all() and torch.isfinite(env._qvel_t).all() and torch.isfinite(obs["obs"]).all()


def test_buffer_sizes_bound_the_ant():
    env = envs.make("Ant", 1, seed=0, physics_engine="mujoco_warp")
    # 13 Ant geoms against the floor (a sphere: 1 contact, 12 capsules: 2), 4 rows each (pyramidal condim 3),
    # plus the 8 limited hinges
    assert (env.physics.nconmax, env.physics.njmax) == (25, 25 * 4 + 8)
    pairs = env.physics.model.nxn_geom_pair_filtered.numpy()
    assert buffer_sizes(env.model, pairs) == (25, 108)


def test_contact_buffer_overflow_is_reported():
    cfg = {"sim": {"mujoco_warp": {"nconmax": 1, "overflow_check_interval": 1}}}
    env = envs.make("Ant", 2, seed=0, cfg=cfg, physics_engine="mujoco_warp")
    with pytest.raises(WarpBufferOverflow, match=r"task Ant on MuJoCo Warp: the contact buffer \(nconmax=1 per world\)"
                                                 r" overflowed: raise sim.mujoco_warp.nconmax to at least \d+"):
        for _ in range(80):  # the ant falls onto the floor: several contacts per world
            env.step(torch.zeros((2, 8)))


def test_constraint_buffer_overflow_is_reported():
    cfg = {"sim": {"mujoco_warp": {"njmax": 1, "overflow_check_interval": 1}}}
    env = envs.make("Ant", 2, seed=0, cfg=cfg, physics_engine="mujoco_warp")
    with pytest.raises(WarpBufferOverflow, match=r"constraint buffer \(njmax=1 rows per world\) overflowed: raise "
                                                 r"sim.mujoco_warp.njmax to at least \d+"):
        for _ in range(80):
            env.step(torch.zeros((2, 8)))


@pytest.mark.parametrize("task", ["Ant", "Cartpole"])
def test_warp_step_never_reads_the_host_between_overflow_looks(task, host_sync_guard):
    """30 steps with resets (10-step episodes) and no overflow look due: no tensor value read back to Python."""
    env = envs.make(task, 4, seed=0, cfg={"env": {"episodeLength": 10}}, physics_engine="mujoco_warp")
    act = torch.full((4, env.num_actions), 0.5)
    with host_sync_guard() as guard:
        for _ in range(30):
            env.step(act)
    assert guard.violations == []
    assert env.physics.overflow_check_interval > 30


def test_unknown_engine_lists_the_valid_ones():
    with pytest.raises(ValueError, match="physics_engine='bullet' is not valid .*mujoco, mujoco_warp"):
        envs.make("Cartpole", 1, physics_engine="bullet")


def test_get_state_set_state_resumes_exactly_on_warp():
    env = envs.make("Ant", 2, seed=3, cfg=ELLIPTIC, physics_engine="mujoco_warp")
    for _ in range(3):
        env.step(torch.full((2, 8), 0.3))
    snap = env.get_state()
    after = [env.step(torch.full((2, 8), -0.2))[0]["obs"] for _ in range(3)]
    env.set_state(snap)
    again = [env.step(torch.full((2, 8), -0.2))[0]["obs"] for _ in range(3)]
    for a, b in zip(after, again):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------- CUDA only
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
def test_cuda_zero_copy_graph_and_no_host_sync():
    env = envs.make("Ant", 64, device="cuda", seed=0, physics_engine="mujoco_warp")
    p = env.physics
    assert env._qpos_t.is_cuda and env._qpos_t.data_ptr() == p.data.qpos.ptr
    assert env.obs_buf.device == env._qpos_t.device
    act = torch.zeros((64, 8), device="cuda")
    env.step(act)  # captures the graph
    assert p.use_graph == bool(__import__("warp").is_mempool_enabled(p.wp_device)) and (not p.use_graph or p._graphs)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2 * p.overflow_check_interval + 1):
            env.step(act)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    torch.cuda.synchronize()
    assert torch.isfinite(env.obs_buf).all()


@cuda
def test_cuda_parity_with_cpu_warp():
    a = envs.make("Cartpole", 16, device="cpu", seed=2, physics_engine="mujoco_warp")
    b = envs.make("Cartpole", 16, device="cuda", seed=2, physics_engine="mujoco_warp")
    b._qpos_t.copy_(a._qpos_t)  # (the CUDA generator draws other reset noise)
    b._qvel_t.copy_(a._qvel_t)
    for _ in range(30):
        act = torch.full((16, 1), 0.2)
        oa = a.step(act)[0]["obs"]
        ob = b.step(act.cuda())[0]["obs"]
    torch.testing.assert_close(ob.cpu(), oa, rtol=0, atol=1e-4)
