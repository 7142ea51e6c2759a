"""The comparison as a Markdown table (with sacrebleu's signatures) and as JSON."""
from __future__ import annotations

import json
from pathlib import Path

from .scoring import Evaluation


def _p(value) -> str:
    return "baseline" if value is None else (f"{value:.4f}" + (" *" if value < 0.05 else ""))


def markdown_table(evaluation: Evaluation) -> str:
    """A Markdown table, one row per system (baseline first), then the signatures.

    CIs are sacrebleu's: mean of 1000 bootstrap resamples ± half-width of the 95 % interval;
    p is the paired-bootstrap p-value against the baseline (``*``: p < 0.05).
    """
    lines = [
        f"Scored: {evaluation.n_lines} sentences, {evaluation.n_refs} reference files "
        f"({evaluation.references[0]} ..); baseline: {evaluation.baseline}",
        "",
        "| System | BLEU | BLEU 95% CI | p (BLEU) | chrF | chrF 95% CI | p (chrF) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in evaluation.systems:
        lines.append(f"| {s.name} | {s.bleu:.2f} | {s.bleu_mean:.2f} ± {s.bleu_ci:.2f} | {_p(s.p_bleu)} "
                     f"| {s.chrf:.2f} | {s.chrf_mean:.2f} ± {s.chrf_ci:.2f} | {_p(s.p_chrf)} |")
    trained = [s for s in evaluation.systems if s.training]
    if trained:
        lines += ["", "How each system was trained (wall clock of its training runs; commands below):", "",
                  "| System | budget | train min | updates | epochs | threads | params | last dev loss |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for s in trained:
            t = s.training
            params = "" if t.get("params") is None else f"{t['params']:,}"
            loss = "" if t.get("last_dev_loss") is None else f"{t['last_dev_loss']:.3f}"
            lines.append(f"| {s.name} | {t.get('budget', '')} | {t.get('train_seconds', 0) / 60:.1f} | {t.get('updates', '')} | "
                         f"{t.get('epochs', '')} | {t.get('threads', '')} | {params} | {loss} |")
        lines.append("")
        lines += [f"* {s.name}: `{s.training.get('command', '')}`" for s in trained]
    labels = list(evaluation.bucket_sizes)
    lines += ["", f"BLEU by source length ({evaluation.bucket_unit}; sentences per bucket in brackets):", "",
              "| System | " + " | ".join(f"{b} ({evaluation.bucket_sizes[b]})" for b in labels) + " |",
              "|---|" + "---:|" * len(labels)]
    for s in evaluation.systems:
        lines.append(f"| {s.name} | " + " | ".join(f"{s.buckets.get(b, 0.0):.2f}" for b in labels) + " |")
    lines += ["", f"BLEU signature: `{evaluation.bleu_signature}`",
              f"chrF signature: `{evaluation.chrf_signature}`", ""]
    return "\n".join(lines)


def write_reports(evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write ``table.md`` and ``results.json`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"table": out_dir / "table.md", "json": out_dir / "results.json"}
    paths["table"].write_text(markdown_table(evaluation), encoding="utf-8")
    paths["json"].write_text(json.dumps(evaluation.to_dict(), indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    return paths
