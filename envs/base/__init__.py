from skrl_isaac_envs.base.vec_task import VecTask

__all__ = ["VecTask"]
