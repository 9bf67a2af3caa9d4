"""rl_games interop (extra ``[rl_games]``: ``rl-games>=1.6.5``, ``psutil<6``).

Two directions:

* :func:`register_rl_games_env` registers a task of the embedded suite with rl_games
  (``vecenv.register`` + ``env_configurations.register``, as IsaacGymEnvs does for its ``rlgpu`` env),
  so rl_games' own ``Runner`` trains it with ``config.env_name`` set to the registered name.
* :func:`load_rl_games_checkpoint` converts the ``.pth`` of an rl_games continuous A2C policy
  (``a2c_continuous`` + ``continuous_a2c_logstd`` + ``actor_critic`` network with ``fixed_sigma``) into
  our :class:`MLPGaussianPolicy` and a :class:`RunningStandardScaler` with the same input statistics;
  :func:`apply_rl_games_checkpoint` loads it into an agent's policy/state preprocessor for playing.

rl_games' ``Runner()`` turns TF32 on for the whole process (CUDA matmuls and convolutions round to a
10-bit mantissa afterwards, ours included); :func:`float32_matmul_kept` around it restores the settings.

Conventions matched: rl_games normalizes inputs as ``clamp((x - mean) / sqrt(var + 1e-5), -5, 5)``
(``RunningMeanStd``: float64 buffers cast to float32), so the scaler gets ``epsilon=1e-5``,
``clip_threshold=5``; the network's ``sigma`` is the log standard deviation (``sigma_activation: None``)
and ``mu`` has no activation (``mu_activation: None``, IsaacGymEnvs' setting). Policies with other
output activations, a learned (state-dependent) sigma, normalization layers or ``d2rl`` are rejected
with the reason.

rl_games writes checkpoints with ``torch.save`` of a dict that holds numpy scalars (e.g. the best
reward); they are read with ``torch.load(weights_only=True)`` and, for those numpy scalars only, an
allowlist of numpy's scalar/dtype reconstructors (no arbitrary code is unpickled).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from skrl_isaac.envs.torch.loaders import load_embedded_env
from skrl_isaac.models.torch.mlp import MLPGaussianPolicy
from skrl_isaac.resources.preprocessors.torch import RunningStandardScaler
from skrl_isaac.utils.spaces import flatten_size

RL_GAMES_EPSILON = 1e-5
RL_GAMES_CLIP = 5.0
REQUIREMENTS = ["rl-games>=1.6.5", "psutil<6"]


def _import_rl_games() -> tuple[Any, Any]:
    try:
        from rl_games.common import env_configurations, vecenv
    except ImportError as e:
        raise ImportError(f"rl_games is not installed: pip install 'skrl_isaac[rl_games]' "
                          f"(or pip install {' '.join(repr(r) for r in REQUIREMENTS)}) ({e})") from e
    return env_configurations, vecenv


class RlGamesVecEnv:
    """rl_games ``IVecEnv`` over a VecTask (``step``/``reset`` pass the task's ``obs_dict`` through, as ``RLGPUEnv``)."""

    def __init__(self, config_name: str, num_actors: int, **kwargs: Any) -> None:
        env_configurations, _ = _import_rl_games()
        self.env = env_configurations.configurations[config_name]["env_creator"](**kwargs)

    def step(self, actions: torch.Tensor) -> tuple:
        return self.env.step(actions)

    def reset(self) -> Any:
        return self.env.reset()

    def reset_done(self) -> Any:
        return self.env.reset_done() if hasattr(self.env, "reset_done") else (self.env.obs_dict, None)

    def get_number_of_agents(self) -> int:
        return 1

    def get_env_info(self) -> dict:
        info = {"action_space": self.env.action_space, "observation_space": self.env.observation_space}
        if int(getattr(self.env, "num_states", 0) or 0) > 0:
            info["state_space"] = self.env.state_space
        return info

    def set_train_info(self, env_frames: int, *args: Any, **kwargs: Any) -> None:
        if hasattr(self.env, "set_train_info"):
            self.env.set_train_info(env_frames, *args, **kwargs)

    def get_env_state(self) -> Any:
        return self.env.get_env_state() if hasattr(self.env, "get_env_state") else None

    def set_env_state(self, env_state: Any) -> None:
        if env_state is not None and hasattr(self.env, "set_env_state"):
            self.env.set_env_state(env_state)

    def close(self) -> None:
        self.env.close()


@contextlib.contextmanager
def float32_matmul_kept() -> Iterator[None]:
    """Restore torch's process-wide float32 matmul settings on exit.

    rl_games' ``Runner()`` sets ``torch.backends.cuda.matmul.allow_tf32``,
    ``torch.backends.cudnn.allow_tf32``, ``torch.backends.cudnn.benchmark`` and
    ``torch.set_float32_matmul_precision("high")`` for the whole process, so every CUDA matmul after it
    (ours too) rounds its inputs to TF32 (~1e-3 relative). Wrap the ``Runner`` work in this to keep the
    rest of the process in full float32::

        with float32_matmul_kept():
            runner = Runner()
            runner.load(config)
            runner.reset()
            runner.run({"train": True, "play": False, "checkpoint": None, "sigma": None})

    (rl_games' own training inside the block still runs with its settings.)
    """
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
             torch.get_float32_matmul_precision())
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
         precision) = saved
        torch.set_float32_matmul_precision(precision)


