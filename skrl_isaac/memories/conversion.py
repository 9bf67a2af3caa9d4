"""Re-export of :mod:`skrl_isaac.dumps.conversion` (its former place)."""

from skrl_isaac.dumps.conversion import Conversion, convert_dump, convert_dumps, plan_conversions

__all__ = ["Conversion", "convert_dump", "convert_dumps", "plan_conversions"]
