"""Multi-reference sets in the data_prep layout: ``{prefix}.en.0``, ``{prefix}.en.1``, ...

Each file holds one reference per line, aligned with ``{prefix}.zh``. Items with fewer
references than the set has files carry EMPTY lines in the extra files. sacrebleu's Python
API does *not* skip an empty string (it counts as a reference of length 0, which changes the
brevity penalty and chrF), but it does skip ``None``; so empty lines are returned as ``None``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from .errors import EvalError
from .textio import read_lines

RefStreams = list[list[Optional[str]]]


def reference_files(split_dir: str | Path, prefix: str = "test", lang: str = "en") -> list[Path]:
    """The reference files ``{prefix}.{lang}.0 .. K`` of ``split_dir``, checked contiguous."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise EvalError(f"{split_dir}: no such directory (expected a data_prep split/ folder)")
    pattern = re.compile(rf"^{re.escape(prefix)}\.{re.escape(lang)}\.(\d+)$")
    indexed = sorted((int(m.group(1)), p) for p in split_dir.iterdir() if (m := pattern.match(p.name)))
    if not indexed:
        raise EvalError(f"{split_dir}: no reference files {prefix}.{lang}.0, {prefix}.{lang}.1, ... found")
    for expected, (index, path) in enumerate(indexed):
        if index != expected:
            raise EvalError(f"{split_dir}: reference {prefix}.{lang}.{expected} is missing "
                            f"(found {', '.join(p.name for _, p in indexed)})")
    return [path for _, path in indexed]


def load_references(split_dir: str | Path, prefix: str = "test", lang: str = "en") -> RefStreams:
    """Read all references of ``prefix`` as sacrebleu streams: ``streams[k][i]`` is the
    k-th reference of item i, ``None`` where that item has fewer than k+1 references.

    Errors (:class:`EvalError`): no reference files, a gap in the numbering, files of
    different lengths, invalid UTF-8, or an item whose line is empty in every file.
    """
    files = reference_files(split_dir, prefix, lang)
    streams = [read_lines(path) for path in files]
    counts = {len(s) for s in streams}
    if len(counts) != 1:
        sizes = ", ".join(f"{p.name}={len(s)}" for p, s in zip(files, streams))
        raise EvalError(f"{Path(split_dir)}: reference files differ in length ({sizes})")
    if counts == {0}:
        raise EvalError(f"{files[0]}: reference files are empty")
    for number, refs in enumerate(zip(*streams), start=1):
        if not any(ref.strip() for ref in refs):
            raise EvalError(f"{files[0]}:{number}: empty in all {len(files)} reference files "
                            f"({prefix}.{lang}.0..{len(files) - 1}); every item needs a reference")
    return [[ref if ref.strip() else None for ref in stream] for stream in streams]


def reference_count(streams: RefStreams) -> list[int]:
    """How many references each item has."""
    return [sum(ref is not None for ref in refs) for refs in zip(*streams)]
