"""Run by tests/agents/test_distributed_training.py under torchrun (2 ranks, gloo): the host-sync guard of
tests/agents/test_host_sync.py over each agent's hot path with the process group on (the collectives are device
ops); each rank writes its violations and a digest of each agent's trained models to <out>/host_sync_rank<r>.json."""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # test_host_sync, conftest and host_sync, as pytest sees them

from skrl_isaac.utils import distributed  # noqa: E402
import test_host_sync  # noqa: E402
from test_host_sync import AGENTS, run_hot_path  # noqa: E402

trained = []
_train = test_host_sync.SequentialTrainer.train


def train(self):  # keeps the trained agent, to digest its models afterwards
    trained.append(self.agent)
    return _train(self)


test_host_sync.SequentialTrainer.train = train


def digest(agent) -> str:
    """sha256 of every model's and preprocessor's state (the bytes: equal digests are bit-identical states)."""
    h = hashlib.sha256()
    modules = {**{n: m for n, m in agent.models.items() if m is not None}, **agent.checkpoint_modules}
    for name in sorted(modules):
        for key, tensor in sorted(modules[name].state_dict().items()):
            h.update(f"{name}.{key}".encode())
            h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def main(out: str) -> None:
    info = distributed.init("cpu")
    result = {}
    for name in AGENTS:
        folder = os.path.join(out, "host_sync", name)
        guard = run_hot_path(name, folder)
        result[name] = {"violations": [str(v) for v in guard.violations], "digest": digest(trained[-1]),
                        "checkpoint": os.path.isfile(distributed.rank_path(
                            os.path.join(folder, "run", "checkpoints", "16_agent.pt"), info))}
    distributed.close()
    with open(os.path.join(out, f"host_sync_rank{info.rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
