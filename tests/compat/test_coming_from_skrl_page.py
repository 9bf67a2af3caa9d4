"""docs/coming-from-skrl.md: every ```python block runs as written, and its "does not map" list is true."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "coming-from-skrl.md"


def python_blocks() -> list[tuple[int, str]]:
    blocks, lines, i = [], PAGE.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i
            i += 1
            while lines[i].strip() != "```":
                i += 1
            blocks.append((start + 1, "\n".join(lines[start + 1:i])))
        i += 1
    return blocks


BLOCKS = python_blocks()


def test_the_page_has_its_examples():
    assert len(BLOCKS) == 3


@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"line {line}" for line, _ in BLOCKS])
def test_python_block_runs(line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setattr(sys, "argv", [f"{PAGE.name}:{line}"])
    from skrl_isaac.agents.torch.ppo import PPO_DEFAULT_CONFIG

    defaults = copy.deepcopy(PPO_DEFAULT_CONFIG)
    threads = torch.get_num_threads()
    try:
        exec(compile("\n" * line + code + "\n", str(PAGE), "exec"), {"__name__": "__main__"})
    finally:
        torch.set_num_threads(threads)
    assert PPO_DEFAULT_CONFIG == defaults, "the block changed PPO's default config (a shallow copy of it)"


def test_the_config_keys_listed_as_missing_are_rejected():
    """Each "`experiment.<key>`" / "trainer `<key>`" line of the page names a key this package rejects."""
    from skrl_isaac.agents.torch.ppo import PPO_DEFAULT_CONFIG
    from skrl_isaac.trainers.torch import SequentialTrainer
    from skrl_isaac.utils.config import merge_config

    section = PAGE.read_text(encoding="utf-8").split("## What does not map")[1]
    experiment_keys = re.findall(r"^- `experiment\.(\w+)`", section, re.MULTILINE)
    trainer_keys = re.findall(r"^- trainer `(\w+)`", section, re.MULTILINE)
    assert {"wandb", "wandb_kwargs", "store_separately", "base_directory"} <= set(experiment_keys)
    assert set(trainer_keys) == {"environment_info", "stochastic_evaluation"}
    for key in experiment_keys:
        cfg = copy.deepcopy(PPO_DEFAULT_CONFIG)
        cfg["experiment"][key] = True
        with pytest.raises(ValueError, match=f"unknown configuration key '{key}'"):
            merge_config(PPO_DEFAULT_CONFIG, cfg, owner="PPO")
    for key in trainer_keys:
        with pytest.raises(ValueError, match=f"unknown configuration key '{key}'"):
            SequentialTrainer(env=None, agents=None, cfg={"timesteps": 1, key: True})
