"""What every console script shares: one-line ``error: ...`` messages and exit status 2 for
user errors, no tracebacks."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from typing import Callable, Iterator, List, Optional

USER_ERROR = 2


class UserError(Exception):
    """A mistake of the user (bad file, bad argument); printed as ``error: MESSAGE``."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument prints one ``error: ...`` line (no usage block)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def probability(text: str) -> float:
    """A dropout probability in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def user_error_types():
    """Exception types whose message is meant for users."""
    from data_prep.errors import DataError

    from ..model_folder import ModelFolderError

    return (UserError, ModelFolderError, DataError)


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return USER_ERROR


@contextlib.contextmanager
def quiet_fairseq_logging() -> Iterator[None]:
    """fairseq logs INFO lines (dictionary sizes, ...) through a root handler that one of its
    modules installs at import; our scripts keep stderr for warnings and errors only.  The
    levels are restored afterwards (``main()`` may run inside another program or a test)."""
    loggers = [logging.getLogger(), logging.getLogger("fairseq")]  # root: matplotlib's DEBUG chatter too
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before):
            logger.setLevel(level)


def run_main(body: Callable[[List[str]], int], argv: Optional[List[str]]) -> int:
    """Run ``body(argv)``: user errors -> ``error: ...`` and exit 2; a closed output pipe
    (``| head``) ends quietly; Ctrl-C -> exit 130."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with quiet_fairseq_logging():
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
    except Exception as exc:  # noqa: BLE001
        if isinstance(exc, user_error_types()):
            return fail(str(exc).strip().replace("\n", " "))
        raise
