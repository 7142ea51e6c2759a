"""Plot the algorithmic-task comparison of ``recipes/algo.py`` (Grid LSTM paper §4).

Usage: ``python eval/plot_algo_curves.py work/algo/results.json --out work/algo/accuracy.png``

One row per task: on the left held-out exact-sequence accuracy against training samples seen
(tied grid solid, stacked LSTM dashed, one colour per depth), on the right the last held-out
accuracy against depth for both models.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

STYLE = {"grid": ("-", "o", "tied Grid LSTM"), "lstm": ("--", "s", "stacked LSTM"),
         "ffn": (":", "^", "ReLU feed-forward")}


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = results["tasks"]
    fig, axes = plt.subplots(len(tasks), 2, figsize=(11, 3.8 * len(tasks)), squeeze=False)
    depths = sorted({r["depth"] for runs in tasks.values() for r in runs})
    for (task, runs), (curves, by_depth) in zip(tasks.items(), axes):
        for r in runs:
            line, marker, label = STYLE[r["model"]]
            xs, ys = zip(*r["seq_acc"])
            curves.plot(xs, ys, line, marker=marker, markersize=3, color=f"C{depths.index(r['depth'])}",
                        label=f"{label}, depth {r['depth']}")
        curves.set_xlabel("training samples seen")
        curves.set_ylabel("held-out exact accuracy (%)")
        curves.set_title(f"{task}: accuracy vs samples")
        curves.set_ylim(-3, 103)
        curves.grid(alpha=0.3)
        curves.legend(fontsize=7)
        for model, (line, marker, label) in STYLE.items():
            pts = sorted((r["depth"], r["seq_acc"][-1][1]) for r in runs if r["model"] == model)
            if pts:
                by_depth.plot(*zip(*pts), line, marker=marker, color="C0" if model == "grid" else "C3", label=label)
        last = max(s for r in runs for s, _ in r["seq_acc"])
        by_depth.set_xlabel("depth (layers)")
        by_depth.set_ylabel("held-out exact accuracy (%)")
        by_depth.set_title(f"{task}: accuracy after {last:,} samples vs depth")
        by_depth.set_xticks(depths)
        by_depth.set_ylim(-3, 103)
        by_depth.grid(alpha=0.3)
        by_depth.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, help="results.json of recipes/algo.py")
    p.add_argument("--out", type=Path, required=True)
    opts = p.parse_args(argv)
    try:
        results = json.loads(opts.results.read_text(encoding="utf-8"))
        if not results["tasks"]:
            raise KeyError("tasks")
    except (OSError, ValueError, KeyError) as err:
        p.exit(2, f"error: cannot read {opts.results} as results of recipes/algo.py ({type(err).__name__}: {err})\n")
    plot(results, opts.out)
    print(f"wrote {opts.out}")


if __name__ == "__main__":
    main()
