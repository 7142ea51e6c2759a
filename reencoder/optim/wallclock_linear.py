"""``--lr-scheduler wallclock_linear``: linear warm-up over updates, linear decay over wall-clock.

For equal wall-clock budgets (``--stop-time-hours``): fairseq's ``polynomial_decay`` needs the
number of updates in advance, which differs per system and per machine, and ``inverse_sqrt``
never anneals.  Here the learning rate at update ``u`` after ``t`` seconds of training is

    lr(u, t) = lr_peak * min(1, u / warmup_updates) * max(0, 1 - t / budget)

with ``budget = --time-budget-hours``, given with the same value as fairseq's own
``--stop-time-hours`` (as ``polynomial_decay``'s ``--total-num-update`` is given with
``--max-update``: fairseq's cross-group defaults do not resolve from its command line), so
every system of a comparison reaches zero exactly when its time is up, however fast it runs.
``t`` counts from the moment fairseq imported the plugin (before it builds the trainer, whose clock
``--stop-time-hours`` reads, so the rate reaches zero a few seconds before fairseq stops, never
after) plus the seconds of earlier invocations, kept in the checkpoint's scheduler state, so a
resumed run continues the same schedule.
"""

import time  # no "from __future__ import annotations": fairseq reads these dataclass fields as types
from dataclasses import dataclass, field
from typing import List

from fairseq.dataclass import FairseqDataclass
from fairseq.optim.lr_scheduler import FairseqLRScheduler, register_lr_scheduler
from omegaconf import II

IMPORTED = time.time()  # fairseq imports --user-dir before it builds the trainer


@dataclass
class WallclockLinearConfig(FairseqDataclass):
    warmup_updates: int = field(default=0, metadata={"help": "warm the learning rate up linearly for the first N updates"})
    time_budget_hours: float = field(
        default=0.0, metadata={"help": "hours of training over which the learning rate decays to zero (= --stop-time-hours)"})
    lr: List[float] = II("optimization.lr")


@register_lr_scheduler("wallclock_linear", dataclass=WallclockLinearConfig)
class WallclockLinearSchedule(FairseqLRScheduler):
    """Linear warm-up over updates, then linear decay to zero at the wall-clock budget."""

    def __init__(self, cfg: WallclockLinearConfig, optimizer, clock=time.time, started=IMPORTED):
        super().__init__(cfg, optimizer)
        if not cfg.time_budget_hours or cfg.time_budget_hours <= 0:
            raise ValueError("--lr-scheduler wallclock_linear needs --time-budget-hours > 0 (the value of --stop-time-hours)")
        if len(cfg.lr) > 1:
            raise ValueError("--lr-scheduler wallclock_linear takes one --lr")
        self.peak = cfg.lr[0]
        self.budget_s = cfg.time_budget_hours * 3600.0
        self.clock = clock
        self.started = started  # this invocation's origin
        self.previous_s = 0.0  # seconds trained by earlier invocations (from the checkpoint)
        self.optimizer.set_lr(self.lr_at(0, 0.0))

    def elapsed(self) -> float:
        return self.previous_s + self.clock() - self.started

    def lr_at(self, num_updates: int, seconds: float) -> float:
        warm = 1.0 if self.cfg.warmup_updates <= 0 else min(1.0, max(num_updates, 1) / self.cfg.warmup_updates)
        return self.peak * warm * max(0.0, 1.0 - seconds / self.budget_s)

    def step_update(self, num_updates):
        lr = self.lr_at(num_updates, self.elapsed())
        self.optimizer.set_lr(lr)
        return lr

    def state_dict(self):
        return {**super().state_dict(), "elapsed_seconds": self.elapsed()}

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        if "elapsed_seconds" in state_dict:
            self.previous_s = float(state_dict["elapsed_seconds"])
