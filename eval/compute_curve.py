"""Quality against compute: each system's BLEU after full runs of several wall-clock budgets, a
fitted curve per system, and the compute it would need to reach a target BLEU.

    python -m eval.compute_curve runs/tvsub20 runs/tvsub60 --systems reencoder lstm \\
        --target 31.8 --out runs/compute

Each argument is a ``recipes/tvsub.sh`` run folder (``RUNS``): per system its ``training.json``
(minutes trained, sentences seen), the chosen decoding (``decoding.txt``) and that decoding's
dev score (``NAME/dev/eval/results.json``), and the test score (``eval/results.json``).  The
metric is BLEU (tok, lc) where the run scored it (``--tok-bleu``), else sacrebleu's BLEU.

**The fit** (per system, on test BLEU): ``BLEU = a + b ln(x)`` by least squares, for ``x`` =
minutes of training and, separately, ``x`` = sentences seen; the compute for ``--target`` is
``exp((target - a) / b)``.  It is a description of the measured range, not a law: BLEU
saturates, so the extrapolation is an optimistic (early) estimate when the target lies far
beyond the measured budgets, and with two budgets the line passes through both points exactly.
Outputs ``points.json``, ``table.md`` and ``curve.png`` (BLEU against minutes and against
sentences, log axes, test solid and dev dashed, the fitted lines dotted).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from data_prep.foundation import Parser, UserError, run_main

from .pick import read_results


def metric_of(entry: dict) -> float:
    """BLEU (tok, lc) where the run scored it, else sacrebleu's BLEU."""
    return entry["tok_bleu"] if entry.get("tok_bleu") is not None else entry["bleu"]


def system_entry(results: dict, name: str, source: Path) -> dict:
    for entry in results.get("systems") or []:
        if entry["name"] == name:
            return entry
    raise UserError(f"{source}: no system {name!r}")


