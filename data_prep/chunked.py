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


def _start_worker(initializer: Callable[[], None] | None) -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool (no traceback per worker),
    then run ``initializer``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer()


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` as consecutive lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def map_chunks(function: Callable[[list[T]], list[R]], items: Iterable[T], workers: int,
               chunk_size: int = 10_000,
               initializer: Callable[[], None] | None = None) -> Iterator[list[R]]:
    """``function(chunk)`` for each chunk of ``items``, in order.

    ``function`` and ``initializer`` (run once per worker, e.g. to load a dictionary) must be
    module-level functions: they are sent to the workers by name. Workers are *spawned*, fresh
    interpreters that inherit none of this process's memory (a parent that has loaded torch
    or holds a large sample would otherwise lend each forked worker a private copy of it as
    pages get touched). With ``workers <= 1`` everything runs in this process. An exception in
    a worker is raised here; the pool is terminated when the iteration ends, fails or is
    abandoned.
    """
    if workers <= 1:
        if initializer is not None:
            initializer()
        yield from map(function, chunks(items, chunk_size))
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_start_worker, initargs=(initializer,)) as pool:
        pending: collections.deque = collections.deque()
        for chunk in chunks(items, chunk_size):
            pending.append(pool.apply_async(function, (chunk,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
