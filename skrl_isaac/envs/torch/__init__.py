"""Environment wrappers and loaders."""

from skrl_isaac.envs.torch.loaders import load_embedded_env
from skrl_isaac.envs.torch.wrappers import (
    IsaacGymPreview2Wrapper,
    IsaacGymPreview3Wrapper,
    IsaacGymPreview4Wrapper,
    Wrapper,
    wrap_env,
)

__all__ = ["wrap_env", "load_embedded_env", "Wrapper", "IsaacGymPreview2Wrapper", "IsaacGymPreview3Wrapper",
           "IsaacGymPreview4Wrapper"]
