"""Safe loading of fairseq checkpoints under torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default.  fairseq 0.12 checkpoints pickle a
few plain Python objects next to the tensors (the ``argparse.Namespace`` of the run, and the
training state), which the safe unpickler rejects, so ``fairseq-generate`` cannot load a
checkpoint.  Rather than turning safe loading off, we allow-list exactly those classes:
none of them can run code when unpickled.  Anything else in a checkpoint — for example a
crafted ``__reduce__`` that calls ``os.system`` — is still refused by torch, and our loaders
say so in one line that names the offending global (never torch's advice to load it unsafely).
"""

from __future__ import annotations

import argparse
import pickle
import re
from pathlib import Path
from typing import List, Optional

import torch

from data_prep.foundation import UserError

# The only global of a fairseq 0.12 checkpoint that torch does not already allow (found with
# torch.serialization.get_unsafe_globals_in_checkpoint; the tests re-check it on a fresh one).
# Checkpoints hold the run's arguments and state dicts only: no class of this package is pickled,
# so moving the plugin's modules never breaks them.
FAIRSEQ_CHECKPOINT_GLOBALS = [argparse.Namespace]


def allow_fairseq_checkpoints() -> None:
    """Register the allow-list with torch's safe unpickler (idempotent)."""
    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is not None:  # torch < 2.4 has neither the safe default nor this API
        add(FAIRSEQ_CHECKPOINT_GLOBALS)


class CheckpointError(UserError):
    """A checkpoint file that cannot be used: missing, truncated, foreign or unsafe."""


def unsafe_globals(path) -> List[str]:
    """The globals a checkpoint pickles that the safe unpickler refuses (allow-list applied)."""
    allow_fairseq_checkpoints()
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # noqa: BLE001  (not a zip checkpoint: nothing to list)
        return []
    allowed = {f"{cls.__module__}.{cls.__qualname__}" for cls in FAIRSEQ_CHECKPOINT_GLOBALS}
    return [name for name in found if name not in allowed]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def unsafe_reason(path, exc: BaseException) -> Optional[str]:
    """``"refused as unsafe: it pickles GLOBAL, ..."`` when ``exc`` is the safe unpickler's
    refusal of ``path`` (naming the offending global, not torch's advice to load the file
    unsafely), else ``None``."""
    if not isinstance(exc, pickle.UnpicklingError):
        return None
    found = unsafe_globals(path) or re.findall(r"GLOBAL (\S+)", str(exc))
    what = ", ".join(found) if found else "an object outside the allow-list"
    return (f"refused as unsafe: it pickles {what}, which could run code when loaded "
            "(fairseq checkpoints hold only tensors and argparse.Namespace)")


def failure_reason(path, exc: BaseException) -> str:
    """Why loading ``path`` failed, in one line: :func:`unsafe_reason`, or the first line of ``exc``."""
    return unsafe_reason(path, exc) or first_line(exc)


def load_checkpoint_safely(path) -> dict:
    """``torch.load(path, weights_only=True)`` under the allow-list, returning a fairseq
    checkpoint dict; every failure is a one-line :class:`CheckpointError` naming the file
    (a truncated zip, a crafted pickle refused as unsafe, not a checkpoint...)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    allow_fairseq_checkpoints()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        unsafe = unsafe_reason(path, exc)
        raise CheckpointError(f"checkpoint {path} {unsafe}" if unsafe else
                              f"cannot read checkpoint {path}: {first_line(exc)}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a fairseq checkpoint (no model state)")
    return state
