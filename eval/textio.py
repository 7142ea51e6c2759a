"""Strict UTF-8 line I/O for evaluation inputs: nothing is decoded leniently or dropped."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import EvalError


def read_lines(path: str | os.PathLike) -> list[str]:
    """All lines of a UTF-8 text file, without their newline.

    Lines are split on ``\\n`` only (never on U+2028 and friends, which would shift a
    hypothesis file against its references); a trailing ``\\r`` and a leading byte-order mark
    are removed. A missing file or invalid UTF-8 raises :class:`EvalError` naming
    ``file:line``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise EvalError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EvalError(f"{path}: is a directory, expected a text file") from None
    except OSError as exc:
        raise EvalError(f"{path}: cannot read ({exc.strerror})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the newline that ends the last line does not open a new one
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.rstrip(b"\r").decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise EvalError(f"{path}:{number}: invalid UTF-8 at byte {exc.start + 1} of the line") from None
    return lines


def write_lines(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Atomically write one string per line (temporary file in the same folder + rename)."""
    path = Path(path)
    body = []
    for number, line in enumerate(lines, start=1):
        if "\n" in line:
            raise ValueError(f"{path}: line {number} contains a newline")
        body.append(line + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("".join(body))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
