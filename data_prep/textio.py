"""Strict text I/O: UTF-8 line reading with file:line errors, atomic writes, hashing."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from .errors import DataError


def read_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 file, without the newline.

    Lines are split on ``\\n`` only (not on U+2028 & co., which would break the alignment of
    parallel files); a trailing ``\\r`` and a leading byte-order mark are removed.
    Raises :class:`DataError` naming file and line for invalid UTF-8 or a missing file.
    """
    path = Path(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}:{number}: invalid UTF-8 at byte {exc.start + 1} of the line"
                ) from None


def count_lines(path: str | os.PathLike) -> int:
    """Number of lines of a file (a last line without newline counts)."""
    count = 0
    for count, _ in read_lines(path):
        pass
    return count


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (:class:`DataError` if it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return digest.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_lines(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Atomically write one string per line (each must be free of newlines)."""
    body = "".join(f"{line}\n" for line in lines)
    return atomic_write_text(path, body)
