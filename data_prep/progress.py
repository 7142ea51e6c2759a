"""Progress bars (tqdm on stderr) that the CLI's ``--quiet`` switches off for the whole run."""
from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")
_enabled = True
#: Known-length iterations shorter than this finish in well under a second: no bar.
QUICK = 5000


def set_enabled(enabled: bool) -> None:
    """Turn progress bars and step messages on or off (process-wide)."""
    global _enabled
    _enabled = enabled


def tqdm_bar(desc: str, total: int | None = None, items: Iterable | None = None) -> tqdm:
    """A tqdm bar named ``desc`` counting lines (over ``items`` if given; else call its
    ``update``), disabled by :func:`set_enabled` and for fewer than :data:`QUICK` lines.
    Use it as a context manager so that it is closed."""
    quick = total is not None and total < QUICK
    return tqdm(items, desc=desc, total=total, disable=not _enabled or quick, unit=" lines",
                leave=False, file=sys.stderr, mininterval=0.5)


def track(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` showing a progress bar named ``desc`` (unless short)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    yield from tqdm_bar(desc, total, items)


def step(message: str) -> None:
    """Announce a pipeline step on stderr."""
    if _enabled:
        print(f"[data_prep] {message}", file=sys.stderr, flush=True)
