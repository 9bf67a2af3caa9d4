"""Builders of small test packages laid out like Isaac Gym (``isaacgym`` + Preview 2's ``rlgpu``) and IsaacGymEnvs.

``build(root)`` writes::

    root/python/isaacgym/{__init__,gymapi,gymutil,gymtorch}.py      the names the loaders/tasks touch (a viewer too)
    root/python/pyvirtualdisplay/smartdisplay.py, _x_screen.py        IsaacGymEnvs' virtual screen and what it grabs
    root/python/rlgpu/utils/{config,parse_task}.py                    Preview 2: get_args/load_cfg/parse_sim_params/parse_task
    root/python/rlgpu/tasks/base/{base_task,vec_task}.py             BaseTask, VecTask, VecTaskPython
    root/python/rlgpu/tasks/counting.py, cfg/counting.yaml, cfg/train/counting_ppo.yaml
    root/IsaacGymEnvs/isaacgymenvs/__init__.py                        resolvers + make()
    root/IsaacGymEnvs/isaacgymenvs/cfg/{config.yaml,task/*.yaml,train/*.yaml}
    root/IsaacGymEnvs/isaacgymenvs/tasks/{__init__,ant,counting}.py   isaacgym_task_map
    root/IsaacGymEnvs/isaacgymenvs/tasks/base/vec_task.py             Env, VecTask (IsaacGymEnvs' step/reset logic)

The tasks compute for real: ``Counting`` is a pure-torch counter task (with privileged states),
``Ant`` delegates its physics to the embedded MuJoCo Ant (``envs.make("Ant", ...)``).
"""

from __future__ import annotations

import os
import sys
import textwrap

FILES: dict[str, str] = {}

FILES["python/isaacgym/__init__.py"] = '''
__version__ = "1.0rc4+fake"

from isaacgym import gymdeps  # noqa: F401 -- as the real package: the import-order check runs on first import
'''

# Isaac Gym's gymdeps: the native libraries refuse a process that imported torch first. The message is the real
# package's; IMPORT_ORDER_CHECK is False only in builds for tests that run in a process where torch is loaded.
FILES["python/isaacgym/gymdeps.py"] = '''
import sys

IMPORT_ORDER_CHECK = True


def _import_deps():
    # make sure that torch was not imported before isaacgym modules
    if IMPORT_ORDER_CHECK and "torch" in sys.modules:
        raise ImportError("PyTorch was imported before isaacgym modules.  Please import torch after isaacgym modules.")


_import_deps()
'''

# gym 0.23 (what Isaac Gym Preview 4 ships): the spaces IsaacGymEnvs' VecTask builds
FILES["python/gym/__init__.py"] = '''
__version__ = "0.23.1+fake"

from gym import spaces  # noqa: F401
'''
FILES["python/gym/spaces.py"] = '''
import numpy as np


class Space:
    def __init__(self, shape=None, dtype=None):
        self.shape = None if shape is None else tuple(shape)
        self.dtype = None if dtype is None else np.dtype(dtype)


class Box(Space):
    """gym 0.23's Box: bounds broadcast to ``shape`` (or give it), float32 by default."""

    def __init__(self, low, high, shape=None, dtype=np.float32):
        shape = tuple(shape) if shape is not None else np.shape(low)
        self.low = np.broadcast_to(np.asarray(low, dtype=dtype), shape).copy()
        self.high = np.broadcast_to(np.asarray(high, dtype=dtype), shape).copy()
        super().__init__(shape, dtype)


class Discrete(Space):
    def __init__(self, n):
        self.n = int(n)
        super().__init__((), np.int64)
'''

