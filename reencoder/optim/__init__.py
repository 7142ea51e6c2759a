"""Optimizers and learning-rate schedules for fairseq (registered on import)."""

from . import (
    fused_adam,  # noqa: F401  (registers --optimizer fused_adam)
    wallclock_linear,  # noqa: F401  (registers --lr-scheduler wallclock_linear)
)