def decoding_tag(path: Path) -> str:
    """``bBEAM_lpLENPEN`` of a ``decoding.txt`` (``--beam B --lenpen L``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{path}: cannot read the chosen decoding ({e})") from None
    found = re.fullmatch(r"\s*--beam (\d+) --lenpen ([0-9.]+)\s*", text)
    if not found:
        raise UserError(f"{path}:1: expected '--beam N --lenpen X', got {text.strip()!r}")
    return f"b{found.group(1)}_lp{found.group(2)}"


def read_point(run: Path, system: str) -> dict:
    """One system of one run: minutes, sentences, updates, budget, dev and test BLEU."""
    training_path = run / system / "training.json"
    try:
        training = json.loads(training_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"{training_path}: cannot read the training record ({e})") from None
    test_path = run / "eval" / "results.json"
    dev_path = run / system / "dev" / "eval" / "results.json"
    tag = decoding_tag(run / system / "decoding.txt")
    return {"run": str(run), "system": system, "budget": training.get("budget"),
            "minutes": training["train_seconds"] / 60, "sentences": training["sentences"],
            "updates": training["updates"], "decoding": tag,
            "dev": metric_of(system_entry(read_results(dev_path), tag, dev_path)),
            "test": metric_of(system_entry(read_results(test_path), system, test_path))}


def fit_log_linear(xs: Sequence[float], ys: Sequence[float]) -> Optional[Dict[str, float]]:
    """``{"a", "b"}`` of ``y = a + b ln(x)`` by least squares; None below two distinct x."""
    logs = [math.log(x) for x in xs]
    if len(set(logs)) < 2:
        return None
    mean_l, mean_y = sum(logs) / len(logs), sum(ys) / len(ys)
    b = sum((lx - mean_l) * (y - mean_y) for lx, y in zip(logs, ys)) / sum((lx - mean_l) ** 2 for lx in logs)
    return {"a": mean_y - b * mean_l, "b": b}


def needed(fit: Optional[Dict[str, float]], target: float) -> Optional[float]:
    """The x at which the fitted line reaches ``target`` (None if it never rises)."""
    if fit is None or fit["b"] <= 0:
        return None
    return math.exp((target - fit["a"]) / fit["b"])


def fits(points: List[dict], target: float) -> Dict[str, dict]:
    """Per system: the fits against minutes and sentences, and the compute each puts at ``target``."""
    out = {}
    for system in dict.fromkeys(p["system"] for p in points):
        mine = [p for p in points if p["system"] == system]
        ys = [p["test"] for p in mine]
        by_minutes = fit_log_linear([p["minutes"] for p in mine], ys)
        by_sentences = fit_log_linear([p["sentences"] for p in mine], ys)
        out[system] = {"points": len(mine), "minutes": by_minutes, "sentences": by_sentences,
                       "minutes_to_target": needed(by_minutes, target),
                       "sentences_to_target": needed(by_sentences, target)}
    return out


def table(points: List[dict], fitted: Dict[str, dict], target: float) -> str:
    rows = ["| system | budget | train min | updates | sentences | decoding | dev BLEU | test BLEU |",
            "|---|---|---:|---:|---:|---|---:|---:|"]
    for p in sorted(points, key=lambda p: (p["system"], p["minutes"])):
        rows.append(f"| {p['system']} | {p['budget']} | {p['minutes']:.1f} | {p['updates']:,} | {p['sentences']:,} "
                    f"| {p['decoding']} | {p['dev']:.2f} | {p['test']:.2f} |")
    rows += ["", f"Fit BLEU = a + b ln(x) on test; x at which it reaches {target}:", "",
             "| system | points | b per e-fold of minutes | minutes to target | b per e-fold of sentences "
             "| sentences to target |", "|---|---:|---:|---:|---:|---:|"]
    for system, f in fitted.items():
        def show(fit, value, fmt):
            return ("n/a", "n/a") if fit is None else (f"{fit['b']:.2f}", "never" if value is None else fmt(value))
        b_min, t_min = show(f["minutes"], f["minutes_to_target"], lambda v: f"{v:,.0f}")
        b_sen, t_sen = show(f["sentences"], f["sentences_to_target"], lambda v: f"{v:,.3g}")
        rows.append(f"| {system} | {f['points']} | {b_min} | {t_min} | {b_sen} | {t_sen} |")
    return "\n".join(rows) + "\n"


def plot(points: List[dict], fitted: Dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], "minutes", "minutes of training (one thread)"),
                           (axes[1], "sentences", "training sentences seen")):
        for i, system in enumerate(fitted):
            mine = sorted((p for p in points if p["system"] == system), key=lambda p: p[key])
            xs = [p[key] for p in mine]
            ax.plot(xs, [p["test"] for p in mine], marker="o", color=f"C{i}", label=f"{system} test")
            ax.plot(xs, [p["dev"] for p in mine], marker="s", ls="--", color=f"C{i}", alpha=0.6, label=f"{system} dev")
            fit = fitted[system][key]
            if fit is not None:
                grid = [xs[0] * (xs[-1] / xs[0]) ** (k / 20) for k in range(21)]
                ax.plot(grid, [fit["a"] + fit["b"] * math.log(x) for x in grid], ls=":", color=f"C{i}")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("BLEU (tok, lc)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("TVsub test (3 refs) and dev (1 ref) BLEU against compute")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _main(argv: List[str]) -> int:
    p = Parser(prog="python -m eval.compute_curve", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="recipes/tvsub.sh run folders (RUNS), one per budget")
    p.add_argument("--systems", nargs="+", default=["reencoder", "lstm"])
    p.add_argument("--target", type=float, default=31.8, help="BLEU to extrapolate to (default: the paper's RNN)")
    p.add_argument("--out", required=True, help="folder for points.json, table.md, curve.png")
    args = p.parse_args(argv)
    points = [read_point(Path(run), system) for run in args.runs for system in args.systems]
    fitted = fits(points, args.target)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "points.json").write_text(json.dumps({"points": points, "fits": fitted, "target": args.target},
                                                indent=1), encoding="utf-8")
    text = table(points, fitted, args.target)
    (out / "table.md").write_text(text, encoding="utf-8")
    plot(points, fitted, out / "curve.png")
    print(text, end="")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
