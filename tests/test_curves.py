"""skrl_isaac.curves and ``skrl-isaac plot``: runs read from real TensorBoard files, panels, seed bands, errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml
from torch.utils.tensorboard import SummaryWriter

from skrl_isaac.cli.plot import main as plot_main
from skrl_isaac.curves import CurvesError, load_run, plot_runs, seed_groups

RETURN, LOSS = "Reward / Total reward (mean)", "Loss / Policy loss"


def make_run(folder, name, seed, values, config_extra=None, steps=None):
    path = os.path.join(folder, name)
    writer = SummaryWriter(log_dir=path)
    steps = steps if steps is not None else [16 * (i + 1) for i in range(len(values))]
    for step, value in zip(steps, values):
        writer.add_scalar(RETURN, value, step)
        writer.add_scalar(LOSS, -value / 10, step)
        writer.add_scalar("Custom / thing", 1.0, step)
    writer.close()
    config = {"task": {"name": "Ant"}, "seed": seed, "experiment": name, "num_envs": 64, **(config_extra or {})}
    with open(os.path.join(path, "config.yaml"), "w") as f:
        yaml.safe_dump(config, f)
    return path


def test_load_run_reads_every_scalar_with_steps_and_wall_time(tmp_path):
    path = make_run(tmp_path, "a", 1, [1.0, 2.0, 4.0])
    run = load_run(path)
    steps, wall, values = run.scalars[RETURN]
    assert steps.tolist() == [16, 32, 48]
    assert values.tolist() == [1.0, 2.0, 4.0]
    assert wall[0] >= 0 and np.all(np.diff(wall) >= 0)
    assert run.seed == 1 and run.name == "a"


def test_seed_groups_join_runs_that_differ_only_by_seed(tmp_path):
    runs = [load_run(make_run(tmp_path, "s1", 1, [1, 2])), load_run(make_run(tmp_path, "lr", 1, [5, 6], {"lr": 1})),
            load_run(make_run(tmp_path, "s2", 2, [3, 4]))]
    groups = seed_groups(runs)
    assert [[r.name for r in g] for g in groups] == [["s1", "s2"], ["lr"]]


def test_plot_has_one_panel_per_tag_and_draws_seed_groups_as_mean_and_band(tmp_path):
    runs = [load_run(make_run(tmp_path, "s1", 1, [0.0, 2.0, 4.0])), load_run(make_run(tmp_path, "s2", 2, [2.0, 4.0, 8.0])),
            load_run(make_run(tmp_path, "other", 1, [9.0, 9.0, 9.0], {"lr": 1}))]
    figure = plot_runs(runs)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == [RETURN, LOSS]  # the default tags the runs have, not the custom one
    ax = figure.axes[0]
    mean_line, other_line = ax.get_lines()
    assert mean_line.get_xdata().tolist() == [16, 32, 48]
    assert mean_line.get_ydata().tolist() == [1.0, 3.0, 6.0]
    assert other_line.get_ydata().tolist() == [9.0, 9.0, 9.0]
    assert len(ax.collections) == 1  # one band: the seed group; the single run has none
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 0.0 and band[:, 1].max() == 8.0
    assert "seeds 1, 2" in mean_line.get_label()


def test_plot_wall_time_axis_and_chosen_tags(tmp_path):
    run = load_run(make_run(tmp_path, "a", 1, [1.0, 2.0]))
    figure = plot_runs([run], tags=["Custom / thing"], x="walltime")
    assert [ax.get_title() for ax in figure.axes] == ["Custom / thing"]
    assert figure.axes[0].get_xlabel() == "wall time (s)"
    assert figure.axes[0].get_lines()[0].get_xdata().tolist() == run.scalars["Custom / thing"][1].tolist()


def test_band_covers_only_the_timesteps_all_seeds_reached(tmp_path):
    runs = [load_run(make_run(tmp_path, "s1", 1, [1.0, 2.0, 3.0, 4.0])), load_run(make_run(tmp_path, "s2", 2, [3.0, 4.0]))]
    line = plot_runs(runs, tags=[RETURN]).axes[0].get_lines()[0]
    assert line.get_xdata().tolist() == [16, 32]
    assert line.get_ydata().tolist() == [2.0, 3.0]


def test_cli_writes_a_png_and_reports_the_panels(tmp_path, capsys):
    import matplotlib.image

    a, b = make_run(tmp_path, "a", 1, [1.0, 2.0]), make_run(tmp_path, "b", 2, [2.0, 3.0])
    out = tmp_path / "plots" / "curves.png"
    assert plot_main([a, b, "-o", str(out), "--tags", RETURN, LOSS]) == 0
    image = matplotlib.image.imread(out)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.01  # not blank
    assert f"2 run(s), 2 panel(s): {RETURN}, {LOSS}" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["empty", "missing", "tag"])
def test_cli_bad_input_is_one_error_line(tmp_path, capsys, case):
    good = make_run(tmp_path, "a", 1, [1.0])
    args = {"empty": [str(tmp_path / "empty")], "missing": [str(tmp_path / "nope")],
            "tag": [good, "--tags", "Nope / tag"]}[case]
    os.makedirs(tmp_path / "empty")
    assert plot_main(args + ["-o", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert {"empty": "holds no TensorBoard event file", "missing": "is not a folder",
            "tag": "tags of these runs"}[case] in err[0]
    assert not (tmp_path / "c.png").exists()


def test_load_run_rejects_a_folder_without_scalars(tmp_path):
    SummaryWriter(log_dir=str(tmp_path / "r")).close()
    with pytest.raises(CurvesError, match="no scalars yet"):
        load_run(str(tmp_path / "r"))
