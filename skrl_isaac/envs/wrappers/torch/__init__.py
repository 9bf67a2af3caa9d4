"""skrl 1.x's ``skrl.envs.wrappers.torch`` path: the same wrappers as :mod:`skrl_isaac.envs.torch`."""

from skrl_isaac.envs.torch import (EmbeddedWrapper, GymnasiumVectorWrapper, IsaacGymPreview2Wrapper,
                                   IsaacGymPreview3Wrapper, IsaacGymPreview4Wrapper, Wrapper, wrap_env)

__all__ = ["wrap_env", "Wrapper", "IsaacGymPreview2Wrapper", "IsaacGymPreview3Wrapper", "IsaacGymPreview4Wrapper",
           "EmbeddedWrapper", "GymnasiumVectorWrapper"]
