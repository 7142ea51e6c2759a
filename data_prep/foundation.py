"""What every command-line tool of the project shares: user errors, strict UTF-8 lines, atomic
writes, argument checks and ``run_main``.

It sits at the bottom of the import graph and uses the standard library only, so every package
can import it without pulling anything else in: ``data_prep`` (which imports no other package
of the project), ``eval`` and ``reencoder`` (which both already build on ``data_prep``).  The
top level of the repository is fixed, so the foundation lives in the bottom package rather
than in a package of its own.

* :class:`UserError` — the base of every error whose message is meant for users
  (``data_prep.errors.DataError``, ``eval.errors.EvalError``,
  ``reencoder.model_folder.ModelFolderError``, ...): :func:`run_main` prints it as one
  ``error: MESSAGE`` line and exits with status 2, without a traceback.
* :func:`read_lines`, :func:`numbered_lines`, :func:`numbered_stream_lines` — UTF-8 lines split
  on ``\\n`` only (never on U+2028 and friends, which would shift parallel or reference files
  against each other), a trailing ``\\r`` and a leading byte-order mark removed, invalid UTF-8
  named as ``file:line``; each raises the caller's error type (``DataError``, ``EvalError``, ...):
  a file's lines as a list, a file's ``(line_number, text)`` lazily, an open stream's
  ``(line_number, text)`` lazily (stdin, a gzip stream).
* :func:`atomic_path`, :func:`atomic_write_bytes`, :func:`atomic_write_text`,
  :func:`write_lines`, :func:`line_writer` — a file appears whole or not at all (temporary file +
  rename); :func:`line_writer` streams its lines.
* :class:`Parser` and the argument types — a bad argument is one ``error:`` line too.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, List, Optional, Sequence

#: exit status of a user error (argparse's, too)
USER_ERROR = 2


class UserError(Exception):
    """A mistake of the user or of their input (bad file, bad argument); the message is one line."""


# -- reading ---------------------------------------------------------------------------------

def numbered_stream_lines(stream: BinaryIO, name: str, error: type = UserError) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of an open binary stream, lazily, without the line ends.

    Lines are split on ``\\n`` only; trailing ``\\r`` and a leading byte-order mark are removed.
    Invalid UTF-8 raises ``error("NAME:LINE: invalid UTF-8 at byte K of the line")``.
    """
    for number, raw in enumerate(stream, start=1):
        raw = raw.rstrip(b"\n").rstrip(b"\r")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{name}:{number}: invalid UTF-8 at byte {exc.start + 1} of the line") from None


def numbered_lines(path: str | os.PathLike, error: type = UserError,
                   opener: Callable[..., BinaryIO] = open) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of a UTF-8 file, lazily (constant memory;
    :func:`numbered_stream_lines`); a missing file, a folder or an unreadable file is
    ``error("PATH: ...")``.  ``opener(path, "rb")`` opens it (``gzip.open``: a compressed file)."""
    path = Path(path)
    try:
        handle = opener(path, "rb")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected a text file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        yield from numbered_stream_lines(handle, str(path), error)


def read_lines(path: str | os.PathLike, error: type = UserError) -> List[str]:
    """All lines of a UTF-8 file, as a list, without their line ends (the rules and errors of
    :func:`numbered_lines`)."""
    return [text for _, text in numbered_lines(path, error)]


# -- writing ---------------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; it replaces ``path`` when the block
    ends, and is removed if the block fails (``KeyboardInterrupt`` included), so ``path`` is
    always either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name, created by the writer itself so that it gets the usual permissions
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (:func:`atomic_path`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


class LineWriter:
    """Writes one string per line to an open text file and counts them (see :func:`line_writer`)."""

    def __init__(self, handle, path: str | os.PathLike):
        self._handle, self.path, self.count = handle, path, 0

    def write(self, line: str) -> None:
        """Append ``line``; a string holding a newline is a ``ValueError`` (it would shift
        every later line)."""
        self.count += 1
        if "\n" in line:
            raise ValueError(f"{self.path}: line {self.count} contains a newline")
        self._handle.write(line + "\n")


@contextlib.contextmanager
def line_writer(path: str | os.PathLike) -> Iterator[LineWriter]:
    """A :class:`LineWriter` on a temporary file that replaces ``path`` when the block ends
    (:func:`atomic_path`): lines are streamed to disk, never held in memory, and ``path``
    appears whole or not at all."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        yield LineWriter(handle, path)


def write_lines(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Atomically write one string per line; a string holding a newline is a ``ValueError``
    (it would shift every later line)."""
    with line_writer(path) as out:
        for line in lines:
            out.write(line)
    return Path(path)


# -- command lines ---------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument prints one ``error: ...`` line (no usage block)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


def _number(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def positive_int(text: str) -> int:
    """An argument type: an integer >= 1."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def probability(text: str) -> float:
    """An argument type: a dropout probability in [0, 1)."""
    value = _number(text, float, "a number")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text}")
    return value


def non_negative_float(text: str) -> float:
    """An argument type: a number >= 0."""
    value = _number(text, float, "a number")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def fail(message: str) -> int:
    """Print ``error: MESSAGE`` (one line) and return the user-error exit status."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    return USER_ERROR


@contextlib.contextmanager
def quiet_loggers(names: Sequence[str]) -> Iterator[None]:
    """The named loggers (``""`` is the root) at WARNING inside the block, their levels restored
    afterwards (``main()`` may run inside another program or a test)."""
    loggers = [logging.getLogger(name or None) for name in names]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before):
            logger.setLevel(level)


def run_main(body: Callable[[List[str]], int], argv: Optional[Sequence[str]],
             quiet: Sequence[str] = ()) -> int:
    """Run ``body(argv)`` (``argv`` defaults to ``sys.argv[1:]``) and return its exit status:
    a :class:`UserError` -> ``error: MESSAGE`` on one line and 2; a closed output pipe
    (``| head``) ends quietly with 0; Ctrl-C -> ``interrupted`` and 130.  ``quiet`` names
    loggers kept at WARNING meanwhile (see :func:`quiet_loggers`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with quiet_loggers(quiet):
            return body(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away: stop writing, and keep Python from complaining at exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 0
    except UserError as exc:
        return fail(str(exc).strip().replace("\n", " "))
