"""Experiment trackers with their real clients, offline: W&B's offline run files and MLflow's file store."""

from __future__ import annotations

import glob
import json
import struct

import pytest

from skrl_isaac import trackers
from skrl_isaac.trackers import MirroredSummaryWriter, TrackerError, check_tracker, make_tracker, mlflow_key

TAG = "Reward / Total reward (mean)"


def wandb_records(run_dir: str) -> list:
    """The protobuf records of a W&B offline run file (LevelDB log format: 32 KiB blocks of
    ``crc32 | length | type`` chunks after a 7-byte file header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    records = []
    for path in sorted(glob.glob(f"{run_dir}/wandb/offline-run-*/run-*.wandb")):
        data, pos, pending = open(path, "rb").read(), 7, b""
        while pos + 7 <= len(data):
            left = 32768 - pos % 32768
            if left < 7:
                pos += left
                continue
            _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
            pending += data[pos + 7:pos + 7 + length]
            pos += 7 + length
            if kind in (1, 4):  # a full record, or the last chunk of one
                record = pb.Record()
                record.ParseFromString(pending)
                records.append(record)
                pending = b""
            elif kind == 0:
                pending = b""
    return records


def mirror(tracker, run_dir, values, start=1):
    writer = MirroredSummaryWriter(log_dir=run_dir, tracker=tracker)
    for i, value in enumerate(values, start):
        writer.add_scalar(TAG, value, 16 * i)
    writer.close()


def test_wandb_offline_run_holds_the_scalars_and_config_and_a_resume_continues_it(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = str(tmp_path / "runs" / "exp")
    tracker = make_tracker("wandb", run_dir, "exp")
    tracker.log_config({"task": {"name": "Ant"}, "seed": 3})
    mirror(tracker, run_dir, [0.5, 1.5])
    state = tracker.state()
    tracker.finish()
    resumed = make_tracker("wandb", run_dir, "exp", run_id=state["run_id"])
    mirror(resumed, run_dir, [2.5], start=3)
    resumed.finish()
    assert state["tracker"] == "wandb" and resumed.run_id == state["run_id"]
    history, config = [], {}
    for record in wandb_records(run_dir):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            if TAG in items:
                history.append((items["_step"], items[TAG]))
        elif kind == "config":
            config.update({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                           for item in record.config.update})
    assert sorted(history) == [(16, 0.5), (32, 1.5), (48, 2.5)]  # (two offline run folders, in any order)
    assert config["task"] == {"name": "Ant"} and config["seed"] == 3


def test_mlflow_file_store_holds_scalars_config_files_and_a_resume_continues_it(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir = str(tmp_path / "runs" / "exp")
    tracker = make_tracker("mlflow", run_dir, "exp")
    tracker.log_config({"task": {"name": "Ant"}, "seed": 3})
    mirror(tracker, run_dir, [0.5, 1.5])
    video = tmp_path / "0.mp4"
    video.write_bytes(b"not really a video")
    tracker.log_file(str(video), "video")
    tracker.finish()
    resumed = make_tracker("mlflow", run_dir, "exp", run_id=tracker.run_id)
    mirror(resumed, run_dir, [2.5], start=3)
    resumed.log_config({"task": {"name": "Ant"}, "seed": 3})  # a resume logs the same params again: no error
    resumed.finish()
    client = MlflowClient(tracking_uri=f"file://{tmp_path / 'runs' / 'mlruns'}")
    history = client.get_metric_history(tracker.run_id, mlflow_key(TAG))
    assert [(m.step, m.value) for m in history] == [(16, 0.5), (32, 1.5), (48, 2.5)]
    run = client.get_run(tracker.run_id)
    assert run.data.params == {"task.name": "Ant", "seed": "3"}
    assert [a.path for a in client.list_artifacts(tracker.run_id, "videos")] == ["videos/0.mp4"]


def test_mlflow_key_keeps_the_tag_readable():
    assert mlflow_key("Reward / Total reward (mean)") == "Reward / Total reward mean"
    assert mlflow_key("Q-network / Q1 (max)") == "Q-network / Q1 max"


def test_bad_tracker_names_and_missing_packages(monkeypatch):
    assert check_tracker("") is None and check_tracker(None) is None and check_tracker("none") is None
    with pytest.raises(TrackerError, match=r"tracker='neptune' is not valid: expected one of \['wandb', 'mlflow'\]"):
        check_tracker("neptune")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(TrackerError, match=r'tracker=wandb needs the wandb package: pip install -e "\.\[wandb\]"'):
        check_tracker("wandb")
    assert trackers.make_tracker(None, "x", "y") is None
