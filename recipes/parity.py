"""Recipe: the Grid LSTM paper's first algorithmic result (§4, "Parity") — a tied 1D Grid LSTM
against a feed-forward ReLU network of the same depth and parameter count, on k-bit parity.

A 1D grid is a deep network with LSTM cells along depth (:class:`reencoder.grid.grid_1d.Grid1D`);
the paper reports that tied deep 1D grids learn k-bit parity where tanh/ReLU networks of the
same depth fail.  Here, for every model and depth:

1. each learning rate of ``--lrs`` trains one run on a stream of random k-bit strings (batches
   of ``--batch-size``, Adam, gradient norm clipped at 1), evaluated every ``--eval-every``
   updates on the **tune** strings;
2. the rate with the highest mean tune accuracy over the curve is the model's own setting, and
   its curve on the **test** strings is the result.

Tune and test strings are fixed and never drawn for training: the string space is split by a
hash of the string (one in ten held out; of those, half tune and half test).
The ReLU network is tied too (one hidden matrix for every layer) and its width matched to the
grid's parameter count.  Usage: ``python recipes/parity.py [--bits 8] [--depths 2 5 10] ...``
(``make algo`` runs it after ``algo.py``).  Results: ``WORK/results.json``, ``WORK/accuracy.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from multiprocessing import get_context
from pathlib import Path

import torch
import torch.nn as nn
from lm_compare import REPO, cli  # this folder

from data_prep.foundation import Parser  # bad arguments: one "error: ..." line
from reencoder.grid.grid_1d import FeedForward, Grid1D

HELD_OUT, TUNE = 10, 20  # hash % 10 == 0: held out; % 20 == 0: tune, else test


def strings(bits: int, count: int, part: str, gen: torch.Generator) -> torch.Tensor:
    """``[count, bits]`` random bit strings (float) from one part of the space: train, tune or test."""
    weights = 2 ** torch.arange(bits, dtype=torch.int64)
    out = []
    while sum(len(x) for x in out) < count:
        x = torch.randint(0, 2, (2 * count, bits), generator=gen)
        value = (x * weights).sum(1) % 1_000_003  # a multiplicative hash of the string's value
        h = (value * 2_654_435_761 % 4_294_967_296) // 65_536
        keep = {"train": h % HELD_OUT != 0, "tune": h % TUNE == 0, "test": (h % HELD_OUT == 0) & (h % TUNE != 0)}[part]
        out.append(x[keep])
    return torch.cat(out)[:count].float()


def parity(x: torch.Tensor) -> torch.Tensor:
    return x.sum(1).long() % 2


def build(model: str, bits: int, hidden: int, depth: int) -> nn.Module:
    """The tied 1D grid, or the tied ReLU network of the closest parameter count."""
    if model == "grid":
        return Grid1D(bits, hidden, depth, tied=True)
    target = count(build("grid", bits, hidden, depth))
    width = min(range(1, 8 * hidden), key=lambda w: abs(count(FeedForward(bits, w, depth)) - target))
    return FeedForward(bits, width, depth, tied=True, activation="relu")


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def train_one(job: dict) -> dict:
    """One run: ``job`` names model, depth and lr; returns it with its tune and test curves."""
    torch.set_num_threads(1)
    torch.manual_seed(job["seed"])
    net = build(job["model"], job["bits"], job["hidden"], job["depth"])
    width = net.proj.out_features
    head = nn.Linear(width, 2)
    params = [*net.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=job["lr"])
    gen = torch.Generator().manual_seed(job["seed"])
    held = {part: strings(job["bits"], job["eval_size"], part, torch.Generator().manual_seed(7)) for part in ("tune", "test")}
    curves = {"tune": [], "test": []}
    start = time.time()
    for update in range(1, job["max_update"] + 1):
        x = strings(job["bits"], job["batch_size"], "train", gen)
        loss = nn.functional.cross_entropy(head(net(x)), parity(x))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if update % job["eval_every"] == 0:
            with torch.no_grad():
                for part, x in held.items():
                    acc = (head(net(x)).argmax(1) == parity(x)).float().mean().item()
                    curves[part].append((update * job["batch_size"], round(100 * acc, 2)))
    return dict(job, params=count(net) + count(head), width=width, train_s=round(time.time() - start, 1),
                tune=curves["tune"], seq_acc=curves["test"])


def mean(curve) -> float:
    return sum(a for _, a in curve) / len(curve)


def main(argv=None):
    p = Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=REPO / "work" / "parity")
    p.add_argument("--bits", type=int, default=12)
    p.add_argument("--depths", nargs="+", type=int, default=[2, 5, 10])
    p.add_argument("--hidden", type=int, default=64, help="the grid's n (the ReLU net's width is matched)")
    p.add_argument("--lrs", nargs="+", type=float, default=[0.001, 0.003, 0.01])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-update", type=int, default=2000)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--eval-size", type=int, default=1000, help="tune and test strings each")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--parallel", type=int, default=2)
    opts = p.parse_args(argv)
    for name in ("bits", "depths", "hidden", "batch_size", "max_update", "eval_every", "eval_size", "parallel"):
        value = getattr(opts, name)
        if min(value if isinstance(value, list) else [value]) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    if not 10 <= opts.bits <= 62:
        p.error(f"--bits must be in 10..62 (tune and test need ~100 strings of their own), got {opts.bits}")
    if opts.max_update % opts.eval_every:
        p.error(f"--max-update ({opts.max_update}) must be a multiple of --eval-every ({opts.eval_every})")
    opts.work.mkdir(parents=True, exist_ok=True)
    start = time.time()
    jobs = [dict(model=m, depth=d, lr=lr, bits=opts.bits, hidden=opts.hidden, batch_size=opts.batch_size,
                 max_update=opts.max_update, eval_every=opts.eval_every, eval_size=opts.eval_size, seed=opts.seed)
            for d in opts.depths for m in ("grid", "ffn") for lr in opts.lrs]
    runs = []
    with get_context("spawn").Pool(opts.parallel) as pool:
        for run in pool.imap_unordered(train_one, jobs):
            runs.append(run)
            print(f"[{len(runs)}/{len(jobs)}] {run['model']} depth {run['depth']} lr {run['lr']}: tune "
                  + " ".join(f"{a:.0f}" for _, a in run["tune"]) + f" ({run['train_s']:.0f} s)", flush=True)
    best = [max((r for r in runs if (r["model"], r["depth"]) == key), key=lambda r: mean(r["tune"]))
            for key in sorted({(r["model"], r["depth"]) for r in runs}, key=lambda k: (k[1], k[0]))]
    results = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
               "tasks": {f"parity ({opts.bits} bits)": best}, "all_runs": runs, "wall_s": round(time.time() - start, 1)}
    path = opts.work / "results.json"
    path.write_text(json.dumps(results, indent=2))
    cli("python", "-m", "eval.plot_algo_curves", path, "--out", opts.work / "accuracy.png")
    print(f"\n{opts.bits}-bit parity: test accuracy (%) after N samples, each model at its tuned lr")
    for r in best:
        print(f"{r['model']:<5} depth {r['depth']:>3} lr {r['lr']:<6} {r['params']:>7,} params  "
              + " ".join(f"{a:.0f}" for _, a in r["seq_acc"]))
    print(f"\nresults: {path}\nwall time: {results['wall_s']:.0f} s")
    return results


if __name__ == "__main__":
    main()