FILES["python/isaacgym/gymapi.py"] = '''
from isaacgym import gymdeps  # noqa: F401

SIM_PHYSX, SIM_FLEX = 0, 1
UP_AXIS_Y, UP_AXIS_Z = 0, 1


class Vec3:
    def __init__(self, x=0.0, y=0.0, z=0.0):
        self.x, self.y, self.z = x, y, z


class PhysXParams:
    num_threads, solver_type, use_gpu, num_subscenes = 4, 1, False, 0


class SimParams:
    def __init__(self):
        self.dt, self.substeps, self.up_axis = 1.0 / 60.0, 2, UP_AXIS_Z
        self.gravity, self.physx, self.use_gpu_pipeline = Vec3(0, 0, -9.81), PhysXParams(), False


class Sim:
    """Holds the physics callback of the task that created it."""

    def __init__(self, physics_engine, sim_params):
        self.physics_engine, self.sim_params, self.physics = physics_engine, sim_params, None
        self.draw = None  # what the viewer shows: a callable returning an (H, W, 3) uint8 image


class Gym:
    def create_sim(self, compute_device, graphics_device, physics_engine, sim_params):
        return Sim(physics_engine, sim_params)

    def simulate(self, sim):
        if sim.physics is not None:
            sim.physics()

    def fetch_results(self, sim, wait):
        pass

    def prepare_sim(self, sim):
        pass

    def destroy_sim(self, sim):
        sim.physics = None

    # the viewer: a window on the X display, here the test double's screen (python/_x_screen.py)
    def create_viewer(self, sim, camera_properties):
        import _x_screen

        if not _x_screen.DISPLAYS:
            return None  # as the real viewer: no display, no window
        return Viewer(sim)

    def query_viewer_has_closed(self, viewer):
        return False

    def step_graphics(self, sim):
        pass

    def draw_viewer(self, viewer, sim, render_collision=True):
        import _x_screen

        if sim.draw is not None:
            _x_screen.SCREEN = sim.draw()

    def sync_frame_time(self, sim):
        pass

    def poll_viewer_events(self, viewer):
        pass

    def destroy_viewer(self, viewer):
        pass


class CameraProperties:
    width, height = 1280, 720


class Viewer:
    def __init__(self, sim):
        self.sim = sim


def acquire_gym():
    return Gym()
'''

# the X server the viewer draws on and pyvirtualdisplay grabs from (the test double of Xvfb)
FILES["python/_x_screen.py"] = '''
DISPLAYS = []  # the virtual displays started
SCREEN = None  # the last frame the viewer drew: (H, W, 3) uint8
'''

# pyvirtualdisplay's SmartDisplay, as IsaacGymEnvs' virtual screen capture uses it
FILES["python/pyvirtualdisplay/__init__.py"] = ""
FILES["python/pyvirtualdisplay/smartdisplay.py"] = '''
import numpy as np

import _x_screen


class SmartDisplay:
    def __init__(self, size=(1024, 768), **kwargs):
        self.size = size

    def start(self):
        _x_screen.DISPLAYS.append(self)
        return self

    def stop(self):
        _x_screen.DISPLAYS.remove(self)

    def grab(self, autocrop=True):
        from PIL import Image

        return None if _x_screen.SCREEN is None else Image.fromarray(_x_screen.SCREEN)
'''

FILES["python/isaacgym/gymutil.py"] = '''
import argparse

from isaacgym import gymapi


def parse_arguments(description="Isaac Gym Example", headless=False, no_graphics=False, custom_parameters=[]):
    parser = argparse.ArgumentParser(description=description)
    if headless:
        parser.add_argument("--headless", action="store_true")
    parser.add_argument("--sim_device", type=str, default="cuda:0")
    parser.add_argument("--pipeline", type=str, default="gpu")
    parser.add_argument("--graphics_device_id", type=int, default=0)
    parser.add_argument("--flex", action="store_true")
    parser.add_argument("--physx", action="store_true")
    for p in custom_parameters:
        p = dict(p)
        parser.add_argument(p.pop("name"), **p)
    args = parser.parse_args()
    args.sim_device_type = args.sim_device.split(":")[0]
    args.compute_device_id = int(args.sim_device.split(":")[1]) if ":" in args.sim_device else 0
    args.use_gpu_pipeline = args.pipeline in ("gpu", "cuda") and args.sim_device_type == "cuda"
    args.physics_engine = gymapi.SIM_FLEX if args.flex else gymapi.SIM_PHYSX
    return args


def parse_sim_config(cfg, sim_params):
    for key in ("dt", "substeps"):
        if key in cfg:
            setattr(sim_params, key, cfg[key])
'''

FILES["python/isaacgym/gymtorch.py"] = '''
from isaacgym import gymdeps  # noqa: F401

def wrap_tensor(gym_tensor):
    return gym_tensor


def unwrap_tensor(torch_tensor):
    return torch_tensor
'''

# ------------------------------------------------------------------------------------ rlgpu (Preview 2)

