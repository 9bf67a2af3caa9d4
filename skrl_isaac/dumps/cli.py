"""``skrl-isaac memory`` / ``python -m skrl_isaac.dumps``: the memory-dump tools.

    skrl-isaac memory inspect <file> [--env N] [--rows K]                  summarize a dump (.pt / .npz / .csv)
    skrl-isaac memory convert <file or folder>... --to {pt,np,csv}         convert dumps after a run
                              [--output DIR] [--force]
"""

from __future__ import annotations

import argparse
import os
import sys

from skrl_isaac.dumps.formats import EXTENSIONS, DumpError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m skrl_isaac.memories",
                                     description="Tools for memory dumps written by skrl_isaac memories.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="summarize a .pt / .npz / .csv memory dump",
                       description="Summarize a memory dump: tensors, shapes, per-column min/mean/max and "
                                   "NaN counts; --env lists the rows of one environment.")
    p.add_argument("file", help="a .pt, .npz or .csv file written by a memory export or Memory.save")
    p.add_argument("--env", type=int, default=None, metavar="N", help="list every step of environment N")
    p.add_argument("--rows", type=int, default=None, metavar="K", help="list at most K rows")
    c = sub.add_parser("convert", help="convert memory dumps to another format (e.g. np exports to csv)",
                       description="Convert memory dumps to another format, each into <its name>.<new extension>. "
                                   "The csv text is the one a live csv export writes. A folder stands for its "
                                   "dumps not yet in the target format.")
    c.add_argument("paths", nargs="+", metavar="PATH", help="a .pt / .npz / .csv dump, or a folder of them")
    c.add_argument("--to", required=True, choices=list(EXTENSIONS), help="the target format")
    c.add_argument("--output", default=None, metavar="DIR",
                   help="folder of the converted files (created if missing; default: each source's folder)")
    c.add_argument("--force", action="store_true", help="overwrite converted files that exist already")
    return parser


def _inspect(args: argparse.Namespace) -> int:
    from skrl_isaac.dumps.inspection import inspect_dump

    try:
        report = inspect_dump(args.file, env=args.env, rows=args.rows)
    except (DumpError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(report)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        pass
    return 0


def _convert(args: argparse.Namespace) -> int:
    from skrl_isaac.dumps.conversion import convert_dumps, plan_conversions

    try:
        plan = plan_conversions(args.paths, args.to, output=args.output, force=args.force)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done, failed = convert_dumps(plan)
    size = sum(os.path.getsize(c.target) for c in done)
    folders = sorted({os.path.dirname(c.target) or "." for c in done})
    print(f"converted {len(done)} of {len(plan)} dump(s) to {args.to} ({size / 1e6:.1f} MB) in "
          + ", ".join(folders[:3]) + (f" and {len(folders) - 3} more folders" if len(folders) > 3 else ""))
    for conversion, exc in failed:
        print(f"error: {conversion.source}: {exc.reason if isinstance(exc, DumpError) else exc}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Run ``inspect`` or ``convert`` with ``argv`` (default: the command line); returns the exit code:
    0 done, 1 some conversions failed (each reported), 2 bad input (nothing done)."""
    args = _parser().parse_args(argv)
    return _inspect(args) if args.command == "inspect" else _convert(args)
