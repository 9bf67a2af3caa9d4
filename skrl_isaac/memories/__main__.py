"""``python -m skrl_isaac.memories {inspect,convert} ...``: the memory-dump tools (:mod:`skrl_isaac.memories.cli`)."""

import sys

from skrl_isaac.memories.cli import main

if __name__ == "__main__":
    sys.exit(main())