def register_rl_games_env(task_name: str = "Ant", num_envs: int | None = None, device: str = "cpu",
                          seed: int | None = None, cfg: dict | None = None, env_name: str = "rlgpu",
                          vecenv_type: str = "RLGPU", env_creator: Callable[..., Any] | None = None) -> str:
    """Register an embedded task with rl_games; returns ``env_name`` (use it as rl_games' ``config.env_name``).

    :param task_name: the embedded task (``envs.TASK_MAP``)
    :param num_envs: number of environments; must equal rl_games' ``config.num_actors``
    :param device: the task's device (rl_games' ``config.device`` should match)
    :param seed: the task's seed
    :param cfg: task config overrides
    :param env_name: the name rl_games' config refers to (``env_name``)
    :param vecenv_type: rl_games' vecenv type name
    :param env_creator: build the task yourself instead (called with rl_games' ``env_config`` kwargs)
    """
    env_configurations, vecenv = _import_rl_games()
    if env_creator is None:
        def env_creator(**kwargs: Any) -> Any:
            return load_embedded_env(task_name, num_envs=num_envs, device=device, seed=seed, cfg=cfg)
    vecenv.register(vecenv_type, lambda config_name, num_actors, **kwargs: RlGamesVecEnv(config_name, num_actors,
                                                                                          **kwargs))
    env_configurations.register(env_name, {"vecenv_type": vecenv_type, "env_creator": env_creator})
    return env_name


# ------------------------------------------------------------------------------------- checkpoints

def _numpy_safe_globals() -> list:
    names = [np.dtype]
    try:
        names.append(np.core.multiarray.scalar)  # numpy < 2 path, still importable with a warning in numpy 2
    except AttributeError:
        pass
    try:
        from numpy._core.multiarray import scalar

        names.append(scalar)
    except ImportError:
        pass
    names += [type(np.dtype(t)) for t in ("float32", "float64", "int32", "int64", "bool")]
    return names


