"""The best system of a ``reencoder-eval`` results.json: its name, for a recipe to read.

    python -m eval.pick runs/tvsub/lstm/dev/results.json --metric tok_bleu

ranks every system by ``--metric`` (``bleu``, default, or ``tok_bleu`` of ``--tok-bleu``), ties
broken by chrF, and prints the winner's name (recipes/tvsub.sh: beam size and length penalty on dev).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

from data_prep.foundation import Parser, UserError, run_main


def best_system(results: dict, metric: str = "bleu", source: str = "results.json") -> str:
    """The name of the system with the highest ``metric`` (then chrF); the first of equals."""
    systems = results.get("systems") or []
    if not systems:
        raise UserError(f"{source}: no systems")
    missing = [s["name"] for s in systems if s.get(metric) is None]
    if missing:
        raise UserError(f"{source}: system {missing[0]!r} has no {metric} score")
    return max(systems, key=lambda s: (s[metric], s["chrf"]))["name"]


def read_results(path: str | Path) -> dict:
    """A ``reencoder-eval`` results.json; a missing or broken file is one UserError naming it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read results ({e})") from None


def _main(argv: List[str]) -> int:
    p = Parser(prog="python -m eval.pick", description=__doc__.splitlines()[0])
    p.add_argument("results", help="reencoder-eval's results.json")
    p.add_argument("--metric", choices=("bleu", "tok_bleu"), default="bleu")
    args = p.parse_args(argv)
    print(best_system(read_results(args.results), args.metric, args.results))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
