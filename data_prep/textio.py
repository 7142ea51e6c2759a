"""Strict text input of data_prep: UTF-8 lines with ``file:line`` errors, hashing.

The line rules (``\\n`` only, ``\\r`` and byte-order mark removed) and atomic writes are the
project's (:mod:`data_prep.foundation`); here they raise :class:`~data_prep.errors.DataError`.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path
from typing import Iterator

from . import foundation
from .errors import DataError


def read_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 file, without the newline
    (:func:`data_prep.foundation.read_lines`); a missing file or invalid UTF-8 is a
    :class:`DataError` naming file and line."""
    return foundation.read_lines(path, DataError)


def read_gzip_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """:func:`read_lines` of a gzip-compressed file, decompressed as it is read (constant
    memory). A truncated or corrupt stream is a :class:`DataError` naming the line it breaks
    off in, e.g. ``train.zh.gz:51234: truncated or corrupt gzip data (...)``."""
    path = Path(path)
    try:
        handle = gzip.open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    number = 0
    with handle:
        try:
            for number, text in foundation.iter_lines(handle, str(path), DataError):
                yield number, text
        except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise DataError(f"{path}:{number + 1}: truncated or corrupt gzip data ({exc})") from None


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
