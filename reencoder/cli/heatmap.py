"""``reencoder-heatmap``: a source x target heat-map of one quantity of the re-encoding grid.

    reencoder-heatmap --model runs/base/model --src "我们走吧。" --tgt "Let's go." \\
        --quantity target_state_change --out grid.png
    reencoder-heatmap --model DIR --src ... --tgt ... --quantity depth_gate --gate input --depth 0 --out g.png

``depth_gate`` needs a model whose depth dimension is an LSTM (``reencoder_paper``, ``reencoder``);
``reencoder_base``'s tanh depth has no gates, and the tool says so.

See :mod:`reencoder.visualize` for what the quantities measure.  ``--values FILE.json`` also
writes the matrix and the labels.
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional

from data_prep.foundation import Parser, UserError

from .common import run_main


def build_parser() -> Parser:
    from ..visualize import GATES, QUANTITIES

    p = Parser(prog="reencoder-heatmap", description="Heat-map of the teacher-forced Reencoder grid.")
    p.add_argument("--model", required=True, metavar="DIR", help="model folder (reencoder-export)")
    p.add_argument("--src", required=True, help="raw Chinese sentence")
    p.add_argument("--tgt", required=True, help="English reference (teacher forcing)")
    p.add_argument("--quantity", choices=QUANTITIES, default="target_state_change")
    p.add_argument("--gate", choices=sorted(GATES), default="forget", help="for --quantity depth_gate")
    p.add_argument("--depth", type=int, default=None, help="0-based depth layer (default: top; -1 = top)")
    p.add_argument("--out", required=True, metavar="PNG")
    p.add_argument("--values", metavar="JSON", help="also write the matrix and labels as JSON")
    p.add_argument("--font", default="auto", help="CJK font family for labels (default: search)")
    return p


def _main(argv: List[str]) -> int:
    args = build_parser().parse_args(argv)
    from ..model_folder import read_model_folder
    from ..translate import load_model_folder
    from ..visualize import grid_heatmap, plot_heatmap

    read_model_folder(args.model)
    translator = load_model_folder(args.model, beam=1)
    try:
        heat = grid_heatmap(translator, args.src, args.tgt, args.quantity, depth=args.depth, gate=args.gate)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        plot_heatmap(heat, args.out, font=args.font)
    except OSError as exc:
        raise UserError(f"cannot write {args.out} ({exc.strerror or exc})") from None
    if args.values:
        payload = {"quantity": heat.quantity, "depth": heat.depth, "src_labels": heat.src_labels,
                   "tgt_labels": heat.tgt_labels, "values": heat.values.tolist(), **heat.meta}
        with open(args.values, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False, indent=1)
    rows, cols = heat.values.shape
    print(f"wrote {args.out}: {rows} source x {cols} target pieces, {heat.quantity}, depth {heat.depth}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