FILES["python/rlgpu/utils/__init__.py"] = ""
FILES["python/rlgpu/utils/config.py"] = '''
import yaml

from isaacgym import gymapi, gymutil


def get_args():
    custom = [
        {"name": "--task", "type": str, "default": "Counting"},
        {"name": "--num_envs", "type": int, "default": 0},
        {"name": "--headless", "action": "store_true"},
        {"name": "--seed", "type": int, "default": 0},
        {"name": "--rl_device", "type": str, "default": "cpu"},
        {"name": "--cfg_env", "type": str, "default": "Base"},
        {"name": "--cfg_train", "type": str, "default": "Base"},
        {"name": "--episode_length", "type": int, "default": 0},
    ]
    args = gymutil.parse_arguments(description="RL Policy", custom_parameters=custom)
    args.device = args.sim_device_type if args.use_gpu_pipeline else "cpu"
    if args.cfg_env == "Base":
        args.cfg_env = "cfg/" + args.task.lower() + ".yaml"
    if args.cfg_train == "Base":
        args.cfg_train = "cfg/train/" + args.task.lower() + "_ppo.yaml"
    return args


def load_cfg(args):
    with open(args.cfg_env) as f:  # rlgpu reads relative to the working directory
        cfg = yaml.safe_load(f)
    with open(args.cfg_train) as f:
        cfg_train = yaml.safe_load(f)
    if args.num_envs > 0:
        cfg["env"]["numEnvs"] = args.num_envs
    if args.episode_length > 0:
        cfg["env"]["episodeLength"] = args.episode_length
    cfg["seed"] = args.seed
    cfg["headless"] = args.headless
    return cfg, cfg_train, "logs"


def parse_sim_params(args, cfg, cfg_train):
    sim_params = gymapi.SimParams()
    sim_params.dt = 1.0 / 60.0
    sim_params.use_gpu_pipeline = args.use_gpu_pipeline
    if "sim" in cfg:
        gymutil.parse_sim_config(cfg["sim"], sim_params)
    return sim_params
'''

FILES["python/rlgpu/utils/parse_task.py"] = '''
from tasks.base.vec_task import VecTaskPython
from tasks.counting import Counting

TASKS = {"Counting": Counting}


def parse_task(args, cfg, cfg_train, sim_params):
    if args.task not in TASKS:
        raise Exception(f"Unrecognized task {args.task}")
    task = TASKS[args.task](cfg=cfg, sim_params=sim_params, physics_engine=args.physics_engine,
                            device_type=args.device, device_id=args.compute_device_id, headless=args.headless)
    env = VecTaskPython(task, args.rl_device)
    return task, env
'''

FILES["python/rlgpu/tasks/__init__.py"] = ""
FILES["python/rlgpu/tasks/base/__init__.py"] = ""
FILES["python/rlgpu/tasks/base/base_task.py"] = '''
import torch
from isaacgym import gymapi


class BaseTask:
    def __init__(self, cfg, enable_camera_sensors=False):
        self.gym = gymapi.acquire_gym()
        self.device = "cpu" if cfg.get("device_type", "cpu") == "cpu" else "cuda:%d" % cfg.get("device_id", 0)
        self.headless = cfg["headless"]
        self.num_envs = cfg["env"]["numEnvs"]
        self.num_obs = cfg["env"]["numObservations"]
        self.num_states = cfg["env"].get("numStates", 0)
        self.num_actions = cfg["env"]["numActions"]
        self.control_freq_inv = cfg["env"].get("controlFrequencyInv", 1)
        n = self.num_envs
        self.obs_buf = torch.zeros((n, self.num_obs), device=self.device)
        self.states_buf = torch.zeros((n, self.num_states), device=self.device)
        self.rew_buf = torch.zeros(n, device=self.device)
        self.reset_buf = torch.ones(n, device=self.device, dtype=torch.long)
        self.progress_buf = torch.zeros(n, device=self.device, dtype=torch.long)
        self.extras = {}
        self.create_sim()

    def step(self, actions):
        self.pre_physics_step(actions)
        for _ in range(self.control_freq_inv):
            self.gym.simulate(self.sim)
        self.post_physics_step()

    def render(self, sync_frame_time=False):
        return "rendered"
'''

