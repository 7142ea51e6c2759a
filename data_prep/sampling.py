"""A seeded reservoir sample: a uniform random subset of a stream whose length is not known in
advance, in memory bounded by the sample size (Vitter's algorithm R)."""
from __future__ import annotations

import random
from typing import Generic, TypeVar

T = TypeVar("T")


class Reservoir(Generic[T]):
    """Keeps ``size`` items of everything :meth:`add`-ed, each item equally likely; the same
    seed and stream give the same sample. :attr:`items` is in stream order."""

    def __init__(self, size: int, seed: int):
        if size < 1:
            raise ValueError(f"sample size must be >= 1, got {size}")
        self.size, self.seen = size, 0
        self._rng = random.Random(seed)
        self._slots: list[tuple[int, T]] = []  # (position in the stream, item)

    def add(self, item: T) -> None:
        """Offer the next item of the stream."""
        position, self.seen = self.seen, self.seen + 1
        if len(self._slots) < self.size:
            self._slots.append((position, item))
            return
        slot = self._rng.randrange(self.seen)
        if slot < self.size:
            self._slots[slot] = (position, item)

    @property
    def items(self) -> list[T]:
        """The sample, in the order the items came in."""
        return [item for _, item in sorted(self._slots, key=lambda slot: slot[0])]
