"""Average the parameters of several fairseq checkpoints (Vaswani et al. 2017 style).

fairseq's ``scripts/average_checkpoints.py`` is not part of the pip package, so the plugin
carries this small equivalent.  Checkpoints are read with torch's safe ``weights_only``
unpickler (the plugin's allow-list applies) and written back in the same format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import torch

from data_prep.foundation import UserError, atomic_path

from .checkpoint_safety import load_checkpoint_safely


class AverageError(UserError):
    """A user-facing problem with the checkpoints to average (one line)."""


def numbered_checkpoints(save_dir: Path) -> List[Path]:
    """The ``checkpoint_N_M.pt`` / ``checkpointN.pt`` files of a save dir, oldest first (by update/epoch)."""
    def key(p: Path):
        nums = [int(x) for x in p.stem.replace("checkpoint", "").split("_") if x.isdigit()]
        return nums[::-1]

    return sorted((p for p in Path(save_dir).glob("checkpoint*.pt") if any(c.isdigit() for c in p.stem)), key=key)


def last_checkpoints(save_dir: Path, n: int) -> List[Path]:
    """The ``n`` newest numbered checkpoints of a save dir."""
    found = numbered_checkpoints(save_dir)
    if len(found) < n:
        raise AverageError(f"{save_dir} has {len(found)} numbered checkpoints, {n} requested")
    return found[-n:]


def final_window(save_dir: Path, n: int) -> List[Path]:
    """``checkpoint_last.pt`` and up to ``n - 1`` numbered checkpoints saved before it, oldest first.

    A run stopped at its time budget (``--stop-time-hours``) usually ends between two
    ``--save-interval-updates`` saves: its final state is only in ``checkpoint_last.pt``.  Numbered
    checkpoints of that update or later (the same state) are left out; fewer than ``n`` in all
    when the run saved fewer.
    """
    last = Path(save_dir) / "checkpoint_last.pt"
    history = load_checkpoint_safely(last).get("optimizer_history") or [{}]
    final_update = history[-1].get("num_updates")
    if final_update is None:
        raise AverageError(f"{last} records no update count (optimizer_history)")
    before = [p for p in numbered_checkpoints(save_dir) if _update(p) < final_update]
    return (before[-(n - 1):] if n > 1 else []) + [last]


def _update(path: Path) -> int:
    """The update count in a ``checkpoint_EPOCH_UPDATE.pt`` name (0 for ``checkpointEPOCH.pt``)."""
    parts = path.stem.split("_")
    return int(parts[-1]) if len(parts) == 3 and parts[-1].isdigit() else 0


def best_window(save_dir: Path, n: int) -> List[Path]:
    """The ``n`` numbered checkpoints ending at the one with the lowest dev loss.

    A run stopped by ``--patience`` ends with checkpoints past its best; averaging its last ``n``
    would average the overfitted ones.  Each fairseq checkpoint records its dev loss in
    ``extra_state["val_loss"]``; the window is the best one and the ``n - 1`` before it (fewer
    when the best comes early; the newest of equal losses).  Needs ``--keep-interval-updates``
    >= patience + ``n``.
    """
    found = numbered_checkpoints(save_dir)
    if not found:
        raise AverageError(f"{save_dir} has no numbered checkpoints")
    losses = []
    for path in found:
        loss = (load_checkpoint_safely(path).get("extra_state") or {}).get("val_loss")
        if loss is None:
            raise AverageError(f"{path} records no dev loss (extra_state.val_loss): train with validation")
        losses.append(float(loss))
    best = min(range(len(found)), key=lambda i: (losses[i], -i))
    return found[max(0, best - n + 1): best + 1]


def average_checkpoints(paths: Sequence[Path]) -> Dict:
    """The first checkpoint's state with ``model`` replaced by the mean of all models, without
    its optimizer state and without its training clock (``extra_state.previous_training_time``):
    an average is a model, not a point in a run, and fairseq would carry that clock into a
    fine-tuning run started from it (``--finetune-from-model``), whose ``--stop-time-hours``
    would then count the first run's hours."""
    if not paths:
        raise AverageError("no checkpoints to average")
    state, total = None, None
    for path in paths:
        ckpt = load_checkpoint_safely(path)  # CheckpointError: one line naming the file
        model = ckpt["model"]
        if total is None:
            state, total = ckpt, {k: v.double().clone() if v.is_floating_point() else v for k, v in model.items()}
        else:
            if set(model) != set(total):
                raise AverageError(f"{path} has different parameters than {paths[0]}")
            for k, v in model.items():
                if v.is_floating_point():
                    total[k] += v.double()
    state["model"] = {k: (v / len(paths)).to(state["model"][k].dtype) if v.is_floating_point() else v
                      for k, v in total.items()}
    state.pop("last_optimizer_state", None)
    (state.get("extra_state") or {}).pop("previous_training_time", None)
    return state


def save_average(paths: Sequence[Path], out: Path) -> Path:
    """Write the average of ``paths`` to ``out`` atomically."""
    state = average_checkpoints(paths)
    with atomic_path(out, suffix=".pt") as tmp:
        torch.save(state, tmp)
    return Path(out)
