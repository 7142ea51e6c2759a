"""Multi-reference files: ``PREFIX.zh``, ``PREFIX.en.0 .. PREFIX.en.K`` and ``PREFIX.en``.

Line *i* of every file belongs to item *i*. ``PREFIX.en.k`` holds the *k*-th reference of
each item; an item with fewer than ``k + 1`` references has an **empty line** there (a real
reference is never empty: cleaning drops empty sides). ``PREFIX.en`` is a copy of
``PREFIX.en.0``. Note that sacrebleu 2.x ignores only ``None`` references, *not* empty
strings (an empty string shortens the closest reference length), so readers must map empty
lines to ``None`` or drop them: use :func:`load_reference_streams` (what ``reencoder-eval``
and the phrase-based baseline read) or :func:`load_items`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

from .errors import DataError
from .foundation import read_lines, write_lines
from .split import Item, refs_histogram

RefStreams = list[list[Optional[str]]]


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


def reference_files(folder: str | Path, prefix: str = "test", lang: str = "en") -> list[Path]:
    """The reference files ``PREFIX.LANG.0 .. K`` of ``folder``, checked contiguous."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such directory (expected a data_prep split/ folder)")
    pattern = re.compile(rf"^{re.escape(prefix)}\.{re.escape(lang)}\.(\d+)$")
    indexed = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := pattern.match(p.name)))
    if not indexed:
        raise DataError(f"{folder}: no reference files {prefix}.{lang}.0, {prefix}.{lang}.1, ... found")
    for expected, (index, _path) in enumerate(indexed):
        if index != expected:
            raise DataError(f"{folder}: reference {prefix}.{lang}.{expected} is missing "
                            f"(found {', '.join(p.name for _, p in indexed)})")
    return [path for _, path in indexed]


def load_reference_streams(folder: str | Path, prefix: str = "test", lang: str = "en") -> RefStreams:
    """All references of ``PREFIX`` as sacrebleu streams: ``streams[k][i]`` is the k-th
    reference of item i, ``None`` where its line is **blank** (empty or whitespace only: a
    real reference is never blank, since cleaning drops such sides, and sacrebleu would count
    a blank string as a reference of 0 words).

    Errors (:class:`DataError`): no reference files, a gap in the numbering, files of
    different lengths or empty, invalid UTF-8, or an item blank in every file.
    """
    files = reference_files(folder, prefix, lang)
    streams = [read_lines(path, DataError) for path in files]
    counts = {len(s) for s in streams}
    if len(counts) != 1:
        sizes = ", ".join(f"{p.name}={len(s)}" for p, s in zip(files, streams))
        raise DataError(f"{Path(folder)}: reference files differ in length ({sizes})")
    if counts == {0}:
        raise DataError(f"{files[0]}: reference files are empty")
    for number, refs in enumerate(zip(*streams), start=1):
        if not any(ref.strip() for ref in refs):
            raise DataError(f"{files[0]}:{number}: empty in all {len(files)} reference files "
                            f"({prefix}.{lang}.0..{len(files) - 1}); every item needs a reference")
    return [[ref if ref.strip() else None for ref in stream] for stream in streams]


def load_items(folder: str | Path, prefix: str) -> list[list[str]]:
    """The references of each item (blank lines dropped), e.g. ``[["Hi.", "Hello."], ...]``."""
    streams = load_reference_streams(folder, prefix)
    return [[ref for ref in refs if ref is not None] for refs in zip(*streams)]


def reference_count(streams: RefStreams) -> list[int]:
    """How many references each item has."""
    return [sum(ref is not None for ref in refs) for refs in zip(*streams)]
