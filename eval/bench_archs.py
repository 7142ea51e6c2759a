"""Cost per update of whole models, relative to the paper's layout (part of ``make bench``).

    python -m eval.bench_archs --data work/data/tatoeba --out runs/bench/archs.json

Times a full training step (forward, label-smoothed loss, backward; no optimizer) of every
named Reencoder architecture and of fairseq's ``lstm`` and ``transformer`` as the demo builds
them, on the same real Tatoeba batches at the demo's batch size (512 tokens), in interleaved
rounds (the best round counts: the development VM is noisy), with the threads torch has
(the demo trains with one).  Prints seconds per step and the ratio to ``reencoder_paper``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

import torch

from .bench import build, params, real_batches, time_train_step

# name -> (arch, extra flags): the demo's systems (recipes/lib.sh has the same baseline flags)
SYSTEMS: Dict[str, List[str]] = {
    "reencoder_paper": ["--arch", "reencoder_paper"],
    "reencoder_base": ["--arch", "reencoder_base"],
    "lstm": ["--arch", "lstm", "--encoder-embed-dim", "256", "--decoder-embed-dim", "256",
             "--decoder-out-embed-dim", "256", "--encoder-hidden-size", "256", "--decoder-hidden-size", "256",
             "--share-decoder-input-output-embed"],
    "transformer": ["--arch", "transformer", "--encoder-layers", "3", "--decoder-layers", "3",
                    "--encoder-embed-dim", "256", "--decoder-embed-dim", "256", "--encoder-ffn-embed-dim", "1024",
                    "--decoder-ffn-embed-dim", "1024", "--encoder-attention-heads", "4",
                    "--decoder-attention-heads", "4", "--share-decoder-input-output-embed"],
}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="work/data/tatoeba", help="data_prep folder (uses DATA/bin)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated names of %(default)s")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--batches", type=int, default=20, help="real batches per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="runs/bench/archs.json")
    args = ap.parse_args(argv)
    data_bin = Path(args.data) / "bin"
    names = args.systems.split(",")
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown or not (data_bin / "dict.zh.txt").exists():
        print(f"error: unknown systems {unknown}" if unknown else f"error: no binarized data in {data_bin} (run `make data`)",
              file=sys.stderr)
        return 2
    models, samples = {}, None
    for name in names:
        task, models[name] = build(data_bin, SYSTEMS[name][1], SYSTEMS[name][2:])
        samples = samples or real_batches(task, args.max_tokens, args.batches)
    best = {name: float("inf") for name in names}
    for r in range(args.rounds):
        for name in names:
            best[name] = min(best[name], time_train_step(models[name], samples))
            print(f"round {r + 1}/{args.rounds}: {name:16s} {best[name]:.4f} s/step", file=sys.stderr, flush=True)
    ref = best.get("reencoder_paper")
    rows = [{"system": n, "params": params(models[n]), "s_per_step": best[n],
             "x_reencoder_paper": best[n] / ref if ref else None} for n in names]
    print(f"training step (forward + backward) at {args.max_tokens} tokens per batch, {len(samples)} real batches, "
          f"{torch.get_num_threads()} thread(s), best of {args.rounds} rounds")
    print(f"{'system':18s} {'params':>10s} {'s/step':>8s} {'x paper':>8s}")
    for row in rows:
        ratio = "" if row["x_reencoder_paper"] is None else f"{row['x_reencoder_paper']:8.2f}"
        print(f"{row['system']:18s} {row['params']:10,d} {row['s_per_step']:8.4f} {ratio}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": torch.get_num_threads(), "max_tokens": args.max_tokens,
                               "batches": len(samples), "systems": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
