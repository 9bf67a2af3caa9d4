"""``skrl-isaac plot``: learning curves of one or more runs from their TensorBoard event files."""

from __future__ import annotations

import argparse
import sys

from skrl_isaac.curves import X_AXES, CurvesError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skrl-isaac plot",
        description="Learning curves from the runs' TensorBoard event files: one panel per tag, the runs "
                    "overlaid; runs whose configs differ only by the seed are drawn as mean and min-max band.")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="a run folder, e.g. runs/<experiment>")
    parser.add_argument("--tags", nargs="+", default=None, metavar="TAG",
                        help="the tags to draw (default: the episode return and length and the losses the runs have)")
    parser.add_argument("-o", "--output", default="curves.png", help="the PNG to write (default: curves.png)")
    parser.add_argument("--x", choices=X_AXES, default="timesteps", help="the x axis (default: timesteps)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, write the PNG; ``error: ...`` and exit code 2 for a bad run folder or tag."""
    args = _parser().parse_args(argv)
    from skrl_isaac.curves import write_curves

    try:
        figure = write_curves(args.runs, args.output, tags=args.tags, x=args.x)
    except CurvesError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {args.output}: {e.strerror or e}", file=sys.stderr)
        return 1
    panels = [ax.get_title() for ax in figure.axes]
    print(f"wrote {args.output}: {len(args.runs)} run(s), {len(panels)} panel(s): {', '.join(panels)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