FILES["python/rlgpu/tasks/base/vec_task.py"] = '''
import numpy as np
import torch


class Box:
    """gym 0.23's spaces.Box, as far as the wrappers look at it."""

    def __init__(self, low, high, shape, dtype=np.float32):
        self.low, self.high = np.full(shape, low, dtype=dtype), np.full(shape, high, dtype=dtype)
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)


class VecTask:
    def __init__(self, task, rl_device, clip_observations=5.0, clip_actions=1.0):
        self.task = task
        self.num_environments = task.num_envs
        self.num_agents = 1
        self.num_observations = task.num_obs
        self.num_states = task.num_states
        self.num_actions = task.num_actions
        self.obs_space = Box(-np.inf, np.inf, (self.num_observations,))
        self.state_space = Box(-np.inf, np.inf, (self.num_states,))
        self.act_space = Box(-1.0, 1.0, (self.num_actions,))
        self.clip_obs = clip_observations
        self.clip_actions = clip_actions
        self.rl_device = rl_device

    @property
    def observation_space(self):
        return self.obs_space

    @property
    def action_space(self):
        return self.act_space

    @property
    def num_envs(self):
        return self.num_environments

    @property
    def num_acts(self):
        return self.num_actions

    @property
    def num_obs(self):
        return self.num_observations


class VecTaskPython(VecTask):
    def get_state(self):
        return torch.clamp(self.task.states_buf, -self.clip_obs, self.clip_obs).to(self.rl_device)

    def step(self, actions):
        actions_tensor = torch.clamp(actions, -self.clip_actions, self.clip_actions)
        self.task.step(actions_tensor)
        return (torch.clamp(self.task.obs_buf, -self.clip_obs, self.clip_obs).to(self.rl_device),
                self.task.rew_buf.to(self.rl_device), self.task.reset_buf.to(self.rl_device), self.task.extras)

    def reset(self):
        actions = 0.01 * (1 - 2 * torch.rand([self.task.num_envs, self.task.num_actions], device=self.rl_device))
        self.task.step(actions)
        return torch.clamp(self.task.obs_buf, -self.clip_obs, self.clip_obs).to(self.rl_device)

    def render(self, *args, **kwargs):
        return self.task.render()

    def close(self):
        self.task.closed = True
'''

FILES["python/rlgpu/tasks/counting.py"] = '''
import torch

from tasks.base.base_task import BaseTask


class Counting(BaseTask):
    """Env i earns (i + 1) * rewardScale per step; episodes last episodeLength steps (reset in the next step)."""

    def __init__(self, cfg, sim_params, physics_engine, device_type, device_id, headless):
        cfg["device_type"], cfg["device_id"], cfg["headless"] = device_type, device_id, headless
        self.max_episode_length = cfg["env"]["episodeLength"]
        self.reward_scale = cfg["env"]["rewardScale"]
        self.sim_params, self.physics_engine = sim_params, physics_engine
        super().__init__(cfg=cfg)
        self.closed = False

    def create_sim(self):
        self.sim = self.gym.create_sim(0, 0, self.physics_engine, self.sim_params)
        self.sim.physics = self._physics

    def pre_physics_step(self, actions):
        self.actions = actions.clone().to(self.device)
        done = self.reset_buf.nonzero(as_tuple=False).flatten()
        self.progress_buf[done] = 0

    def _physics(self):
        self.progress_buf += 1

    def post_physics_step(self):
        i = torch.arange(self.num_envs, device=self.device, dtype=torch.float32)
        self.obs_buf[:, 0] = self.progress_buf.float()
        self.obs_buf[:, 1] = i
        self.obs_buf[:, 2] = self.actions.sum(dim=-1)
        self.states_buf[:, 0] = self.progress_buf.float() * 10.0
        self.states_buf[:, 1] = i * 10.0
        self.rew_buf[:] = (i + 1.0) * self.reward_scale
        self.reset_buf[:] = (self.progress_buf >= self.max_episode_length).long()
'''

FILES["python/rlgpu/cfg/counting.yaml"] = '''
env:
  numEnvs: 16
  numObservations: 3
  numStates: 2
  numActions: 2
  episodeLength: 4
  rewardScale: 0.5
sim:
  substeps: 2
'''
FILES["python/rlgpu/cfg/train/counting_ppo.yaml"] = '''
params:
  algo:
    name: ppo
'''

# ------------------------------------------------------------------------------------ IsaacGymEnvs (Preview 3/4)

