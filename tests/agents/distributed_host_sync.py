"""Run by tests/agents/test_distributed_training.py under torchrun (2 ranks, gloo): the host-sync guard of
tests/agents/test_host_sync.py over each agent's hot path with the process group on (the collectives are device
ops); each rank writes its violations to <out>/host_sync_rank<r>.json."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # test_host_sync, conftest and host_sync, as pytest sees them

from skrl_isaac.utils import distributed  # noqa: E402
from test_host_sync import AGENTS, run_hot_path  # noqa: E402


def main(out: str) -> None:
    info = distributed.init("cpu")
    result = {}
    for name in AGENTS:
        folder = os.path.join(out, "host_sync", name)
        guard = run_hot_path(name, folder)
        result[name] = {"violations": [str(v) for v in guard.violations],
                        "checkpoint": os.path.isfile(distributed.rank_path(
                            os.path.join(folder, "run", "checkpoints", "16_agent.pt"), info))}
    distributed.close()
    with open(os.path.join(out, f"host_sync_rank{info.rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
