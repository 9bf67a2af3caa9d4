"""Look at a memory dump from Python (what `skrl-isaac memory inspect <file>` prints, and the raw arrays).

    python train_isaac.py task=Ant max_iterations=4 memory_export=True memory_export_format=csv experiment=dump
    python examples/inspect_memory.py runs/dump/memory/<file>.csv
"""

import sys

import pandas as pd

from skrl_isaac.memories import inspect_dump, load_dump

path = sys.argv[1]
print(inspect_dump(path))                       # tensors, shapes, per-column min/mean/max, NaN counts
arrays = load_dump(path)                        # {tensor name: (steps, num_envs, size) numpy array}
print({name: array.shape for name, array in arrays.items()})
if path.endswith(".csv"):
    frame = pd.read_csv(path)                   # columns: step, env, <tensor>.<i>
    print(frame[frame["env"] == 0][["step", "rewards.0", "terminated.0"]].head())
