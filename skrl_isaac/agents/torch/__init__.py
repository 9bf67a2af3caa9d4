"""Agents (``skrl_isaac.agents.torch.<agent>`` export ``<AGENT>`` and ``<AGENT>_DEFAULT_CONFIG``)."""

from skrl_isaac.agents.torch.base import Agent

__all__ = ["Agent"]
