from envs.base.vec_task import VecTask

__all__ = ["VecTask"]
