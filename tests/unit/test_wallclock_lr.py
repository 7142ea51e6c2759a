"""--lr-scheduler wallclock_linear: warm-up over updates, linear decay to zero at the time budget,
and a resumed run continues the schedule from the seconds its checkpoint recorded."""

import pytest
import torch
from fairseq.optim import FairseqOptimizer

from reencoder.optim.wallclock_linear import WallclockLinearConfig, WallclockLinearSchedule


class _SGD(FairseqOptimizer):
    def __init__(self):
        super().__init__(None)
        self._optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def schedule(clock, warmup=10, hours=1.0, lr=0.01):
    cfg = WallclockLinearConfig(warmup_updates=warmup, time_budget_hours=hours, lr=[lr])
    return WallclockLinearSchedule(cfg, _SGD(), clock=clock, started=clock())


def test_warmup_then_linear_decay_to_zero_at_the_budget():
    clock = Clock()
    s = schedule(clock)
    assert s.optimizer.get_lr() == pytest.approx(0.001)  # update 0: 1/10 of the peak
    assert s.step_update(5) == pytest.approx(0.005)  # half-way through the warm-up, no time spent
    clock.t += 900  # a quarter of the hour
    assert s.step_update(10) == pytest.approx(0.0075)
    assert s.step_update(400) == pytest.approx(0.0075)  # the decay follows time, not updates
    clock.t += 1800
    assert s.step_update(401) == pytest.approx(0.0025)
    assert s.optimizer.get_lr() == pytest.approx(0.0025)
    clock.t += 900
    assert s.step_update(402) == 0.0
    clock.t += 60  # past the budget (fairseq stops at its next check): never negative
    assert s.step_update(403) == 0.0


def test_a_resumed_run_continues_from_the_recorded_seconds():
    clock = Clock()
    first = schedule(clock)
    clock.t += 1800
    state = first.state_dict()
    assert state["elapsed_seconds"] == pytest.approx(1800)
    later = Clock(t=50_000.0)  # a new process, another day: its clock means nothing
    second = schedule(later)
    second.load_state_dict(state)
    assert second.step_update(500) == pytest.approx(0.005)
    later.t += 900
    assert second.step_update(501) == pytest.approx(0.0025)


def test_needs_a_budget():
    with pytest.raises(ValueError, match="time-budget-hours"):
        schedule(Clock(), hours=0.0)