def read_rl_games_checkpoint(path: str, map_location: str | torch.device = "cpu") -> dict:
    """The dict rl_games saved (``model``, ``epoch``, ...), read with ``weights_only=True`` (numpy scalars allowed)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        allowed = _numpy_safe_globals()
    try:
        with torch.serialization.safe_globals(allowed):
            state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 -- report what the file holds that weights_only refused
        raise ValueError(f"{path}: not readable as an rl_games checkpoint with weights_only=True ({e}); "
                         "only files that hold tensors, numbers, strings and numpy scalars are accepted") from e
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path}: not an rl_games checkpoint (expected a dict with a 'model' state_dict)")
    return state


def _actor_layers(model: dict, path: str) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], str]:
    model = {k.replace("_orig_mod.", ""): v for k, v in model.items()}
    prefix = "a2c_network."
    if f"{prefix}mu.weight" not in model:
        raise ValueError(f"{path}: no a2c_network.mu (not a continuous actor-critic policy); keys: {sorted(model)[:8]}...")
    if f"{prefix}sigma" not in model:
        raise ValueError(f"{path}: the policy's sigma is not a fixed parameter (fixed_sigma: False); not supported")
    indices = sorted({int(m.group(1)) for k in model if (m := re.match(r"a2c_network\.actor_mlp\.(\d+)\.", k))})
    if any("d2rl" in k for k in model) or indices != list(range(0, 2 * len(indices), 2)):
        raise ValueError(f"{path}: actor_mlp layers {indices} are not plain Linear/activation pairs "
                         "(normalization layers or d2rl); not supported")
    layers = [(model[f"{prefix}actor_mlp.{i}.weight"], model[f"{prefix}actor_mlp.{i}.bias"]) for i in indices]
    layers.append((model[f"{prefix}mu.weight"], model[f"{prefix}mu.bias"]))
    return layers, prefix


def rl_games_policy_state(path: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The converted pieces of an rl_games checkpoint.

    :returns: ``{"policy": state_dict of MLPGaussianPolicy, "hiddens": [...], "num_observations": O,
              "num_actions": A, "state_preprocessor": state_dict of RunningStandardScaler or None}``
    """
    checkpoint = read_rl_games_checkpoint(path, map_location)
    model = {k.replace("_orig_mod.", ""): v for k, v in checkpoint["model"].items()}
    layers, prefix = _actor_layers(model, path)
    policy: dict[str, torch.Tensor] = {}
    for i, (weight, bias) in enumerate(layers):
        policy[f"net.{2 * i}.weight"], policy[f"net.{2 * i}.bias"] = weight.float(), bias.float()
    policy["log_std_parameter"] = model[f"{prefix}sigma"].float()
    preprocessor = None
    if "running_mean_std.running_mean" in model:
        preprocessor = {"running_mean": model["running_mean_std.running_mean"].double(),
                        "running_variance": model["running_mean_std.running_var"].double(),
                        "current_count": model["running_mean_std.count"].double().reshape(())}
    return {"policy": policy, "hiddens": [int(w.shape[0]) for w, _ in layers[:-1]],
            "num_observations": int(layers[0][0].shape[1]), "num_actions": int(layers[-1][0].shape[0]),
            "state_preprocessor": preprocessor}


def load_rl_games_checkpoint(path: str, observation_space: Any, action_space: Any,
                             device: str | torch.device = "cpu", hiddens: Sequence[int] | None = None,
                             activation: str = "elu") -> tuple[MLPGaussianPolicy, RunningStandardScaler | None]:
    """Convert an rl_games continuous A2C ``.pth`` into ``(MLPGaussianPolicy, RunningStandardScaler or None)``.

    ``policy.compute(scaler(obs))[0]`` equals rl_games' ``mus`` for the same observations.

    :param path: the ``.pth`` rl_games wrote (``<train_dir>/<name>/nn/*.pth``)
    :param observation_space: observation space (or size) the policy was trained on
    :param action_space: action space (or size)
    :param device: device of the returned modules
    :param hiddens: the actor MLP's hidden sizes (``network.mlp.units``); None: read from the checkpoint.
                    Given, it must match the checkpoint's
    :param activation: the MLP's activation (``network.mlp.activation``; not stored in checkpoints)
    :raises ValueError: a checkpoint that is not a supported rl_games policy, or sizes that do not match
    """
    pieces = rl_games_policy_state(path, map_location="cpu")
    if hiddens is not None and [int(h) for h in hiddens] != pieces["hiddens"]:
        raise ValueError(f"{path}: hiddens={list(hiddens)} but the checkpoint's actor MLP is {pieces['hiddens']}")
    for what, space, size in (("observation", observation_space, pieces["num_observations"]),
                              ("action", action_space, pieces["num_actions"])):
        if flatten_size(space) != size:
            raise ValueError(f"{path}: the policy takes {size} {what}s, the {what} space has {flatten_size(space)}")
    policy = MLPGaussianPolicy(observation_space, action_space, device, hiddens=pieces["hiddens"],
                               activation=activation)
    policy.load_state_dict(pieces["policy"])
    policy.eval()
    scaler = None
    if pieces["state_preprocessor"] is not None:
        scaler = RunningStandardScaler(observation_space, epsilon=RL_GAMES_EPSILON, clip_threshold=RL_GAMES_CLIP,
                                       device=device)
        scaler.load_state_dict(pieces["state_preprocessor"])
        scaler.eval()
    return policy, scaler