FILES["IsaacGymEnvs/isaacgymenvs/__init__.py"] = '''
import os

from omegaconf import OmegaConf

# IsaacGymEnvs registers its resolvers unconditionally (a second registration raises)
OmegaConf.register_new_resolver("eq", lambda x, y: x.lower() == y.lower())
OmegaConf.register_new_resolver("contains", lambda x, y: x.lower() in y.lower())
OmegaConf.register_new_resolver("if", lambda pred, a, b: a if pred else b)
OmegaConf.register_new_resolver("resolve_default", lambda default, arg: default if arg == "" else arg)


def make(seed, task, num_envs, sim_device, rl_device, graphics_device_id=-1, headless=False, multi_gpu=False,
         virtual_screen_capture=False, force_render=True, cfg=None):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from isaacgymenvs.tasks import isaacgym_task_map

    if cfg is None:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=os.path.join(os.path.dirname(__file__), "cfg"), version_base=None):
            cfg = compose(config_name="config", overrides=[f"task={task}"])
    cfg_dict = OmegaConf.to_container(cfg.task, resolve=True)
    cfg_dict["env"]["numEnvs"] = num_envs
    cfg_dict["seed"] = seed
    return isaacgym_task_map[cfg_dict["name"]](cfg=cfg_dict, rl_device=rl_device, sim_device=sim_device,
                                               graphics_device_id=graphics_device_id, headless=headless,
                                               virtual_screen_capture=virtual_screen_capture,
                                               force_render=force_render)
'''

FILES["IsaacGymEnvs/isaacgymenvs/cfg/config.yaml"] = '''
task_name: ${task.name}
experiment: ''
num_envs: ''
seed: 42
torch_deterministic: False
max_iterations: ''
physics_engine: 'physx'
pipeline: 'gpu'
sim_device: 'cuda:0'
rl_device: 'cuda:0'
graphics_device_id: 0
num_threads: 4
solver_type: 1
num_subscenes: 4
test: False
checkpoint: ''
multi_gpu: False
capture_video: False
force_render: True
headless: False

defaults:
  - task: Ant
  - train: ${task}PPO
  - override hydra/job_logging: disabled
  - _self_

hydra:
  output_subdir: null
  run:
    dir: .
'''

FILES["IsaacGymEnvs/isaacgymenvs/cfg/task/Ant.yaml"] = '''
name: Ant
physics_engine: ${..physics_engine}
env:
  numEnvs: ${resolve_default:4096,${...num_envs}}
  envSpacing: 5
  episodeLength: 1000
  clipActions: 1.0
  clipObservations: 5.0
sim:
  dt: 0.0166
  substeps: 2
  up_axis: "z"
  use_gpu_pipeline: ${eq:${...pipeline},"gpu"}
  physx:
    num_threads: ${....num_threads}
    use_gpu: ${contains:"cuda",${....sim_device}}
'''

FILES["IsaacGymEnvs/isaacgymenvs/cfg/task/Counting.yaml"] = '''
name: Counting
physics_engine: ${..physics_engine}
env:
  numEnvs: ${resolve_default:64,${...num_envs}}
  episodeLength: 6
  terminateAt: 3
  rewardScale: 1.0
  clipObservations: 100.0
  clipActions: 1.0
  asymmetric: ${if:${eq:${...physics_engine},"physx"},True,False}
sim:
  use_gpu_pipeline: ${eq:${...pipeline},"gpu"}
'''

FILES["IsaacGymEnvs/isaacgymenvs/cfg/train/AntPPO.yaml"] = '''
params:
  algo:
    name: a2c_continuous
'''
FILES["IsaacGymEnvs/isaacgymenvs/cfg/train/CountingPPO.yaml"] = FILES["IsaacGymEnvs/isaacgymenvs/cfg/train/AntPPO.yaml"]

FILES["IsaacGymEnvs/isaacgymenvs/tasks/__init__.py"] = '''
from isaacgymenvs.tasks.ant import Ant
from isaacgymenvs.tasks.counting import Counting, CountingPreview3

isaacgym_task_map = {"Ant": Ant, "Counting": Counting, "CountingPreview3": CountingPreview3}
'''
FILES["IsaacGymEnvs/isaacgymenvs/cfg/task/CountingPreview3.yaml"] = FILES[
    "IsaacGymEnvs/isaacgymenvs/cfg/task/Counting.yaml"].replace("name: Counting", "name: CountingPreview3")
