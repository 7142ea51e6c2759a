"""Learning-rate schedules for fairseq (registered on import)."""

from . import wallclock_linear  # noqa: F401  (registers --lr-scheduler wallclock_linear)
