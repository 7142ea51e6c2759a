"""What a results table needs to know about how each neural system was trained.

    python -m eval.training_info --log runs/demo/lstm/train.log --seconds-log runs/demo/lstm/train_seconds \\
        --threads 1 --command "fairseq-train ..." --out runs/demo/lstm/training.json

reads fairseq-train's log (updates, epochs, sentences seen, parameter count, last dev loss) and writes them
with the wall-clock seconds of the training invocations (one number per line of
``--seconds-log``: a resumed run counts every part), the threads and the exact command, for
``reencoder-eval --training NAME=training.json``.  ``--baseline MODEL_DIR`` writes the same facts
of a Thot model folder (its ``baseline.json``: train + tune wall time, training pairs)::

    python -m eval.training_info --baseline runs/tvsub/phrase_based/model --command "reencoder-baseline ..." --out ...
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import List, Optional

from data_prep.foundation import Parser, UserError, atomic_write_text, numbered_lines, run_main

from .fairseq_log import log_records, parameter_count


def training_info(log: str | Path, seconds: float, threads: str, command: str) -> dict:
    """The training facts of one system from its fairseq-train log."""
    path = Path(log)
    if not path.is_file():
        raise UserError(f"{path}: no such fairseq-train log")
    text = path.read_text(encoding="utf-8", errors="replace")
    updates, epochs, dev_loss, sentences, summed_to = 0, 0, None, 0.0, 0
    for tag, fields in log_records(text):
        if "num_updates" in fields:
            updates = max(updates, int(fields["num_updates"]))
        if tag == "valid" and "loss" in fields:
            dev_loss = fields["loss"]
        if tag == "train" and "epoch" in fields:
            epochs = max(epochs, int(fields["epoch"]))
        if tag == "train" and "bsz" in fields and "num_updates" in fields:
            # an epoch summary (or the summary of a run stopped mid-epoch): its mean sentences
            # per update times the updates since the previous summary
            sentences += fields["bsz"] * max(0, int(fields["num_updates"]) - summed_to)
            summed_to = int(fields["num_updates"])
    return {"train_seconds": round(seconds, 1), "updates": updates, "epochs": epochs,
            "sentences": round(sentences) if summed_to else None, "threads": threads,
            "params": parameter_count(text), "last_dev_loss": dev_loss, "budget": budget_of(command),
            "command": command}


def baseline_info(model_dir: str | Path, command: str) -> dict:
    """The training facts of a Thot model folder (``reencoder-baseline train``'s baseline.json):
    the wall time of training and dev tuning, the training pairs; no updates or parameters."""
    path = Path(model_dir) / "baseline.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        seconds, pairs = info["wall_times_s"]["train_total"], info["train_pairs"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: cannot read the baseline's training record ({e!r})") from None
    return {"train_seconds": seconds, "updates": None, "epochs": None, "sentences": pairs, "threads": "1",
            "params": None, "last_dev_loss": None, "budget": f"{pairs:,} pairs", "command": command}


def budget_of(command: str) -> str:
    """The budget a fairseq-train command sets: ``"10.0 min"`` (``--stop-time-hours``), else
    ``"N updates"`` (``--max-update`` > 0), else ``"N epochs"`` (``--max-epoch``), else ``""``."""
    words = shlex.split(command)

    def value(flag: str) -> Optional[float]:
        return float(words[words.index(flag) + 1]) if flag in words[:-1] else None

    hours, updates, epochs = value("--stop-time-hours"), value("--max-update"), value("--max-epoch")
    if hours:
        return f"{hours * 60:.1f} min"
    if updates:
        return f"{int(updates)} updates"
    return f"{int(epochs)} epochs" if epochs else ""


def summed_seconds(path: str | Path) -> float:
    """The sum of the numbers of ``path``, one per line (a line that is not one is an error)."""
    total = 0.0
    for lineno, line in numbered_lines(path):
        try:
            total += float(line)
        except ValueError:
            raise UserError(f"{path}:{lineno}: expected seconds, got {line!r}") from None
    return total


def _main(argv: List[str]) -> int:
    ap = Parser(prog="python -m eval.training_info", description=__doc__.split("\n\n")[0])
    ap.add_argument("--log", help="fairseq-train's --log-file")
    ap.add_argument("--seconds-log", help="wall-clock seconds of each training invocation, one per line")
    ap.add_argument("--threads", help="torch threads of the run (OMP_NUM_THREADS)")
    ap.add_argument("--baseline", metavar="MODEL_DIR", help="instead: a Thot model folder (its baseline.json)")
    ap.add_argument("--command", required=True, help="the exact training command")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.baseline:
        info = baseline_info(args.baseline, args.command)
    elif not (args.log and args.seconds_log and args.threads):
        ap.error("give --log, --seconds-log and --threads (a fairseq-train run) or --baseline MODEL_DIR")
    else:
        info = training_info(args.log, summed_seconds(args.seconds_log), args.threads, args.command)
    atomic_write_text(args.out, json.dumps(info, indent=2) + "\n")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
