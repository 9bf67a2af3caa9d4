"""skrl 1.x's ``skrl.envs.loaders.torch`` path: the same loaders as :mod:`skrl_isaac.envs.torch`."""

from skrl_isaac.envs.torch import (load_embedded_env, load_isaacgym_env_preview2, load_isaacgym_env_preview3,
                                   load_isaacgym_env_preview4, load_isaacgymenvs_env)

__all__ = ["load_isaacgym_env_preview2", "load_isaacgym_env_preview3", "load_isaacgym_env_preview4",
           "load_isaacgymenvs_env", "load_embedded_env"]
