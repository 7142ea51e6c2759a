"""Apply a function to a long stream in chunks on a pool of worker processes, in order, with
bounded memory: at most ``2 * workers`` chunks are in flight, so a two-million-line file is
never held whole, and the results come back in input order, ready to be written as they come."""
from __future__ import annotations

import collections
import itertools
import multiprocessing
import signal
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` as consecutive lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def map_chunks(function: Callable[[list[T]], list[R]], items: Iterable[T], workers: int,
               chunk_size: int = 10_000) -> Iterator[list[R]]:
    """``function(chunk)`` for each chunk of ``items``, in order.

    ``function`` must be a module-level function (it is sent to the workers by name). With
    ``workers <= 1`` everything runs in this process. An exception in a worker is raised here;
    the pool is terminated when the iteration ends, fails or is abandoned.
    """
    if workers <= 1:
        yield from map(function, chunks(items, chunk_size))
        return
    with multiprocessing.Pool(workers, initializer=_ignore_sigint) as pool:
        pending: collections.deque = collections.deque()
        for chunk in chunks(items, chunk_size):
            pending.append(pool.apply_async(function, (chunk,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