FILES["IsaacGymEnvs/isaacgymenvs/cfg/train/CountingPreview3PPO.yaml"] = FILES[
    "IsaacGymEnvs/isaacgymenvs/cfg/train/AntPPO.yaml"]
FILES["IsaacGymEnvs/isaacgymenvs/tasks/base/__init__.py"] = ""
FILES["IsaacGymEnvs/isaacgymenvs/tasks/base/vec_task.py"] = '''
from abc import ABC, abstractmethod

import numpy as np
import torch
from gym import spaces
from isaacgym import gymapi


class Env(ABC):
    def __init__(self, config, rl_device, sim_device, graphics_device_id, headless):
        self.sim_device = sim_device
        self.device = sim_device if config["sim"].get("use_gpu_pipeline", False) else "cpu"
        self.rl_device = rl_device
        self.headless = headless
        self.num_environments = config["env"]["numEnvs"]
        self.num_agents = 1
        self.num_observations = config["env"]["numObservations"]
        self.num_states = config["env"].get("numStates", 0)
        self.num_actions = config["env"]["numActions"]
        self.control_freq_inv = config["env"].get("controlFrequencyInv", 1)
        # gym 0.23 spaces, built as IsaacGymEnvs' Env builds them
        self.obs_space = spaces.Box(np.ones(self.num_observations) * -np.inf, np.ones(self.num_observations) * np.inf)
        self.state_space = spaces.Box(np.ones(self.num_states) * -np.inf, np.ones(self.num_states) * np.inf)
        self.act_space = spaces.Box(np.ones(self.num_actions) * -1.0, np.ones(self.num_actions) * 1.0)
        self.clip_obs = config["env"].get("clipObservations", np.inf)
        self.clip_actions = config["env"].get("clipActions", np.inf)

    @abstractmethod
    def step(self, actions):
        pass

    @abstractmethod
    def reset(self):
        pass

    @property
    def observation_space(self):
        return self.obs_space

    @property
    def action_space(self):
        return self.act_space

    @property
    def num_envs(self):
        return self.num_environments

    @property
    def num_acts(self):
        return self.num_actions

    @property
    def num_obs(self):
        return self.num_observations


class VecTask(Env):
    def __init__(self, config, rl_device, sim_device, graphics_device_id, headless, virtual_screen_capture=False,
                 force_render=False):
        super().__init__(config, rl_device, sim_device, graphics_device_id, headless)
        self.cfg = config
        self.virtual_screen_capture = virtual_screen_capture
        self.virtual_display = None
        if self.virtual_screen_capture:  # as IsaacGymEnvs: an X display in memory the viewer opens on
            from pyvirtualdisplay.smartdisplay import SmartDisplay

            self.virtual_display = SmartDisplay(size=(1027, 768))
            self.virtual_display.start()
        self.force_render = force_render
        self.max_episode_length = config["env"].get("episodeLength", 1000)
        self.gym = gymapi.acquire_gym()
        self.sim_params = gymapi.SimParams()
        self.dt = self.sim_params.dt
        self.physics_engine = gymapi.SIM_PHYSX
        self.render_calls = 0
        self.closed = False
        self.obs_dict = {}
        self.create_sim()
        self.gym.prepare_sim(self.sim)
        self.sim.draw = self._draw
        self.viewer = None
        if not self.headless:
            self.viewer = self.gym.create_viewer(self.sim, gymapi.CameraProperties())
        self.allocate_buffers()

    def _draw(self):
        """What the viewer shows of the scene: env 0's observations as bars (the double's stand-in for a 3D view)."""
        values = torch.sigmoid(self.obs_buf[0].detach().float().cpu()).numpy()
        image = np.zeros((48, 64, 3), dtype=np.uint8)
        for j, v in enumerate(values[:16]):
            image[48 - int(v * 47) - 1:, 4 * j:4 * j + 3] = (255, int(255 * v), 64)
        return image

    def allocate_buffers(self):
        n = self.num_envs
        self.obs_buf = torch.zeros((n, self.num_obs), device=self.device, dtype=torch.float)
        self.states_buf = torch.zeros((n, self.num_states), device=self.device, dtype=torch.float)
        self.rew_buf = torch.zeros(n, device=self.device, dtype=torch.float)
        self.reset_buf = torch.ones(n, device=self.device, dtype=torch.long)
        self.timeout_buf = torch.zeros(n, device=self.device, dtype=torch.long)
        self.progress_buf = torch.zeros(n, device=self.device, dtype=torch.long)
        self.extras = {}

    @abstractmethod
    def create_sim(self):
        pass

    @abstractmethod
    def pre_physics_step(self, actions):
        pass

    @abstractmethod
    def post_physics_step(self):
        pass

    def compute_timeouts(self):
        return (self.progress_buf >= self.max_episode_length - 1) & (self.reset_buf != 0)

    def step(self, actions):
        action_tensor = torch.clamp(actions, -self.clip_actions, self.clip_actions)
        self.pre_physics_step(action_tensor)
        for _ in range(self.control_freq_inv):
            self.gym.simulate(self.sim)
        if self.device == "cpu":
            self.gym.fetch_results(self.sim, True)
        if self.force_render:  # IsaacGymEnvs renders every step unless told not to
            self.render()
        self.post_physics_step()
        self.timeout_buf = self.compute_timeouts()
        self.extras["time_outs"] = self.timeout_buf.to(self.rl_device)
        self.obs_dict["obs"] = torch.clamp(self.obs_buf, -self.clip_obs, self.clip_obs).to(self.rl_device)
        if self.num_states > 0:
            self.obs_dict["states"] = self.get_state()
        return self.obs_dict, self.rew_buf.to(self.rl_device), self.reset_buf.to(self.rl_device), self.extras

    def zero_actions(self):
        return torch.zeros([self.num_envs, self.num_actions], dtype=torch.float32, device=self.rl_device)

    def get_state(self):
        return torch.clamp(self.states_buf, -self.clip_obs, self.clip_obs).to(self.rl_device)

    def reset(self):
        self.step(self.zero_actions())
        self.obs_dict["obs"] = torch.clamp(self.obs_buf, -self.clip_obs, self.clip_obs).to(self.rl_device)
        if self.num_states > 0:
            self.obs_dict["states"] = self.get_state()
        return self.obs_dict

    def render(self, mode="rgb_array"):
        self.render_calls += 1
        if self.viewer:
            self.gym.step_graphics(self.sim)
            self.gym.draw_viewer(self.viewer, self.sim, True)
            self.gym.sync_frame_time(self.sim)
            if self.virtual_display and mode == "rgb_array":
                img = self.virtual_display.grab()
                return np.array(img)

    def close(self):
        self.closed = True
        if self.virtual_display is not None:
            self.virtual_display.stop()
        self.gym.destroy_sim(self.sim)
'''

