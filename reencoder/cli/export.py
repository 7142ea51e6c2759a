"""``reencoder-export``: turn a training checkpoint into a self-contained model folder.

    reencoder-export --checkpoint runs/base/checkpoint_best.pt --data work/data/tatoeba --out runs/base/model
    reencoder-export ... --beam 5 --lenpen 0.6     # the folder's default beam search (chosen on dev)

The folder (see :mod:`reencoder.model_folder`) is what ``reencoder-translate --model`` and
``reencoder-heatmap --model`` read.  It is written atomically, replacing an older one.
"""

from __future__ import annotations

import sys
from typing import List, Optional

from data_prep.foundation import Parser, positive_int

from .common import run_main


def build_parser() -> Parser:
    p = Parser(prog="reencoder-export", description="Write a self-contained model folder.")
    p.add_argument("--checkpoint", required=True, metavar="PT", help="fairseq checkpoint (checkpoint_best.pt)")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="prepared data folder (reencoder-data output: spm/ and bin/)")
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument("--keep-optimizer", action="store_true", help="keep the optimizer state in model.pt")
    p.add_argument("--t2s", dest="t2s", action="store_true", default=None,
                   help="inputs get Traditional->Simplified conversion (default: as the data folder)")
    p.add_argument("--no-t2s", dest="t2s", action="store_false")
    p.add_argument("--beam", type=positive_int, default=None,
                   help="the folder's default beam size for reencoder-translate (e.g. chosen on dev)")
    p.add_argument("--lenpen", type=float, default=None,
                   help="the folder's default length penalty for reencoder-translate (e.g. chosen on dev)")
    return p


def _main(argv: List[str]) -> int:
    args = build_parser().parse_args(argv)
    from ..model_folder import export_model_folder

    decoding = {key: value for key, value in (("beam", args.beam), ("lenpen", args.lenpen)) if value is not None}
    out = export_model_folder(args.checkpoint, args.data, args.out, strip_optimizer=not args.keep_optimizer,
                              t2s=args.t2s, decoding=decoding)
    print(f"wrote model folder {out}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
