"""``reencoder-average``: average the last N checkpoints of a run (or the listed ones).

    reencoder-average --save-dir runs/full/reencoder/ckpt --last 5 --out runs/full/reencoder/ckpt/checkpoint_avg.pt
"""

from __future__ import annotations

import sys
from typing import List, Optional

from data_prep.foundation import Parser, positive_int

from .common import run_main


def _main(argv: List[str]) -> int:
    p = Parser(prog="reencoder-average", description="Average fairseq checkpoints.")
    p.add_argument("--inputs", nargs="*", default=[], metavar="PT", help="checkpoints to average")
    p.add_argument("--save-dir", help="take the newest numbered checkpoints of this folder")
    p.add_argument("--last", type=positive_int, default=5, help="how many (with --save-dir)")
    p.add_argument("--out", required=True, metavar="PT")
    args = p.parse_args(argv)
    from ..checkpoint_average import last_checkpoints, save_average

    paths = last_checkpoints(args.save_dir, args.last) if args.save_dir and not args.inputs else list(args.inputs)
    out = save_average(paths, args.out)
    print(f"averaged {len(paths)} checkpoints into {out}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