FILES["IsaacGymEnvs/isaacgymenvs/tasks/ant.py"] = '''
import skrl_isaac_envs as envs  # the embedded MuJoCo suite does the physics
from isaacgym import gymapi

from isaacgymenvs.tasks.base.vec_task import VecTask


class Ant(VecTask):
    def __init__(self, cfg, rl_device, sim_device, graphics_device_id, headless, virtual_screen_capture, force_render):
        self.cfg = cfg
        cfg["env"]["numObservations"], cfg["env"]["numActions"] = 60, 8
        super().__init__(cfg, rl_device, sim_device, graphics_device_id, headless, virtual_screen_capture, force_render)

    def create_sim(self):
        self.sim = self.gym.create_sim(0, 0, self.physics_engine, self.sim_params)
        self.physics = envs.make("Ant", self.num_envs, device=self.device, seed=self.cfg.get("seed"),
                                 cfg={"env": {"episodeLength": self.max_episode_length}})
        self.sim.physics = lambda: self._result.update(zip(("obs", "rew", "reset", "extras"),
                                                           self.physics.step(self.actions)))
        self._result = {}

    def pre_physics_step(self, actions):
        self.actions = actions.clone().to(self.device)

    def post_physics_step(self):
        self.obs_buf[:] = self._result["obs"]["obs"]
        self.rew_buf[:] = self._result["rew"]
        self.reset_buf[:] = self._result["reset"]
        self.progress_buf[:] = self.physics.progress_buf

    def compute_timeouts(self):  # the embedded Ant resets in the same step: take its own time-out flags
        return self._result["extras"]["time_outs"].clone()
'''

