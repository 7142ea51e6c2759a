"""A real ``reencoder-serve`` process for the API and page tests (:mod:`eval.serve.client`).

:func:`serving` starts the console script on a free port, yields its URL, and stops it with
SIGTERM, checking that it exits with status 0 after saying so.
"""

from __future__ import annotations

from contextlib import contextmanager

from eval.serve.client import call, launch, stop

__all__ = ["SERVE_LIMITS", "call", "serving"]

#: the request limits of the tests' server (tests/e2e/conftest.py ``tiny_server``)
SERVE_LIMITS = {"max_chars": 300, "max_lines": 5, "max_body": 4096}


@contextmanager
def serving(args):
    """Yield the base URL of ``reencoder-serve ARGS --port 0`` while it runs."""
    proc, url = launch(args)
    try:
        yield url
    finally:
        status, err = stop(proc)
    assert status == 0, f"reencoder-serve exited {status} after SIGTERM:\n{err[-2000:]}"
    assert "reencoder-serve: stopped" in err
