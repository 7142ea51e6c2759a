"""``reencoder-source-reliance``: per-target-position NLL with each sentence's own source
against another sentence's source (see :mod:`reencoder.source_reliance`).

    reencoder-source-reliance --checkpoint runs/demo/reencoder/ckpt/checkpoint_last.pt \\
        --data work/data/tatoeba/bin --subset valid --json runs/demo/reencoder/source_reliance.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

from data_prep.foundation import Parser, UserError, positive_int

from .common import run_main


def _main(argv: List[str]) -> int:
    p = Parser(prog="reencoder-source-reliance",
               description="How much a translation model reads its source, position by position.")
    p.add_argument("--checkpoint", required=True, metavar="PT", help="fairseq checkpoint of a translation model")
    p.add_argument("--data", required=True, metavar="DIR", help="its binarized data (DATA/bin of reencoder-data)")
    p.add_argument("--subset", default="valid", help="binarized subset to score (default %(default)s)")
    p.add_argument("--positions", type=positive_int, default=8, help="positions listed; the last one pools the rest")
    p.add_argument("--max-tokens", type=positive_int, default=2048)
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = p.parse_args(argv)
    data = Path(args.data)
    if not (data / "dict.en.txt").is_file() and (data / "bin" / "dict.en.txt").is_file():
        data = data / "bin"  # a data_prep folder
    if not data.is_dir():
        raise UserError(f"data folder {data} does not exist")
    if not list(data.glob(f"{args.subset}.*.idx")):
        raise UserError(f"{data} has no binarized '{args.subset}' subset")

    from ..loading import load_checkpoint_models
    from ..source_reliance import format_table, measure

    models, task = load_checkpoint_models(args.checkpoint, data)  # one-line error for a bad file
    result = measure(models[0], task, args.subset, args.positions, args.max_tokens)
    print(f"{args.checkpoint} on {data} {args.subset}: {result.sentences} sentences, NLL in bits per target token")
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
