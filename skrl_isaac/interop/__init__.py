"""Interoperability with other RL libraries (optional extras)."""
