"""skrl_isaac.utils.processes.python_env: paths in front of the inherited PYTHONPATH, never an empty entry."""

from __future__ import annotations

import os
import pathlib

import pytest

from skrl_isaac.utils.processes import python_env


def test_paths_come_first_and_the_inherited_pythonpath_stays(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["/site/a", "/site/b"]))
    env = python_env("/repo", pathlib.Path("/bench"), OMP_NUM_THREADS="1")
    assert env["PYTHONPATH"].split(os.pathsep) == ["/repo", "/bench", "/site/a", "/site/b"]
    assert env["OMP_NUM_THREADS"] == "1" and env["PATH"] == os.environ["PATH"]
    assert os.environ["PYTHONPATH"] == os.pathsep.join(["/site/a", "/site/b"])  # the parent's is untouched


@pytest.mark.parametrize("inherited", [None, ""])
def test_no_empty_entry_without_an_inherited_pythonpath(monkeypatch, inherited):
    if inherited is None:
        monkeypatch.delenv("PYTHONPATH", raising=False)
    else:
        monkeypatch.setenv("PYTHONPATH", inherited)
    assert python_env("/repo")["PYTHONPATH"] == "/repo"
