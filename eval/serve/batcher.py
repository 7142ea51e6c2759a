"""Dynamic batching: the lines of requests that arrive together share one beam search.

One :class:`Batcher` (and one worker thread) per model.  A request's lines are queued as a
:class:`Job`; the worker takes the oldest job's search options (beam, length penalty), waits
up to ``window_s`` for more requests, and fills a batch **round-robin over the queued jobs**
with those options, one line of each job per turn, until the batch holds ``max_lines`` lines
or ``max_tokens`` source tokens (a line's cost: its characters plus end of sentence, about its
sentencepiece pieces for Chinese; a line over the cap goes alone).  So a request of many
lines is decoded over several batches while a short request that arrives meanwhile rides in
the next one: it waits for at most one batch, never for the whole long request.  Requests
with other options wait for the batches of the oldest one.

A queue of more than ``max_queued_lines`` lines refuses new jobs (:class:`Overloaded`, the
API's 503).  A job's future gets the translations in input order and the milliseconds of
the beam searches that carried its lines.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Deque, List, Optional, Tuple

from .backends import Backend


class Overloaded(Exception):
    """More lines queued for a model than the server takes (the API answers 503)."""


@dataclass
class Job:
    """One request's lines for one model, and where their translations go."""

    lines: List[str]
    key: object
    beam: Optional[int]
    lenpen: Optional[float]
    future: Future = field(default_factory=Future)
    results: List[Optional[str]] = field(default_factory=list)
    next_line: int = 0  # the first line not yet in a batch
    pending: int = 0  # lines in a batch, not yet translated
    ms: float = 0.0
    batches: List[int] = field(default_factory=list)  # numbers of the beam searches that carried its lines
    cancelled: bool = False
    queued_at: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        self.results = [None] * len(self.lines)
        self.pending = len(self.lines)

    def cancel(self) -> None:
        """Leave the lines not yet batched (another model of the request refused it)."""
        self.cancelled = True


def line_cost(line: str) -> int:
    """A line's source tokens as the batch cap counts them: characters plus end of sentence."""
    return len(line) + 1


class Batcher:
    """The worker thread of one model (see the module doc)."""

    def __init__(self, backend: Backend, *, window_s: float = 0.01, max_tokens: int = 1024,
                 max_lines: int = 32, max_queued_lines: int = 1024):
        self.backend = backend
        self.window_s, self.max_tokens, self.max_lines = window_s, max_tokens, max_lines
        self.max_queued_lines = max_queued_lines
        self.batches = 0  # beam searches run (numbered from 1), for the stats
        self.lines = 0  # lines translated
        self._jobs: Deque[Job] = deque()
        self._queued = 0  # lines of queued jobs not yet in a batch
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"batcher-{backend.name}", daemon=True)
        self._thread.start()

    def submit(self, lines: List[str], beam: Optional[int] = None, lenpen: Optional[float] = None) -> Job:
        """Queue a request's lines; its ``future`` resolves to ``(translations, ms)``."""
        job = Job(list(lines), self.backend.search_key(beam, lenpen), beam, lenpen)
        with self._cond:
            if self._closed:
                raise Overloaded(f"model {self.backend.name} is shutting down")
            if self._queued and self._queued + len(lines) > self.max_queued_lines:
                raise Overloaded(f"server overloaded: {self._queued} lines queued for model {self.backend.name} "
                                 f"(limit {self.max_queued_lines}); retry later")
            self._jobs.append(job)
            self._queued += len(lines)
            self._cond.notify()
        return job

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    # -- the worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._translate(batch)

    def _live_jobs(self) -> List[Job]:
        """The queued jobs with lines left, dropping finished and cancelled ones (lock held)."""
        while self._jobs and (self._jobs[0].cancelled or self._jobs[0].next_line >= len(self._jobs[0].lines)):
            job = self._jobs.popleft()
            if job.cancelled:
                self._queued -= len(job.lines) - job.next_line
                job.next_line = len(job.lines)
        return list(self._jobs)

    def _next_batch(self) -> Optional[List[Tuple[Job, int]]]:
        with self._cond:
            while not self._closed and not self._live_jobs():
                self._cond.wait()
            if self._closed:
                return None
            # let requests that arrive together meet: up to window_s after the oldest one came
            deadline = self._jobs[0].queued_at + self.window_s
            while self._queued < self.max_lines and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            jobs = self._live_jobs()
            if not jobs:
                return []
            key = jobs[0].key
            jobs = [job for job in jobs if job.key == key and not job.cancelled]
            batch: List[Tuple[Job, int]] = []
            tokens = 0
            while len(batch) < self.max_lines:
                added = False
                for job in jobs:  # one line of each job per turn
                    if job.next_line >= len(job.lines) or len(batch) >= self.max_lines:
                        continue
                    cost = line_cost(job.lines[job.next_line])
                    if batch and tokens + cost > self.max_tokens:
                        return self._take(batch)
                    batch.append((job, job.next_line))
                    job.next_line += 1
                    tokens += cost
                    added = True
                if not added:
                    break
            return self._take(batch)

    def _take(self, batch: List[Tuple[Job, int]]) -> List[Tuple[Job, int]]:
        self._queued -= len(batch)
        self._live_jobs()
        return batch

    def _translate(self, batch: List[Tuple[Job, int]]) -> None:
        if not batch:
            return
        first = batch[0][0]
        start = time.perf_counter()
        try:
            with self.backend.lock:
                outputs = self.backend.translate([job.lines[k] for job, k in batch], first.beam, first.lenpen)
        except Exception as exc:  # noqa: BLE001  (the request fails, the worker goes on)
            for job in {id(job): job for job, _ in batch}.values():
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        ms = (time.perf_counter() - start) * 1000
        self.batches += 1
        self.lines += len(batch)
        for job in {id(job): job for job, _ in batch}.values():
            job.ms += ms
            job.batches.append(self.batches)
        for (job, k), text in zip(batch, outputs):
            job.results[k] = text
            job.pending -= 1
            if job.pending == 0 and not job.future.done():
                job.future.set_result((job.results, job.ms))
