"""What the Grid-LSTM-vs-stacked-LSTM recipes share (``char_lm.py``, ``algo.py``): running the
venv's fairseq console scripts, counting a model's parameters the way ``fairseq-train`` builds
it, and giving fairseq's ``lstm_lm`` the hidden size whose parameter count is closest to a
target (the Grid LSTM paper compares its grids with stacked LSTMs of the same size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "reencoder"
BIN = Path(sys.executable).parent


def cli(name: str, *args, log: Path = None, env=None, wait=True):
    """Run a console script of the venv under ``nice``; output to ``log`` (or captured)."""
    cmd = ["nice", str(BIN / name), *map(str, args)]
    print("$", " ".join(cmd[1:]), flush=True)
    out = open(log, "w") if log else subprocess.PIPE
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    if log:
        out.close()  # the child holds its own descriptor
    if not wait:
        return proc
    text, _ = proc.communicate()
    if proc.returncode != 0:
        tail = log.read_text()[-3000:] if log else text[-3000:]
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{tail}")
    return log.read_text() if log else text


def count_params(task_args: Sequence, arch_args: Sequence) -> int:
    """Build the model the way fairseq-train does (``task_args``: data and ``--task ...``) and
    count its parameters."""
    import logging

    from reencoder.loading import build_model

    logging.getLogger("fairseq").setLevel(logging.WARNING)
    _args, _task, model = build_model([*task_args, "--cpu", *arch_args])
    return sum(p.numel() for p in model.parameters())


def lstm_args(hidden: int, depth: int) -> list:
    """fairseq's ``lstm_lm`` with embedding = hidden = output size (as the plugin's
    ``stacked_lstm_lm``: the same model, its output layer's init a flag)."""
    return ["--arch", "stacked_lstm_lm", "--decoder-layers", str(depth), "--decoder-embed-dim", str(hidden),
            "--decoder-hidden-size", str(hidden), "--decoder-out-embed-dim", str(hidden)]


def matched_lstm_hidden(task_args: Sequence, target: int, depth: int) -> int:
    """The ``lstm_lm`` hidden size whose parameter count is closest to ``target`` (it grows
    monotonically with the hidden size: binary search)."""
    count = lambda hidden: count_params(task_args, lstm_args(hidden, depth))  # noqa: E731
    lo, hi = 1, 4096
    while lo < hi:  # first hidden size with count >= target
        mid = (lo + hi) // 2
        if count(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    below, above = count(max(lo - 1, 1)), count(lo)
    return lo - 1 if lo > 1 and target - below < above - target else lo
