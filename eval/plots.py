"""One PNG: BLEU per system with 95 % bootstrap CIs, and BLEU by source-length bucket."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

from .scoring import Evaluation  # noqa: E402


def plot_bleu(evaluation: Evaluation, path: str | Path) -> Path:
    """Left: corpus BLEU per system, error bars = sacrebleu's 95 % CI (around the bootstrap
    mean). Right: BLEU per source-length bucket, one line per system."""
    path = Path(path)
    systems = evaluation.systems
    names = [s.name for s in systems]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = range(len(systems))
    left.bar(xs, [s.bleu for s in systems], color=[f"C{i}" for i in xs])
    left.errorbar(xs, [s.bleu_mean for s in systems], yerr=[s.bleu_ci for s in systems],
                  fmt="none", ecolor="black", capsize=5)
    left.set_xticks(list(xs), names, rotation=20, ha="right")
    left.set_ylabel("BLEU")
    left.set_title(f"Corpus BLEU, {evaluation.n_refs} refs (95% CI)")

    labels = list(evaluation.bucket_sizes)
    for i, s in enumerate(systems):
        right.plot(range(len(labels)), [s.buckets.get(b, 0.0) for b in labels], marker="o",
                   color=f"C{i}", label=s.name)
    right.set_xticks(range(len(labels)), [f"{b}\n(n={evaluation.bucket_sizes[b]})" for b in labels])
    right.set_xlabel(f"source length ({evaluation.bucket_unit})")
    right.set_ylabel("BLEU")
    right.set_title("BLEU by source length")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
