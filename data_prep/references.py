"""Multi-reference files: ``PREFIX.zh``, ``PREFIX.en.0 .. PREFIX.en.K`` and ``PREFIX.en``.

Line *i* of every file belongs to item *i*. ``PREFIX.en.k`` holds the *k*-th reference of
each item; an item with fewer than ``k + 1`` references has an **empty line** there (a real
reference is never empty: cleaning drops empty sides). ``PREFIX.en`` is a copy of
``PREFIX.en.0``. Note that sacrebleu 2.x ignores only ``None`` references, *not* empty
strings (an empty string shortens the closest reference length), so readers must map empty
lines to ``None`` or drop them: use :func:`load_reference_streams` or :func:`load_items`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .errors import DataError
from .split import Item, refs_histogram
from .textio import read_lines, write_lines


def write_items(folder: str | Path, prefix: str, items: Sequence[Item],
                write_sources: bool = True) -> dict:
    """Write the files for ``items`` under ``folder``; return their description."""
    folder = Path(folder)
    if write_sources:
        write_lines(folder / f"{prefix}.zh", (item.zh for item in items))
    columns = reference_columns(items, prefix)
    for name, column in columns.items():
        write_lines(folder / name, column)
    write_lines(folder / f"{prefix}.en", (item.refs[0] for item in items))
    return {"items": len(items), "K": len(columns) - 1, "files": list(columns),
            "refs_per_item": refs_histogram(list(items)), "missing_reference": "empty line"}


def reference_columns(items: Sequence[Item], prefix: str) -> dict[str, list[str]]:
    """``{"PREFIX.en.k": [k-th reference of each item, "" where missing]}`` for k = 0..K."""
    num_files = max((len(item.refs) for item in items), default=1)
    return {f"{prefix}.en.{k}": [item.refs[k] if k < len(item.refs) else "" for item in items]
            for k in range(num_files)}


def reference_files(folder: str | Path, prefix: str) -> list[Path]:
    """``PREFIX.en.0 .. PREFIX.en.K`` in ``folder``, in order of k."""
    folder = Path(folder)
    files = []
    while (folder / f"{prefix}.en.{len(files)}").is_file():
        files.append(folder / f"{prefix}.en.{len(files)}")
    if not files:
        raise DataError(f"{folder}: no reference files {prefix}.en.0 ...")
    return files


def load_reference_streams(folder: str | Path, prefix: str) -> list[list[str | None]]:
    """One list per reference file, empty lines as ``None``: sacrebleu's ``refs`` argument."""
    streams = [[text if text else None for _, text in read_lines(path)]
               for path in reference_files(folder, prefix)]
    lengths = {len(stream) for stream in streams}
    if len(lengths) > 1:
        raise DataError(f"{folder}: reference files {prefix}.en.* differ in length {lengths}")
    return streams


def load_items(folder: str | Path, prefix: str) -> list[list[str]]:
    """The references of each item (empty lines dropped), e.g. ``[["Hi.", "Hello."], ...]``."""
    streams = load_reference_streams(folder, prefix)
    return [[ref for ref in refs if ref is not None] for refs in zip(*streams)]
