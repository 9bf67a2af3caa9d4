"""Re-export of :mod:`skrl_isaac.dumps.inspection` (its former place)."""

from skrl_isaac.dumps.inspection import column_stats, dump_table, inspect_dump

__all__ = ["column_stats", "dump_table", "inspect_dump"]
