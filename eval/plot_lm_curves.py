"""Plot validation bits per character over updates from fairseq-train logs.

Usage: ``python -m eval.plot_lm_curves --out valid_bpc.png grid_lstm_lm=train_grid.log lstm_lm=train_lstm.log``

fairseq's ``cross_entropy`` criterion logs the loss in base 2 per token; with one token per
character (``recipes/char_lm.py``) that is bits per character.  The validation records of
``--log-format simple`` / ``json`` logs are read by :func:`eval.fairseq_log.valid_curve`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from eval.fairseq_log import valid_curve


def plot(curves: Dict[str, List[Tuple[int, float]]], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, pts in curves.items():
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o", markersize=3, label=f"{name} (last {ys[-1]:.3f})")
    ax.set_xlabel("updates")
    ax.set_ylabel("validation bits per character")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv=None) -> Dict[str, List[Tuple[int, float]]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="NAME=LOG", help="a label and a fairseq-train log")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--subset", default="valid")
    p.add_argument("--title", default="Character LM: Grid LSTM vs stacked LSTM")
    opts = p.parse_args(argv)
    curves = {}
    for run in opts.runs:
        name, sep, path = run.partition("=")
        if not sep:
            p.error(f"expected NAME=LOG, got {run!r}")
        curves[name] = valid_curve(Path(path).read_text(encoding="utf-8"), opts.subset)
        if not curves[name]:
            print(f"warning: no validation lines in {path}", file=sys.stderr)
    plot(curves, opts.out, opts.title)
    for name, pts in curves.items():
        print(f"{name}: " + ", ".join(f"{u}:{v:.3f}" for u, v in pts))
    print(f"wrote {opts.out}")
    return curves


if __name__ == "__main__":
    main()
