"""``python -m skrl_isaac.memories inspect <file> [--env N] [--rows K]``: look at a memory dump."""

import sys

from skrl_isaac.memories.inspection import main

if __name__ == "__main__":
    sys.exit(main())
