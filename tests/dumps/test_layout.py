"""The dumps package stands below the memories (no import back), and the former import paths still work."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_dumps_package_never_imports_the_memories():
    code = ("import sys, skrl_isaac.dumps.cli, skrl_isaac.dumps.conversion, skrl_isaac.dumps.exporter, "
            "skrl_isaac.dumps.inspection; print(sorted(m for m in sys.modules if m.startswith('skrl_isaac.memories')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=python_env(ROOT), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_former_import_paths_name_the_same_objects():
    from skrl_isaac import dumps, memories
    from skrl_isaac.dumps import conversion, formats, inspection
    from skrl_isaac.memories import conversion as old_conversion
    from skrl_isaac.memories import inspection as old_inspection
    from skrl_isaac.memories.torch import export as old_export

    assert old_export.load_dump is formats.load_dump is memories.load_dump is dumps.load_dump
    assert old_export.DumpError is formats.DumpError and old_export.read_dump is formats.read_dump
    assert old_inspection.inspect_dump is inspection.inspect_dump is memories.inspect_dump is dumps.inspect_dump
    assert old_conversion.plan_conversions is conversion.plan_conversions
    assert old_conversion.convert_dumps is conversion.convert_dumps is dumps.convert_dumps
