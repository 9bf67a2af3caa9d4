"""skrl_isaac: reinforcement learning for Isaac Gym and other batched, GPU-first simulators."""

import logging

__version__ = "0.1.0"

logger = logging.getLogger("skrl_isaac")
if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("[skrl_isaac:%(levelname)s] %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)

__all__ = ["__version__", "logger"]