def apply_rl_games_checkpoint(agent: Any, path: str, activation: str | None = None) -> None:
    """Load an rl_games ``.pth`` into ``agent.models["policy"]`` (an MLP Gaussian policy of the same sizes) and,
    if the checkpoint has input statistics, into the agent's ``state_preprocessor`` (set to rl_games' epsilon/clip).

    For ``train_isaac.py test=True checkpoint=<file>.pth``: build the agent with the policy's hidden sizes
    (``rl_games_policy_state(path)["hiddens"]``) and a ``RunningStandardScaler`` state preprocessor.
    """
    pieces = rl_games_policy_state(path, map_location=agent.device)
    policy = agent.models["policy"]
    own = policy.state_dict()
    if set(own) != set(pieces["policy"]) or any(own[k].shape != v.shape for k, v in pieces["policy"].items()):
        raise ValueError(f"{path}: the agent's policy does not have the checkpoint's layout (actor MLP hiddens "
                         f"{pieces['hiddens']}, {pieces['num_observations']} observations, "
                         f"{pieces['num_actions']} actions); build it with those hidden sizes")
    if activation is not None and hasattr(policy, "net"):
        from skrl_isaac.models.torch.mlp import hidden_activation

        for i in range(1, len(policy.net), 2):
            policy.net[i] = hidden_activation(activation)
    policy.load_state_dict({k: v.to(own[k].device) for k, v in pieces["policy"].items()})
    preprocessor = getattr(agent, "checkpoint_modules", {}).get("state_preprocessor")
    if pieces["state_preprocessor"] is not None:
        if preprocessor is None:
            raise ValueError(f"{path}: the policy was trained on normalized inputs but the agent has no state "
                             "preprocessor; configure state_preprocessor=RunningStandardScaler")
        preprocessor.load_state_dict({k: v.to(preprocessor.running_mean.device)
                                      for k, v in pieces["state_preprocessor"].items()})
        preprocessor.epsilon, preprocessor.clip_threshold = RL_GAMES_EPSILON, RL_GAMES_CLIP


def rl_games_ppo_config(env_name: str, num_envs: int, device: str = "cpu", name: str = "Ant",
                        train_dir: str = "runs", units: Sequence[int] = (256, 128, 64), activation: str = "elu",
                        horizon_length: int = 16, max_epochs: int = 500, mini_epochs: int = 4,
                        minibatch_size: int | None = None, learning_rate: float = 3e-4, seed: int = 42,
                        torch_compile: bool | str = True) -> dict:
    """An rl_games ``a2c_continuous`` config for an embedded task (IsaacGymEnvs' AntPPO settings, sizes as given).

    ``Runner().load(config)`` takes it; ``load_rl_games_checkpoint`` converts what it trains.
    ``torch_compile`` is rl_games' own switch (False skips its compilation, which dominates tiny runs).
    """
    batch = num_envs * horizon_length
    return {"params": {
        "seed": seed,
        "algo": {"name": "a2c_continuous"},
        "model": {"name": "continuous_a2c_logstd"},
        "network": {
            "name": "actor_critic", "separate": False,
            "space": {"continuous": {"mu_activation": "None", "sigma_activation": "None",
                                     "mu_init": {"name": "default"},
                                     "sigma_init": {"name": "const_initializer", "val": 0}, "fixed_sigma": True}},
            "mlp": {"units": list(units), "activation": activation, "d2rl": False,
                    "initializer": {"name": "default"}, "regularizer": {"name": "None"}},
        },
        "config": {
            "name": name, "full_experiment_name": name, "env_name": env_name, "train_dir": train_dir,
            "device": device, "device_name": device, "multi_gpu": False, "ppo": True, "mixed_precision": False,
            "normalize_input": True, "normalize_value": True, "value_bootstrap": True, "num_actors": num_envs,
            "reward_shaper": {"scale_value": 0.01}, "normalize_advantage": True, "gamma": 0.99, "tau": 0.95,
            "learning_rate": learning_rate, "lr_schedule": "adaptive", "schedule_type": "legacy",
            "kl_threshold": 0.008, "score_to_win": 20000, "max_epochs": max_epochs, "save_best_after": 0,
            "save_frequency": 0, "grad_norm": 1.0, "entropy_coef": 0.0, "truncate_grads": False, "e_clip": 0.2,
            "horizon_length": horizon_length, "minibatch_size": minibatch_size or batch, "mini_epochs": mini_epochs,
            "critic_coef": 2, "clip_value": True, "seq_length": 4, "bounds_loss_coef": 0.0001,
            "print_stats": False, "torch_compile": torch_compile,
        },
    }}
