"""Re-export of the dump reading API from :mod:`skrl_isaac.dumps.formats` (its former place)."""

from skrl_isaac.dumps.formats import DumpError, load_dump, read_dump

__all__ = ["DumpError", "load_dump", "read_dump"]
