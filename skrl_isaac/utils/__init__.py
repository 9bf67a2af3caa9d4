"""Small shared helpers: seeding, spaces, files, configs.

``set_seed`` loads on first use, so that torch-free helpers such as :mod:`skrl_isaac.utils.files`
import without torch (the csv export process relies on it).
"""

from skrl_isaac._lazy import lazy_attributes

__all__ = ["set_seed"]
__getattr__ = lazy_attributes(__name__, {"set_seed": "skrl_isaac.utils.seed"})
