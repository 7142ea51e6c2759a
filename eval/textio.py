"""Strict UTF-8 line input of the evaluation package: nothing is decoded leniently or dropped.

The line rules are the project's (:mod:`data_prep.foundation`); here they raise
:class:`~eval.errors.EvalError`.
"""
from __future__ import annotations

import os

from data_prep.foundation import read_lines as _read_lines

from .errors import EvalError


def read_lines(path: str | os.PathLike) -> list[str]:
    """All lines of a UTF-8 text file, without their newline.

    Lines are split on ``\\n`` only (never on U+2028 and friends, which would shift a
    hypothesis file against its references); a trailing ``\\r`` and a leading byte-order mark
    are removed. A missing file or invalid UTF-8 raises :class:`EvalError` naming
    ``file:line``.
    """
    return [text for _, text in _read_lines(path, EvalError)]
