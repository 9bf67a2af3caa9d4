"""``skrl-isaac``: the package's command-line tools.

    skrl-isaac memory inspect <file> [--env N] [--rows K]   summarize a memory dump (.pt / .npz / .csv)
    skrl-isaac memory convert <path>... --to {pt,np,csv}    convert dumps (e.g. np exports to csv after a run)
    skrl-isaac plot <run>... [--tags ...] [-o curves.png]   learning curves from the runs' TensorBoard files
    skrl-isaac train task=Ant ...                           same as python train_isaac.py task=Ant ...
"""

from __future__ import annotations

import sys

USAGE = __doc__.split("\n\n", 1)[1]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["memory"]:
        from skrl_isaac.dumps.cli import main as memory_main

        return memory_main(argv[1:])
    if argv[:1] == ["plot"]:
        from skrl_isaac.cli.plot import main as plot_main

        return plot_main(argv[1:])
    if argv[:1] == ["train"]:
        from skrl_isaac.cli.train import main as train_main

        sys.argv = [sys.argv[0], *argv[1:]]
        train_main()
        return 0
    print(f"usage:\n{USAGE}", file=sys.stderr)
    return 0 if argv[:1] in (["-h"], ["--help"]) else 2


if __name__ == "__main__":
    sys.exit(main())
