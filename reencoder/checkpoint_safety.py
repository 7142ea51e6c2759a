"""Safe loading of fairseq checkpoints under torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default.  fairseq 0.12 checkpoints pickle a
few plain Python objects next to the tensors (the ``argparse.Namespace`` of the run, and the
training state), which the safe unpickler rejects, so ``fairseq-generate`` cannot load a
checkpoint.  Rather than turning safe loading off, we allow-list exactly those classes:
none of them can run code when unpickled.  Anything else in a checkpoint — for example a
crafted ``__reduce__`` that calls ``os.system`` — is still refused by torch.
"""

from __future__ import annotations

import argparse

import torch

# The only global of a fairseq 0.12 checkpoint that torch does not already allow (found with
# torch.serialization.get_unsafe_globals_in_checkpoint; the tests re-check it on a fresh one).
FAIRSEQ_CHECKPOINT_GLOBALS = [argparse.Namespace]


def allow_fairseq_checkpoints() -> None:
    """Register the allow-list with torch's safe unpickler (idempotent)."""
    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is not None:  # torch < 2.4 has neither the safe default nor this API
        add(FAIRSEQ_CHECKPOINT_GLOBALS)


class CheckpointError(Exception):
    """A checkpoint file that cannot be used: missing, truncated, foreign or unsafe."""


def load_checkpoint_safely(path) -> dict:
    """``torch.load(path, weights_only=True)`` under the allow-list, returning a fairseq
    checkpoint dict; every failure is a one-line :class:`CheckpointError` naming the file
    (a truncated zip, a crafted pickle refused by the safe unpickler, not a checkpoint...)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    allow_fairseq_checkpoints()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        raise CheckpointError(f"cannot read checkpoint {path}: {lines[0] if lines else type(exc).__name__}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a fairseq checkpoint (no model state)")
    return state
