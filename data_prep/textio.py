"""data_prep's gzip line input and file hashing, raising :class:`~data_prep.errors.DataError`.

Plain text files are read with :func:`data_prep.foundation.read_lines` /
:func:`~data_prep.foundation.numbered_lines` (with ``DataError``): the line rules (``\\n`` only,
``\\r`` and byte-order mark removed) are theirs, here too.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from typing import Iterator

from .errors import DataError
from .foundation import numbered_lines


def read_gzip_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of a gzip-compressed UTF-8 file, decompressed as it is read
    (constant memory; :func:`~data_prep.foundation.numbered_lines`).  A truncated or corrupt
    stream is a :class:`DataError` naming the line it breaks off in, e.g.
    ``train.zh.gz:51234: truncated or corrupt gzip data (...)``."""
    number = 0
    try:
        for number, text in numbered_lines(path, DataError, opener=gzip.open):
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
