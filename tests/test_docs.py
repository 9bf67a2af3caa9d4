"""Every ```python block of README.md and docs/*.md runs as written.

Each block runs in a fresh namespace, with a temporary folder as the working directory and the repository
root importable. A block that imports ``isaacgym`` runs against the Isaac Gym test double
(``tests/envs/fake_isaacgym.py``: ``isaacgym`` and IsaacGymEnvs packages whose Ant steps the embedded
MuJoCo Ant). The files are globbed when the tests are collected, so a page added to docs/ is covered
without touching this file (docs/spec/ has its own test, tests/test_spec.py).
"""

from __future__ import annotations

import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)[^`]*$")
PYTHON_INFO = ("python", "py", "python3")
NEEDS_ISAACGYM = re.compile(r"^\s*(import isaacgym\b|from isaacgym\b)", re.MULTILINE)
CPU_OVERRIDES = ["sim_device=cpu", "rl_device=cpu", "pipeline=cpu"]


class DocParseError(ValueError):
    """A Markdown file whose code fences do not pair up."""


@dataclass(frozen=True)
class Block:
    """A ```python block: its file, the line of its opening fence (1-based) and its code."""

    path: Path
    line: int
    code: str

    @property
    def where(self) -> str:
        try:
            name = self.path.relative_to(ROOT)
        except ValueError:
            name = self.path
        return f"{name}:{self.line}"


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every docs/*.md (not docs/spec/), in a stable order."""
    return [root / "README.md"] + sorted((root / "docs").glob("*.md"))


def python_blocks(path: Path) -> list[Block]:
    """The fenced ```python blocks of ``path`` (CommonMark fences: ``` or ~~~, closed by a fence as long).

    :raises DocParseError: for a fence that is never closed (the rest of the file would be code)
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        start, fence, indent = i, match["fence"], len(match["indent"].expandtabs())
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            i += 1
        if i == len(lines):
            raise DocParseError(f"{path}:{start + 1}: the code fence {fence} is never closed")
        if match["info"].lower() in PYTHON_INFO:
            body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[start + 1:i]]
            blocks.append(Block(path, start + 1, "\n".join(body)))
        i += 1
    return blocks


def all_blocks() -> list[Block]:
    return [block for path in doc_files() for block in python_blocks(path)]


def run_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Execute ``block`` as a script in ``tmp_path``; fail the test with its file and line if it raises.

    The code is compiled under the Markdown file's name with the block's own line numbers, so a traceback
    points at the line of the page. Returns the block's namespace.
    """
    if NEEDS_ISAACGYM.search(block.code):  # isaacgym must come before torch: a fresh process, as a user runs it
        return run_isaacgym_block(block, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setattr(sys, "argv", [f"{block.path.name}:{block.line}"])
    code = compile("\n" * block.line + block.code + "\n", str(block.path), "exec")
    namespace: dict = {"__name__": "__main__", "__file__": str(tmp_path / "docs_block.py")}
    threads, error = torch.get_num_threads(), None
    try:
        exec(code, namespace)
    except (Exception, SystemExit):  # noqa: BLE001 -- whatever a block raises (sys.exit included) fails it
        error = traceback.format_exc()
    finally:
        torch.set_num_threads(threads)
    if error is not None:
        pytest.fail(f"{block.where}: the python block failed:\n{error}", pytrace=False)
    return namespace


def run_isaacgym_block(block: Block, tmp_path: Path) -> dict:
    """Run a block that imports ``isaacgym`` as a script in a new Python process, against the Isaac Gym test
    double (which refuses a process that imported torch first, as the real package does)."""
    import subprocess

    sys.path.insert(0, str(ROOT / "tests" / "envs"))
    try:
        import fake_isaacgym as fake
    finally:
        sys.path.pop(0)
    from skrl_isaac.utils.processes import python_env

    paths = fake.build(tmp_path / "isaacgym_test_double")
    script = tmp_path / f"{block.path.stem}_{block.line}.py"
    script.write_text("\n" * block.line + block.code + "\n")
    overrides = [] if torch.cuda.is_available() else CPU_OVERRIDES  # the command line wins (skrl 0.x)
    proc = subprocess.run([sys.executable, str(script), *overrides], cwd=tmp_path, capture_output=True, text=True,
                          env=python_env(paths["python"], paths["repo"], str(ROOT)), timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"{block.where}: the python block failed:\n{proc.stderr[-4000:]}", pytrace=False)
    return {}


BLOCKS = all_blocks()


@pytest.mark.parametrize("block", BLOCKS, ids=[block.where for block in BLOCKS])
def test_python_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_block(block, tmp_path, monkeypatch)


def test_the_readme_has_the_library_use_and_playing_blocks() -> None:
    readme = python_blocks(ROOT / "README.md")
    assert any("SequentialTrainer(" in b.code for b in readme)
    assert any(".load(" in b.code for b in readme)


def test_blocks_are_found_with_their_lines(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```bash\necho no\n```\n\n1. item\n\n   ```python\n   x = 1\n   ```\n\n"
                    "~~~~python\ny = '```'\n~~~~\n\n```text\n```python\n```\n")
    blocks = python_blocks(page)
    assert [(b.line, b.code) for b in blocks] == [(9, "x = 1"), (13, "y = '```'")]


def test_an_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n\n```python\nx = 1\n")
    with pytest.raises(DocParseError, match=r"page.md:3: the code fence ``` is never closed"):
        python_blocks(page)


def test_a_failing_block_fails_with_its_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```python\nx = 1\nundefined_name\n```\n")
    (block,) = python_blocks(page)
    with pytest.raises(pytest.fail.Exception) as failure:
        run_block(block, tmp_path, monkeypatch)
    message = str(failure.value)
    assert f"{page}:3: the python block failed" in message
    assert f'File "{page}", line 5' in message and "NameError" in message  # the page's own line


def test_a_block_runs_in_a_fresh_namespace_in_a_temporary_folder(tmp_path: Path, monkeypatch) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nimport os, skrl_isaac\nhere = os.getcwd()\nassert 'x' not in globals()\nx = 1\n```\n")
    (block,) = python_blocks(page)
    work = tmp_path / "work"
    work.mkdir()
    assert run_block(block, work, monkeypatch)["here"] == str(work)
    with monkeypatch.context() as m:
        assert run_block(block, work, m)["x"] == 1
