"""What the ``reencoder-*`` console scripts add to the project's foundation
(:mod:`data_prep.foundation`: one-line ``error: ...`` messages and exit status 2 for user
errors, no tracebacks): fairseq's INFO lines kept off stderr while they run."""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence

from data_prep.foundation import run_main as _run_main

#: fairseq logs INFO lines (dictionary sizes, ...) through a root handler that one of its modules
#: installs at import; the root logger also carries matplotlib's DEBUG chatter
FAIRSEQ_LOGGERS = ("", "fairseq")


def run_main(body: Callable[[List[str]], int], argv: Optional[Sequence[str]]) -> int:
    """:func:`data_prep.foundation.run_main` with fairseq's loggers at WARNING."""
    return _run_main(body, argv, quiet=FAIRSEQ_LOGGERS)
