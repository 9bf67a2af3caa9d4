"""cli/watch.py: what an IsaacGymEnvs task needs to render a video."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
from omegaconf import OmegaConf

from skrl_isaac.cli import watch
from skrl_isaac.cli.errors import CLIError


def test_isaacgym_video_overrides(monkeypatch):
    cfg = OmegaConf.create({"headless": True})
    assert watch.isaacgym_video_overrides(cfg, {"video": False, "video_interval": None}) == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())  # pyvirtualdisplay importable
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/Xvfb")
    assert watch.isaacgym_video_overrides(cfg, {"video": True, "video_interval": None}) == [
        "capture_video=True", "force_render=False"]  # no viewer asked for: drawn only for the recorded frames
    assert watch.isaacgym_video_overrides(OmegaConf.create({"headless": False}),
                                          {"video": False, "video_interval": 100}) == ["capture_video=True"]
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CLIError, match=r"needs `pip install pyvirtualdisplay` and Xvfb \(`apt-get install xvfb`"):
        watch.isaacgym_video_overrides(cfg, {"video": True, "video_interval": None})
