"""Environment wrappers and loaders (skrl 0.x's ``skrl.envs.torch`` with the import root ``skrl_isaac``)."""

from skrl_isaac.envs.torch.base import Wrapper
from skrl_isaac.envs.torch.gymnasium_vector import GymnasiumVectorWrapper
from skrl_isaac.envs.torch.loaders import (
    isaacgymenvs_available,
    load_embedded_env,
    load_isaacgym_env_preview2,
    load_isaacgym_env_preview3,
    load_isaacgym_env_preview4,
    load_isaacgymenvs_env,
)
from skrl_isaac.envs.torch.wrappers import (
    EmbeddedWrapper,
    IsaacGymPreview2Wrapper,
    IsaacGymPreview3Wrapper,
    IsaacGymPreview4Wrapper,
    wrap_env,
)

__all__ = ["wrap_env", "load_embedded_env", "load_isaacgym_env_preview2", "load_isaacgym_env_preview3",
           "load_isaacgym_env_preview4", "load_isaacgymenvs_env", "isaacgymenvs_available", "Wrapper",
           "IsaacGymPreview2Wrapper", "IsaacGymPreview3Wrapper", "IsaacGymPreview4Wrapper", "EmbeddedWrapper",
           "GymnasiumVectorWrapper"]