FILES["IsaacGymEnvs/isaacgymenvs/tasks/counting.py"] = '''
import torch

from isaacgymenvs.tasks.base.vec_task import VecTask


class Counting(VecTask):
    """Pure-torch: env i earns (i + 1) * rewardScale; even envs terminate at terminateAt, odd ones time out.

    As IsaacGymEnvs tasks, envs flagged in reset_buf are reset at the start of the next step.
    Privileged states (numStates = 2) when cfg.env.asymmetric.
    """

    def __init__(self, cfg, rl_device, sim_device, graphics_device_id, headless, virtual_screen_capture, force_render):
        cfg["env"]["numObservations"], cfg["env"]["numActions"] = 3, 2
        cfg["env"]["numStates"] = 2 if cfg["env"].get("asymmetric") else 0
        self.terminate_at = cfg["env"]["terminateAt"]
        self.reward_scale = cfg["env"]["rewardScale"]
        super().__init__(cfg, rl_device, sim_device, graphics_device_id, headless, virtual_screen_capture, force_render)

    def create_sim(self):
        self.sim = self.gym.create_sim(0, 0, self.physics_engine, self.sim_params)
        self.sim.physics = self._physics

    def pre_physics_step(self, actions):
        self.actions = actions.clone().to(self.device)
        self.progress_buf.masked_fill_(self.reset_buf.bool(), 0)

    def _physics(self):
        self.progress_buf += 1

    def post_physics_step(self):
        i = torch.arange(self.num_envs, device=self.device, dtype=torch.float32)
        even = (torch.arange(self.num_envs, device=self.device) % 2) == 0
        self.obs_buf[:, 0] = self.progress_buf.float()
        self.obs_buf[:, 1] = i
        self.obs_buf[:, 2] = self.actions.sum(dim=-1)
        if self.num_states:
            self.states_buf[:, 0] = self.progress_buf.float() * 10.0
            self.states_buf[:, 1] = i * 10.0
        self.rew_buf[:] = (i + 1.0) * self.reward_scale
        terminated = even & (self.progress_buf >= self.terminate_at)
        self.reset_buf[:] = (terminated | (self.progress_buf >= self.max_episode_length - 1)).long()


class CountingPreview3(Counting):
    """Preview 3's constructor: no rl_device (nor virtual_screen_capture / force_render); the task reads
    ``cfg["rl_device"]`` as Preview 3's Env did."""

    def __init__(self, cfg, sim_device, graphics_device_id, headless):
        super().__init__(cfg, cfg.get("rl_device", "cuda:0"), sim_device, graphics_device_id, headless, False, False)
'''


def build(root, import_order_check: bool = True) -> dict[str, str]:
    """Write the packages under ``root``; returns their paths (``python``, ``rlgpu``, ``isaacgymenvs``, ``repo``).

    ``import_order_check=False`` builds an ``isaacgym`` that does not refuse a process where torch is already
    imported: for tests that import it in pytest's own process (torch loaded long before). Tests of the import
    order (a fresh ``python`` process) keep the default, which refuses exactly as the real package does.
    """
    root = str(root)
    for rel, text in FILES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        text = textwrap.dedent(text).lstrip("\n")
        if rel == "python/isaacgym/gymdeps.py" and not import_order_check:
            text = text.replace("IMPORT_ORDER_CHECK = True", "IMPORT_ORDER_CHECK = False")
        with open(path, "w") as f:
            f.write(text)
    return {
        "python": os.path.join(root, "python"),
        "rlgpu": os.path.join(root, "python", "rlgpu"),
        "repo": os.path.join(root, "IsaacGymEnvs"),
        "isaacgymenvs": os.path.join(root, "IsaacGymEnvs", "isaacgymenvs"),
    }


FAKE_MODULES = ("isaacgym", "isaacgymenvs", "tasks", "utils", "gym", "pyvirtualdisplay", "_x_screen")


def unload() -> None:
    """Forget the fake modules (and OmegaConf resolvers they registered) so the next test builds afresh."""
    for name in list(sys.modules):
        if name.split(".")[0] in FAKE_MODULES:
            del sys.modules[name]
    try:
        from omegaconf import OmegaConf

        for name in ("eq", "contains", "if", "resolve_default"):
            OmegaConf.clear_resolver(name)
    except Exception:  # noqa: BLE001 -- older omegaconf without clear_resolver
        pass
