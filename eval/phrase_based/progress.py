"""Progress bar and per-phase wall times for sil-machine's phased progress reports."""
from __future__ import annotations

import sys
import time
from typing import Optional

from tqdm import tqdm


class PhaseClock:
    """A callable for ``ProgressStatus`` reports that shows a tqdm bar (percent of the
    whole job, described by the current phase) and records each phase's wall time.

    ``times`` maps phase message -> seconds, in the order the phases ran.
    """

    def __init__(self, desc: str = "train", enabled: bool = True):
        self.times: dict[str, float] = {}
        self._phase: Optional[str] = None
        self._started = time.perf_counter()
        self._bar = tqdm(total=100, desc=desc, file=sys.stderr, disable=not enabled, leave=False, mininterval=1.0,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}]")

    def __call__(self, status) -> None:
        message = getattr(status, "message", None)
        if message and message != self._phase:
            self._switch(message)
        if status.percent_completed is not None:
            percent = int(100 * status.percent_completed)
            if percent != self._bar.n:
                self._bar.update(percent - self._bar.n)  # tqdm rate-limits the redraws

    def _switch(self, message: Optional[str]) -> None:
        now = time.perf_counter()
        if self._phase is not None:
            self.times[self._phase] = self.times.get(self._phase, 0.0) + now - self._started
        self._phase, self._started = message, now
        if message:
            self._bar.set_description_str(message, refresh=False)

    def close(self) -> dict[str, float]:
        """Stop the clock and the bar; return the phase times (seconds, rounded)."""
        self._switch(None)
        self._bar.close()
        return {phase: round(seconds, 2) for phase, seconds in self.times.items()}
