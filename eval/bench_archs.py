"""Cost per update of whole models, relative to the paper's layout (part of ``make bench``).

    python -m eval.bench_archs --data work/data/tatoeba --out runs/bench/archs.json

Times a full training step (forward, label-smoothed loss, backward; no optimizer) of every
named Reencoder architecture and of fairseq's ``lstm`` and ``transformer`` as the demo builds
them, on the same real Tatoeba batches at the demo's batch size (512 tokens), in interleaved
rounds (the best round counts: the development VM is noisy; more rounds until every row
settles, :mod:`eval.rounds`), with the threads torch has
once per thread count of ``--threads`` (the demo trains each system with one thread per
core).  Prints seconds per step, the ratio to ``reencoder_paper`` and each thread count's
speed-up over one thread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

import torch

from .bench import build, params, real_batches, time_train_step, write_json
from .rounds import Rounds

# name -> (arch, extra flags): the demo's systems (recipes/lib.sh has the same baseline flags)
SYSTEMS: Dict[str, List[str]] = {
    "reencoder_paper": ["--arch", "reencoder_paper"],
    "reencoder_base": ["--arch", "reencoder_base", "--grid-bf16", "never", "--output-layer-bf16", "never",
                       "--output-layer-bf16-grads", "never", "--output-layer-bf16-inputs", "never"],
    # the demo's Reencoder where bf16 is native (what its `auto` defaults pick there): the grid's GEMMs
    # and the output layer's backward in bf16, its forward on bf16 inputs with fp32 sums
    "reencoder_base_bf16_inputs": ["--arch", "reencoder_base", "--grid-bf16", "always", "--output-layer-bf16", "never",
                                   "--output-layer-bf16-grads", "always", "--output-layer-bf16-inputs", "always"],
    # the same with the output layer's forward in fp32 (the demo's Reencoder before --output-layer-bf16-inputs)
    "reencoder_base_bf16_grads": ["--arch", "reencoder_base", "--grid-bf16", "always", "--output-layer-bf16", "never",
                                  "--output-layer-bf16-grads", "always", "--output-layer-bf16-inputs", "never"],
    # the same without the readout's source words (the demo's Reencoder before they became its default)
    "reencoder_base_bf16_grads_no_source_words": ["--arch", "reencoder_base", "--grid-bf16", "always",
                                                  "--output-layer-bf16", "never", "--output-layer-bf16-grads", "always",
                                                  "--output-layer-bf16-inputs", "never", "--grid-readout-no-source-words"],
    # the grid's and the output layer's GEMMs in bf16, forward and backward
    "reencoder_base_bf16": ["--arch", "reencoder_base", "--grid-bf16", "always", "--output-layer-bf16", "always"],
    # bf16 in the grid only (the demo's Reencoder before --output-layer-bf16-grads)
    "reencoder_base_bf16_grid": ["--arch", "reencoder_base", "--grid-bf16", "always", "--output-layer-bf16", "never",
                                 "--output-layer-bf16-grads", "never", "--output-layer-bf16-inputs", "never"],
    # the previous demo Reencoder: the full LSTM block (unshared dims, LSTM depth) at 96 units
    "base_lstm_cell_n96": ["--arch", "reencoder_base", "--grid-hidden-size", "96", "--grid-unshared-dims",
                           "--grid-depth-transform", "lstm"],
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
    ap.add_argument("--rounds", type=int, default=3, help="rounds at least (eval/rounds.py: more until every row settles)")
    ap.add_argument("--max-rounds", type=int, help="rounds at most (default: twice --rounds)")
    ap.add_argument("--threads", default="1", help="comma-separated torch thread counts, e.g. 1,2")
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
    threads = [int(t) for t in args.threads.split(",")]
    rounds = Rounds(args.rounds, args.max_rounds, what="bench_archs")
    for r in rounds:
        for t in threads:
            torch.set_num_threads(t)
            for name in names:
                now = time_train_step(models[name], samples)
                best = rounds.add((name, t), now)
                print(f"round {r + 1}, {t} thread(s): {name:24s} {now:.4f} s/step (best {best:.4f})", file=sys.stderr,
                      flush=True)
    best = {key: rounds.best(key) for key in rounds.times}
    rows = []
    for t in threads:
        ref = best.get(("reencoder_paper", t))
        rows += [{"system": n, "threads": t, "params": params(models[n]), "s_per_step": best[n, t],
                  "x_reencoder_paper": best[n, t] / ref if ref else None,
                  "speedup_over_1_thread": best[n, 1] / best[n, t] if 1 in threads else None} for n in names]
    print(f"training step (forward + backward) at {args.max_tokens} tokens per batch, {len(samples)} real batches, "
          f"{rounds.summary()}")
    print(f"{'system':26s} {'threads':>7s} {'params':>10s} {'s/step':>8s} {'x paper':>8s} {'x 1 thread':>10s}")
    for row in rows:
        ratio = "" if row["x_reencoder_paper"] is None else f"{row['x_reencoder_paper']:8.2f}"
        speed = "" if row["speedup_over_1_thread"] is None else f"{row['speedup_over_1_thread']:10.2f}"
        print(f"{row['system']:26s} {row['threads']:7d} {row['params']:10,d} {row['s_per_step']:8.4f} {ratio:>8s} {speed}")
    write_json(args.out, {"threads": threads, "max_tokens": args.max_tokens, "batches": len(samples), "systems": rows,
                          **rounds.report()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
