"""``python -m skrl_isaac.memories {inspect,convert} ...``: the memory-dump tools (:mod:`skrl_isaac.dumps.cli`)."""

import sys

from skrl_isaac.dumps.cli import main

if __name__ == "__main__":
    sys.exit(main())
