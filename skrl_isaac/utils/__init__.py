"""Small shared helpers: seeding, spaces, files, configs."""

from skrl_isaac.utils.seed import set_seed

__all__ = ["set_seed"]
