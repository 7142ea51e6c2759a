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
        "", *_score_rows(evaluation), *_training_rows(evaluation)]
    labels = list(evaluation.bucket_sizes)
    lines += ["", f"BLEU by source length ({evaluation.bucket_unit}; sentences per bucket in brackets):", "",
              "| System | " + " | ".join(f"{b} ({evaluation.bucket_sizes[b]})" for b in labels) + " |",
              "|---|" + "---:|" * len(labels)]
    for s in evaluation.systems:
        lines.append(f"| {s.name} | " + " | ".join(f"{s.buckets.get(b, 0.0):.2f}" for b in labels) + " |")
    detok = " (references detokenized by sacremoses)" if evaluation.refs_detokenized else ""
    lines += ["", f"BLEU signature{detok}: `{evaluation.bleu_signature}`",
              f"chrF signature{detok}: `{evaluation.chrf_signature}`"]
    if evaluation.tok_bleu_signature:
        lines.append("BLEU (tok, lc) signature (hypotheses Moses-tokenized with `@-@` hyphens and lowercased, "
                     f"against the references as given): `{evaluation.tok_bleu_signature}`")
    return "\n".join(lines + [""])


def _fact(training: dict, key: str, form: str = "{}") -> str:
    """One training fact as a cell: empty when it is not known (e.g. a phrase-based system's updates)."""
    value = training.get(key)
    return "" if value is None else form.format(value)


def _score_rows(evaluation: Evaluation) -> list[str]:
    """The scores table: BLEU (tok, lc) first when it was computed, then BLEU and chrF."""
    tok = evaluation.tok_bleu_signature is not None
    head = "| System | " + ("BLEU (tok, lc) | 95% CI | p |" if tok else "")
    head += " BLEU | BLEU 95% CI | p (BLEU) | chrF | chrF 95% CI | p (chrF) |"
    rows = [head, "|---|" + "---:|" * (9 if tok else 6)]
    for s in evaluation.systems:
        cells = [s.name]
        if tok:
            cells += [f"{s.tok_bleu:.2f}", f"{s.tok_bleu_mean:.2f} ± {s.tok_bleu_ci:.2f}", _p(s.p_tok_bleu)]
        cells += [f"{s.bleu:.2f}", f"{s.bleu_mean:.2f} ± {s.bleu_ci:.2f}", _p(s.p_bleu),
                  f"{s.chrf:.2f}", f"{s.chrf_mean:.2f} ± {s.chrf_ci:.2f}", _p(s.p_chrf)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _training_rows(evaluation: Evaluation) -> list[str]:
    """How each system with training facts was trained, and its exact command."""
    trained = [s for s in evaluation.systems if s.training]
    if not trained:
        return []
    rows = ["", "How each system was trained (wall clock of its training runs; commands below):", "",
            "| System | budget | train min | updates | sentences | epochs | threads | params | last dev loss |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in trained:
        t = s.training
        cells = [_fact(t, "budget"), f"{(t.get('train_seconds') or 0) / 60:.1f}", _fact(t, "updates"),
                 _fact(t, "sentences", "{:,}"), _fact(t, "epochs"), _fact(t, "threads"), _fact(t, "params", "{:,}"),
                 _fact(t, "last_dev_loss", "{:.3f}")]
        rows.append(f"| {s.name} | " + " | ".join(cells) + " |")
    return rows + [""] + [f"* {s.name}: `{s.training.get('command', '')}`" for s in trained]


def write_reports(evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write ``table.md`` and ``results.json`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"table": out_dir / "table.md", "json": out_dir / "results.json"}
    paths["table"].write_text(markdown_table(evaluation), encoding="utf-8")
    paths["json"].write_text(json.dumps(evaluation.to_dict(), indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    return paths
