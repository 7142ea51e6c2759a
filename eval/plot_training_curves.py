"""Training curves from fairseq-train logs: train/valid loss (and dev BLEU) over updates.

    python -m eval.plot_training_curves runs/base/train.log --out runs/base/curves.png
    python -m eval.plot_training_curves a.log b.log --labels base big --out curves.png

Reads the console output of ``fairseq-train`` or its ``--log-file`` (whose lines carry no
``| INFO | tag |`` prefix), in ``--log-format simple`` or ``json``: ``train_inner`` lines
(every ``--log-interval`` updates), the ``train`` epoch summaries and the ``valid`` lines
(loss, and ``bleu`` with ``--eval-bleu``).  Losses are fairseq's, in bits per token.  Lines of
other formats are ignored.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .fairseq_log import log_records

Curves = Dict[str, List[Tuple[int, float]]]  # series name -> [(num_updates, value)]


def parse_log(text: str) -> Curves:
    """Series ``train_inner``, ``train``, ``valid`` (losses) and ``valid_bleu`` of a log."""
    curves: Curves = defaultdict(list)
    for tag, fields in log_records(text):
        updates = fields.get("num_updates")
        if updates is None:
            continue
        if "loss" in fields:
            curves[tag].append((int(updates), fields["loss"]))
        if tag == "valid" and "bleu" in fields:
            curves["valid_bleu"].append((int(updates), fields["bleu"]))
    return dict(curves)


def plot_curves(runs: Sequence[Tuple[str, Curves]], out) -> Path:
    """One PNG: losses over updates (left) and, if any run has it, dev BLEU (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    has_bleu = any(c.get("valid_bleu") for _, c in runs)
    fig, axes = plt.subplots(1, 2 if has_bleu else 1, figsize=(11 if has_bleu else 6.5, 4.2), squeeze=False)
    loss_ax = axes[0][0]
    for index, (label, curves) in enumerate(runs):
        color = f"C{index}"
        prefix = f"{label}: " if len(runs) > 1 else ""
        if curves.get("train_inner"):
            xs, ys = zip(*curves["train_inner"])
            loss_ax.plot(xs, ys, color=color, alpha=0.45, linewidth=1, label=f"{prefix}train (interval)")
        if curves.get("train"):
            xs, ys = zip(*curves["train"])
            loss_ax.plot(xs, ys, color=color, marker="o", linestyle="--", label=f"{prefix}train (epoch)")
        if curves.get("valid"):
            xs, ys = zip(*curves["valid"])
            loss_ax.plot(xs, ys, color=color, marker="s", linewidth=2, label=f"{prefix}valid")
        if has_bleu and curves.get("valid_bleu"):
            xs, ys = zip(*curves["valid_bleu"])
            axes[0][1].plot(xs, ys, color=color, marker="s", label=f"{label}")
    loss_ax.set_xlabel("updates")
    loss_ax.set_ylabel("loss (bits/token)")
    loss_ax.set_title("Training curves")
    loss_ax.legend(fontsize=8)
    if has_bleu:
        axes[0][1].set_xlabel("updates")
        axes[0][1].set_ylabel("dev BLEU")
        axes[0][1].set_title("Dev BLEU")
        axes[0][1].legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def valid_table(runs: Sequence[Tuple[str, Curves]]) -> str:
    """Markdown table of the validation loss of every run at every validated update."""
    series = [dict(curves.get("valid", [])) for _, curves in runs]
    updates = sorted(set().union(*series))
    if not updates:
        return ""
    rows = ["| updates | " + " | ".join(f"{label} valid loss" for label, _ in runs) + " |",
            "|---:|" + "---:|" * len(runs)]
    for u in updates:
        rows.append(f"| {u} | " + " | ".join(f"{s[u]:.3f}" if u in s else "" for s in series) + " |")
    return "\n".join(rows)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.plot_training_curves", description=__doc__.split("\n")[0])
    parser.add_argument("logs", nargs="+", help="fairseq-train logs (simple or json format)")
    parser.add_argument("--labels", nargs="+", help="one label per log (default: file names)")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.logs):
        parser.error("give one --labels entry per log")
    runs = []
    for index, log in enumerate(args.logs):
        try:
            text = Path(log).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            print(f"error: cannot read {log} ({exc.strerror})", file=sys.stderr)
            return 2
        curves = parse_log(text)
        if not curves:
            print(f"error: {log} has no fairseq train/valid log lines", file=sys.stderr)
            return 2
        runs.append((args.labels[index] if args.labels else Path(log).name, curves))
    plot_curves(runs, args.out)
    table = valid_table(runs)
    if table:
        print(table)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
