"""Progress bars (tqdm on stderr) that the CLI's ``--quiet`` switches off for the whole run."""
from __future__ import annotations

import contextlib
import sys
import time
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


class StepTimer:
    """Announces steps (:func:`step`) and records their wall time: ``with timer("tok"): ...``;
    :attr:`seconds` is ``{name: seconds}`` (rounded to 0.1 s) for a manifest."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, name: str, message: str | None = None) -> Iterator[None]:
        step(message or name)
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 1)

    def total(self) -> dict[str, float]:
        """:attr:`seconds` plus ``total``, the time since the timer was made."""
        return {**self.seconds, "total": round(time.perf_counter() - self._start, 1)}
