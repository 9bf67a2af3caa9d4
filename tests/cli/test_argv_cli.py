"""Bad task names and argparse-style flags: one ``error:`` line, exit 2, before hydra composes anything."""

from __future__ import annotations

import pytest
from test_train_cli import run_cli

from skrl_isaac.cli.argv import check_argv, closest_first
from skrl_isaac.cli.errors import CLIError


@pytest.mark.parametrize("args, line", [
    (["task=Antt"], "error: task=Antt is not a task; valid: Ant, Cartpole, CartpoleDiscrete, Humanoid"),
    (["task=Humanoi"], "error: task=Humanoi is not a task; valid: Humanoid, Ant, Cartpole, CartpoleDiscrete"),
    (["--task", "Ant"], "error: --task: options are hydra overrides (key=value), not --flags: write task=Ant; "
                        "valid: Ant, Cartpole, CartpoleDiscrete, Humanoid"),
    (["--num_envs=8"], "error: --num_envs: options are hydra overrides (key=value), not --flags: write num_envs=8"),
    (["task=Ant", "train=AntTD3"], "error: train=AntTD3 is not a train config; valid: AntPPO, AntSAC, "),
])
def test_one_error_line_exit_2(tmp_path, args, line):
    result = run_cli(*args, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(line) and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_closest_first_and_hydra_flags_pass():
    assert closest_first("Cartpol", ["Ant", "Humanoid", "CartpoleDiscrete", "Cartpole"])[:2] == ["Cartpole",
                                                                                                "CartpoleDiscrete"]
    check_argv(["--help", "--cfg", "job", "task=Cartpole", "num_envs=4"])  # hydra's own flags pass
    with pytest.raises(CLIError, match="write task=Humanoid"):
        check_argv(["--task=Humanoid"])
