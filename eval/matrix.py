"""The cross-domain matrix: every system on every test set, one Markdown table.

    python -m eval.matrix --set "TVsub test=runs/tvsub/cross/tvsub/results.json" \\
        --set "Tatoeba test=runs/tvsub/cross/tatoeba/results.json" --out runs/tvsub/cross/matrix.md

reads ``reencoder-eval``'s results.json of each test set and prints one row per system (in the
order first seen), one column per set: BLEU / chrF, where BLEU is the tokenized, lowercased BLEU
when that set was scored with ``--tok-bleu`` (the column says so) and sacrebleu's 13a BLEU
otherwise; a system not scored on a set gets a dash.
"""
from __future__ import annotations

import sys
from typing import Dict, List, Optional

from data_prep.foundation import Parser, atomic_write_text, run_main

from .cli import parse_systems
from .pick import read_results


def matrix_table(sets: Dict[str, dict]) -> str:
    """The Markdown matrix of ``{set name: results}``."""
    rows: Dict[str, Dict[str, str]] = {}
    heads = []
    for name, results in sets.items():
        tokenized = results.get("tok_bleu_signature") is not None
        heads.append(f"{name} ({results.get('n_lines', '?')} lines, {results.get('n_refs', '?')} ref.; "
                     f"{'BLEU tok lc' if tokenized else 'BLEU'} / chrF)")
        for s in results.get("systems", []):
            bleu = s["tok_bleu"] if tokenized else s["bleu"]
            rows.setdefault(s["name"], {})[name] = f"{bleu:.2f} / {s['chrf']:.2f}"
    lines = ["| system | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(heads)]
    for system, cells in rows.items():
        lines.append(f"| {system} | " + " | ".join(cells.get(name, "–") for name in sets) + " |")
    return "\n".join(lines) + "\n"


def _main(argv: List[str]) -> int:
    p = Parser(prog="python -m eval.matrix", description=__doc__.splitlines()[0])
    p.add_argument("--set", action="append", default=[], required=True, metavar="NAME=RESULTS_JSON",
                   help="a test set's reencoder-eval results.json (repeatable, in column order)")
    p.add_argument("--out", help="also write the table here")
    args = p.parse_args(argv)
    sets = {name: read_results(path) for name, path in parse_systems(args.set, "--set", "RESULTS_JSON").items()}
    table = matrix_table(sets)
    if args.out:
        atomic_write_text(args.out, table)
    print(table, end="")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
