"""``reencoder-export``: turn a training checkpoint into a self-contained model folder.

    reencoder-export --checkpoint runs/base/checkpoint_best.pt --data work/data/tatoeba --out runs/base/model

The folder (see :mod:`reencoder.model_folder`) is what ``reencoder-translate --model`` and
``reencoder-heatmap --model`` read.  It is written atomically, replacing an older one.
"""

from __future__ import annotations

import sys
from typing import List, Optional

from data_prep.foundation import Parser

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
    return p


def _main(argv: List[str]) -> int:
    args = build_parser().parse_args(argv)
    from ..model_folder import export_model_folder

    out = export_model_folder(args.checkpoint, args.data, args.out, strip_optimizer=not args.keep_optimizer,
                              t2s=args.t2s)
    print(f"wrote model folder {out}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
