"""Memory dump files: export (``pt`` / ``np`` / ``csv``, off the training thread), load, inspect, convert.

Loaded on first use, so that the torch-free modules (``csv_text``, ``csv_child``) import without torch.
"""

from skrl_isaac._lazy import lazy_attributes

__all__ = ["DumpError", "MemoryExportError", "MemoryExporter", "convert_dumps", "inspect_dump", "load_dump",
           "plan_conversions", "verify_dump"]
__getattr__ = lazy_attributes(__name__, {"DumpError": "skrl_isaac.dumps.formats",
                                         "MemoryExportError": "skrl_isaac.dumps.writer",
                                         "MemoryExporter": "skrl_isaac.dumps.exporter",
                                         "convert_dumps": "skrl_isaac.dumps.conversion",
                                         "inspect_dump": "skrl_isaac.dumps.inspection",
                                         "load_dump": "skrl_isaac.dumps.formats",
                                         "plan_conversions": "skrl_isaac.dumps.conversion",
                                         "verify_dump": "skrl_isaac.dumps.formats"})
