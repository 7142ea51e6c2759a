"""``reencoder-average``: average the last N checkpoints of a run (or the listed ones).

    reencoder-average --save-dir runs/full/reencoder/ckpt --last 5 --out runs/full/reencoder/ckpt/checkpoint_avg.pt
    reencoder-average --save-dir runs/full/reencoder/ckpt --last 5 --around-best --out ...   (ending at the best dev loss)
    reencoder-average --save-dir runs/tvsub/lstm/ckpt --last 5 --final --out ...   (checkpoint_last.pt and the 4 before it)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

from data_prep.foundation import Parser, positive_int

from .common import run_main


def _main(argv: List[str]) -> int:
    p = Parser(prog="reencoder-average", description="Average fairseq checkpoints.")
    p.add_argument("--inputs", nargs="*", default=[], metavar="PT", help="checkpoints to average")
    p.add_argument("--save-dir", help="take the newest numbered checkpoints of this folder")
    p.add_argument("--last", type=positive_int, default=5, help="how many (with --save-dir)")
    p.add_argument("--around-best", action="store_true",
                   help="with --save-dir: the LAST checkpoints ending at the lowest dev loss, not the newest")
    p.add_argument("--final", action="store_true",
                   help="with --save-dir: checkpoint_last.pt (the final state of a run stopped at its time "
                        "budget) and up to LAST-1 numbered checkpoints saved before it")
    p.add_argument("--out", required=True, metavar="PT")
    args = p.parse_args(argv)
    from ..checkpoint_average import best_window, final_window, last_checkpoints, save_average

    if args.save_dir and not args.inputs:
        choose = best_window if args.around_best else final_window if args.final else last_checkpoints
        paths = choose(args.save_dir, args.last)
    else:
        paths = list(args.inputs)
    out = save_average(paths, args.out)
    print(f"averaged {len(paths)} checkpoints into {out}: {' '.join(p.name for p in map(Path, paths))}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
