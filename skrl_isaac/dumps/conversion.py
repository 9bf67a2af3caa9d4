"""Convert memory dumps between the export formats (``.pt`` / ``.npz`` / ``.csv``), after a run.

    skrl-isaac memory convert runs/<experiment>/memory --to csv           # every .pt / .npz dump in the folder
    skrl-isaac memory convert a.npz b.npz --to csv --output csv_dumps/    # into another folder
    python -m skrl_isaac.dumps convert ...                                # the same

A converted file is what the export would have written in that format: the csv text comes from the
same writer as a live ``export_format="csv"`` export, so converting ``np`` dumps gives the live csv
files byte for byte (under the converted name). Formatting csv text is the one costly part of an
export, so a run on a machine with few cores can export ``np`` and convert afterwards.

From csv, dtypes are what pandas infers (int64 / float64: booleans become 0/1 integers); the values
are exact. From ``pt``, bfloat16 tensors are widened to float32 (exactly) for ``np`` and ``csv``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

from skrl_isaac.dumps.formats import (EXTENSIONS, FORMAT_OF_EXTENSION, check_exportable, check_format, dump_format,
                                      read_dump, write_dump)


@dataclass(frozen=True)
class Conversion:
    """One dump to convert: ``source`` (any format) into ``target`` (format ``to``)."""

    source: str
    target: str
    to: str


def _is_dump_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in FORMAT_OF_EXTENSION and not name.startswith(".")


def plan_conversions(paths: Sequence[str | os.PathLike], to: str, output: str | os.PathLike | None = None,
                     force: bool = False) -> list[Conversion]:
    """The conversions ``convert`` would do, checked before anything is written.

    :param paths: dump files, or folders: a folder stands for its dumps (``.pt`` / ``.npz`` / ``.csv``
        files, not hidden, not recursive) that are not in format ``to`` yet, in name order
    :param to: the target format, ``"pt"``, ``"np"`` or ``"csv"``
    :param output: the folder of the converted files (default: each source's folder)
    :param force: overwrite converted files that exist already (else they are an error)
    :raises ValueError: listing every problem: a missing path, a file that is not a dump, a file
        already in format ``to``, a folder without dumps to convert, two sources with one target,
        targets that exist (without ``force``)
    """
    check_format(to)
    problems: list[str] = []
    sources: list[str] = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            try:
                names = sorted(n for n in os.listdir(path) if _is_dump_name(n) and os.path.isfile(os.path.join(path, n)))
            except OSError as exc:
                problems.append(f"{path!r} cannot be listed ({exc.strerror or exc})")
                continue
            found = [os.path.join(path, n) for n in names if dump_format(n) != to]
            if not found:
                problems.append(f"{path!r} holds no .pt / .npz / .csv dump that is not {to!r} already")
            sources += found
        elif not os.path.exists(path):
            problems.append(f"{path!r} does not exist")
        elif not _is_dump_name(os.path.basename(path)):
            problems.append(f"{path!r} is not a memory dump: expected a .pt, .npz or .csv file (or a folder of them)")
        elif dump_format(path) == to:
            problems.append(f"{path!r} is in format {to!r} already")
        else:
            sources.append(path)
    plan, by_target = [], {}
    for source in sources:
        folder = os.fspath(output) if output is not None else os.path.dirname(source)
        stem = os.path.splitext(os.path.basename(source))[0]
        target = os.path.join(folder, f"{stem}.{EXTENSIONS[to]}")
        key = os.path.abspath(target)
        if key in by_target:
            problems.append(f"{by_target[key]!r} and {source!r} would both be converted to {target!r}")
            continue
        by_target[key] = source
        plan.append(Conversion(source, target, to))
    existing = [c.target for c in plan if os.path.exists(c.target)]
    if existing and not force:
        shown = ", ".join(repr(t) for t in existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        problems.append(f"{len(existing)} converted file(s) exist already: {shown} (--force overwrites them)")
    if problems:
        raise ValueError("; ".join(problems))
    return plan


def convert_dump(source: str | os.PathLike, target: str | os.PathLike, to: str) -> None:
    """Read the dump ``source`` (any format) and write it to ``target`` in format ``to``, atomically.

    :raises DumpError: if ``source`` is not a memory dump
    :raises ValueError: if a tensor's dtype cannot be written in format ``to``
    """
    check_format(to)
    tensors = {}
    for name, value in read_dump(source).items():
        tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(value))
        if to != "pt" and tensor.dtype == torch.bfloat16:
            tensor = tensor.float()  # numpy has no bfloat16; float32 holds every bfloat16 exactly
        tensors[name] = tensor
    check_exportable(tensors, to)
    write_dump(os.fspath(target), tensors, to)


def convert_dumps(plan: Iterable[Conversion], progress: bool | None = None) -> tuple[list[Conversion], list[tuple[Conversion, Exception]]]:
    """Run the conversions of :func:`plan_conversions`, going on past a failed one.

    :param progress: show a tqdm progress bar (None: only when stderr is a terminal)
    :return: ``(done, failed)``, ``failed`` holding each failed conversion and its error
    """
    from tqdm import tqdm

    plan = list(plan)
    done: list[Conversion] = []
    failed: list[tuple[Conversion, Exception]] = []
    for conversion in tqdm(plan, desc="converting", unit="dump", disable=None if progress is None else not progress):
        try:
            convert_dump(conversion.source, conversion.target, conversion.to)
            done.append(conversion)
        except (OSError, ValueError, RuntimeError) as exc:
            failed.append((conversion, exc))
    return done, failed
