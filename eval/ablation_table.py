"""The ablation table: one row per trained variant, from the files its recipe wrote.

    python -m eval.ablation_table --runs runs/ablation paper attn lstm --out runs/ablation/table.md

Each variant folder ``RUNS/NAME`` holds ``train.log`` (fairseq-train ``--log-file``),
``dev.eval/results.json`` (``reencoder-eval --prefix dev``) and ``reliance.json``
(``reencoder-source-reliance --json``).  Columns: parameters, updates, training seconds per
update (fairseq's ``train_wall``, summed over its epoch records), dev NLL (the last ``valid``
``nll_loss``, bits per token), dev BLEU (beam search, all dev references), and source
reliance: how many bits per token a wrong source (another dev sentence's) costs at target
position 0, 1–3 and 4+ (token-weighted), the larger the more the model reads its source.
Reads text and JSON files only; never loads a model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

from .fairseq_log import log_records, parameter_count

RELIANCE_SPANS = (("0", 0, 1), ("1–3", 1, 4), ("4+", 4, 10 ** 9))


def reliance_gaps(reliance: Dict) -> Dict[str, float]:
    """Token-weighted ``other − own`` NLL (bits) per span of target positions."""
    out = {}
    for label, lo, hi in RELIANCE_SPANS:
        rows = [r for r in reliance["per_position"] if lo <= r["position"] < hi and r["tokens"]]
        tokens = sum(r["tokens"] for r in rows)
        out[label] = sum((r["other"] - r["own"]) * r["tokens"] for r in rows) / tokens if tokens else float("nan")
    return out


def training_summary(log_text: str) -> Dict[str, Optional[float]]:
    """Updates, training seconds, seconds per update and the last dev NLL of a fairseq-train log."""
    train_wall, updates, dev_nll, dev_loss = 0.0, 0, None, None
    for tag, fields in log_records(log_text):
        if tag == "train":
            train_wall += fields.get("train_wall", 0.0)
            updates = max(updates, int(fields.get("num_updates", 0)))
        elif tag == "valid" and "nll_loss" in fields:
            dev_nll, dev_loss = fields["nll_loss"], fields.get("loss")
    return {"updates": updates, "train_seconds": train_wall,
            "seconds_per_update": train_wall / updates if updates else None,
            "dev_nll": dev_nll, "dev_loss": dev_loss, "parameters": parameter_count(log_text)}


def variant_row(folder: Path) -> Dict:
    """Everything the table shows about one variant folder; a missing file is a clear error."""
    need = {"log": folder / "train.log", "eval": folder / "dev.eval" / "results.json",
            "reliance": folder / "reliance.json"}
    for path in need.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (did the ablation recipe finish this variant?)")
    row = {"name": folder.name, **training_summary(need["log"].read_text(encoding="utf-8"))}
    evaluation = json.loads(need["eval"].read_text(encoding="utf-8"))["systems"][0]
    row["dev_bleu"], row["dev_chrf"] = evaluation["bleu"], evaluation["chrf"]
    row["reliance"] = reliance_gaps(json.loads(need["reliance"].read_text(encoding="utf-8")))
    command = folder / "command.txt"
    row["command"] = command.read_text(encoding="utf-8").strip() if command.is_file() else None
    return row


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def markdown(rows: List[Dict]) -> str:
    lines = ["| variant | params | updates | s / update | dev NLL | dev BLEU | reliance 0 | 1–3 | 4+ |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        rel = r["reliance"]
        lines.append(f"| {r['name']} | {_fmt(r['parameters'], ',')} | {r['updates']:,} "
                     f"| {_fmt(r['seconds_per_update'], '.3f')} | {_fmt(r['dev_nll'], '.3f')} | {r['dev_bleu']:.2f} | "
                     + " | ".join(f"{rel[label]:.2f}" for label, _, _ in RELIANCE_SPANS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.ablation_table", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", required=True, help="folder holding one sub-folder per variant")
    parser.add_argument("variants", nargs="+", help="variant names (sub-folders of --runs), in table order")
    parser.add_argument("--out", help="write the Markdown table here (and results.json beside it)")
    args = parser.parse_args(argv)
    try:
        rows = [variant_row(Path(args.runs) / name) for name in args.variants]
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = markdown(rows)
    print(table, end="")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table, encoding="utf-8")
        (out.parent / "results.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
