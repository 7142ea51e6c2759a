"""Speed of the Reencoder at the widths that matter (the first part of ``make bench``).

    python -m eval.bench_widths --data work/data/tatoeba --out runs/bench/widths.json

For every grid width ``n`` (default 128 and 256), depth ``D`` (1 and 2), GEMM precision (fp32,
and bf16 with the reason it is native or emulated here) and cell option (the full LSTM block;
paper §3.4 one weight matrix shared by source and target; §3.6 a non-LSTM depth dimension; both),
on real Tatoeba batches of ``--max-tokens``:

* **the grid alone** (forward + backward of :class:`~reencoder.grid.reencoder_grid.ReencoderGrid`
  on inputs of the batches' shapes): seconds, GFLOP/s and its share of this machine's matmul
  peak measured on the grid's own GEMM shapes at that width;
* **the whole training step** (embeddings, grid, readout, output layer, loss, backward):
  seconds, target tokens/s, FLOPs per target token, share of the fp32 peak, and seconds per
  epoch of the training set (its target tokens over tokens/s);
* fairseq's ``lstm`` and ``transformer`` with the parameter count closest to the default grid
  model of each width, on the same batches;
* for the cells of ``--torch-gates``, the same fp32 grid with the gate math in torch ops
  instead of the C++ kernels (:mod:`reencoder.grid.gate_kernels`): what they buy.

FLOPs are counted, not estimated: :class:`torch.utils.flop_counter.FlopCounterMode` over one
step (every matmul the step really runs, forward and backward, padding cells included).
Every variant is timed in interleaved rounds (the best round counts: the machine is shared;
at least ``--rounds``, more until every row settles: :mod:`eval.rounds`), with a progress line
per variant on stderr, also while the variants are built and their FLOPs counted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
from torch.utils.flop_counter import FlopCounterMode

from reencoder.grid import gate_kernels
from reencoder.grid.hardware import native_bf16

from .bench import build, lstm_of, matched_size, matmul_peak, params, real_batches, sync, time_per_sample, train_step, write_json
from .rounds import Rounds, describe

# cell options (the grid's flags) benchmarked at every width and depth; the first is the full LSTM
# block of every dimension (the paper's eqs. 3-5), the last the cell of reencoder_base
OPTIONS: Dict[str, List[str]] = {
    "full LSTM block": ["--grid-unshared-dims", "--grid-depth-transform", "lstm"],
    "shared dims (§3.4)": ["--grid-shared-dims", "--grid-depth-transform", "lstm"],
    "tanh depth (§3.6)": ["--grid-unshared-dims", "--grid-depth-transform", "tanh"],
    "shared dims + tanh (base)": ["--grid-shared-dims", "--grid-depth-transform", "tanh"],
}


def _addmm_inplace_flops(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """``out += a @ b``: torch's counter has no formula for the in-place ``addmm_``."""
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def counted_flops(fn: Callable[[], None]) -> int:
    """Matmul FLOPs that one call of ``fn`` really runs (forward and backward)."""
    with FlopCounterMode(display=False, custom_mapping={torch.ops.aten.addmm_: _addmm_inplace_flops}) as fc:
        fn()
    return fc.get_total_flops()


def grid_step(model, sample, bf16: bool) -> Callable[[], None]:
    """Forward + backward of the model's grid alone, on random inputs of ``sample``'s shape,
    its GEMMs in bf16 or fp32."""
    dec = model.decoder
    B, S = sample["net_input"]["src_tokens"].shape
    T, n = sample["target"].shape[1], dec.grid.hidden_size
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(B, S, n, generator=gen).requires_grad_()
    tgt = torch.randn(B, T, n, generator=gen).requires_grad_()
    grad = torch.randn(B, T, S, n, generator=gen)

    def step() -> None:
        top, _ = dec.grid(src, tgt, compute_dtype=torch.bfloat16 if bf16 else torch.float32)
        top.float().backward(grad)
        src.grad = tgt.grad = None
        dec.grid.zero_grad(set_to_none=True)

    return step


def measure_peaks(peaks: Dict, widths: List[int], rows: int) -> None:
    """``peaks[n][dtype]``: the best GFLOP/s of the grid's GEMM shapes at width ``n`` ([R, 2n] @
    [2n, 8n] and [2n, 4n] with the additive input, [3n, 4n] without), the best of this and any
    earlier measurement: on a shared machine a peak measured once in a slow moment would make
    every share of it look too good."""
    for n in widths:
        new = {str(dt).split(".")[-1]: max(matmul_peak(rows, k * n, m * n, dt, 0.5) for k, m in ((2, 8), (2, 4), (3, 4)))
               for dt in (torch.float32, torch.bfloat16)}
        old = peaks.get(n, {})
        peaks[n] = {k: max(v, old.get(k, 0.0)) for k, v in new.items()}
        print(f"matmul peak at n = {n}: fp32 {new['float32']:.1f}, bf16 {new['bfloat16']:.1f} GFLOP/s "
              f"(best so far: {peaks[n]['float32']:.1f}, {peaks[n]['bfloat16']:.1f})", file=sys.stderr)


def best_time(fn: Callable[[], None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def transformer_of(size: int) -> List[str]:
    """fairseq's transformer at the demo's shape (3 + 3 layers, 4 heads, FFN 4x), width ``size``."""
    return ["--arch", "transformer", "--encoder-layers", "3", "--decoder-layers", "3",
            f"--encoder-embed-dim={size}", f"--decoder-embed-dim={size}", f"--encoder-ffn-embed-dim={4 * size}",
            f"--decoder-ffn-embed-dim={4 * size}", "--encoder-attention-heads", "4", "--decoder-attention-heads", "4",
            "--share-decoder-input-output-embed"]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="work/data/tatoeba", help="data_prep folder (uses DATA/bin)")
    ap.add_argument("--arch", default="reencoder_base", help="the Reencoder architecture, widened by --widths")
    ap.add_argument("--widths", default="128,256")
    ap.add_argument("--depths", default="1,2")
    ap.add_argument("--options", default=",".join(OPTIONS), help="comma-separated names of %(default)s")
    ap.add_argument("--bf16", choices=["auto", "always", "never"], default="auto",
                    help="bf16 rows: auto = all where bf16 is native, the default cell only where it is emulated")
    ap.add_argument("--torch-gates", default=f"{list(OPTIONS)[0]},{list(OPTIONS)[-1]}",
                    help="cells also timed with the gate math in torch ops instead of the C++ kernels (fp32; empty: none)")
    ap.add_argument("--max-tokens", type=int, default=4096)
    ap.add_argument("--batches", type=int, default=2, help="real batches per round")
    ap.add_argument("--rounds", type=int, default=2,
                    help="interleaved timing rounds at least (the best counts; more until every row settles: eval/rounds.py)")
    ap.add_argument("--max-rounds", type=int, help="rounds at most (default: twice --rounds)")
    ap.add_argument("--out", default="runs/bench/widths.json")
    args = ap.parse_args(argv)
    data_bin = Path(args.data) / "bin"
    options = args.options.split(",")
    torch_gates = [o for o in args.torch_gates.split(",") if o]
    if any(o not in OPTIONS for o in options + torch_gates) or not (data_bin / "dict.zh.txt").exists():
        print(f"error: unknown options in {options + torch_gates}" if any(o not in OPTIONS for o in options + torch_gates)
              else f"error: no binarized data in {data_bin} (run `make data`)", file=sys.stderr)
        return 2
    widths, depths = [int(w) for w in args.widths.split(",")], [int(d) for d in args.depths.split(",")]
    task, _ = build(data_bin, args.arch, [])
    samples = real_batches(task, args.max_tokens, args.batches)
    epoch_tokens = int(task.dataset("train").tgt_sizes.sum())
    rows = sum(s["net_input"]["src_tokens"].numel() for s in samples) // len(samples)
    native, why = native_bf16(torch.device("cpu"))
    res: Dict[str, object] = {"threads": torch.get_num_threads(), "torch": torch.__version__, "arch": args.arch,
                              "max_tokens": args.max_tokens, "epoch_target_tokens": epoch_tokens,
                              "bf16_native": native, "bf16_why": why, "gate_math": gate_kernels.report(), "peaks": {}}
    measure_peaks(res["peaks"], widths, rows)
    # widths whose bf16 matmuls are slower than fp32 here (emulated: no AMX, no AVX512-BF16)
    emulated = {n for n in widths if res["peaks"][n]["bfloat16"] < res["peaks"][n]["float32"]}
    variants = []  # (name, n, D, dtype, flags, gate math in torch ops)
    for n in widths:
        for D in depths:
            for opt in options:
                variants.append((opt, n, D, "float32", OPTIONS[opt], False))
            for opt in torch_gates:
                variants.append((opt, n, D, "float32", OPTIONS[opt], True))
            for opt in options:
                if args.bf16 == "always" or (args.bf16 == "auto" and (n not in emulated or opt == options[0])):
                    variants.append((opt, n, D, "bfloat16", OPTIONS[opt], False))
    table = []
    models = {}
    for i, (opt, n, D, dt, flags, in_torch) in enumerate(variants):
        _, model = build(data_bin, args.arch, ["--grid-hidden-size", str(n), "--grid-depth", str(D), *flags,
                                               "--grid-bf16", "always" if dt == "bfloat16" else "never"])
        if in_torch:  # the same grid built with the gate math in torch ops
            model.decoder.grid = model.decoder.grid.with_options(kernels="torch")
        model.train()
        grid = grid_step(model, samples[0], dt == "bfloat16")
        row = {"option": opt + (", torch gates" if in_torch else ""), "cell": opt, "gates": "torch" if in_torch
               else "cpp", "n": n, "depth": D, "dtype": dt, "params": params(model)}
        same = next((r for r in table if (r["cell"], r["n"], r["depth"]) == (opt, n, D)), None)
        if same is not None:  # bf16 and the torch gate math run the same matmuls: counted once
            row.update(step_flops=same["step_flops"], grid_flops=same["grid_flops"])
        else:
            row.update(step_flops=sum(counted_flops(lambda m=model, s=s: train_step(m, s)) for s in samples) / len(samples),
                       grid_flops=counted_flops(grid))
        models[i] = (model, grid)
        table.append(row)
        print(f"built [{i + 1}/{len(variants)}] n={n} D={D} {dt} {row['option']}: {row['step_flops'] / 1e9:.1f} GFLOP "
              f"per step", file=sys.stderr, flush=True)
    slow = {i for i, (_, n, _, dt, _, _) in enumerate(variants) if dt == "bfloat16" and n in emulated}
    rounds = Rounds(args.rounds, args.max_rounds, what="bench_widths")
    for r in rounds:
        if r > 0:  # the peak is re-measured every round (the best counts), as the timings are
            measure_peaks(res["peaks"], widths, rows)
        for i, row in enumerate(table):
            if i in slow and r > 0:
                continue  # emulated bf16: one batch, one round (it is ~10x slower than fp32)
            model, grid = models[i]
            step_s = rounds.add((i, "step"), sum(time_per_sample(model, samples[:1] if i in slow else samples)))
            grid_s = rounds.add((i, "grid"), best_time(grid, 1 if i in slow else 2))
            print(f"round {r + 1} [{i + 1}/{len(table)}] n={row['n']} D={row['depth']} {row['dtype']} {row['option']}: "
                  f"{step_s / (1 if i in slow else len(samples)):.3f} s/step, grid alone {grid_s:.3f} s",
                  file=sys.stderr, flush=True)
    res["rounds"] = rounds.report()
    for i, row in enumerate(table):
        timed = samples[:1] if i in slow else samples
        sec = rounds.best((i, "step"))
        toks = sum(s["ntokens"] for s in timed)
        peak = res["peaks"][row["n"]]
        flops = row["step_flops"] * len(timed)
        row.update(s_per_step=sec / len(timed), tgt_tokens_per_s=toks / sec, flops_per_tgt_token=flops / toks,
                   step_gflops=flops / sec / 1e9, step_of_fp32_peak=flops / sec / 1e9 / peak["float32"],
                   grid_s=rounds.best((i, "grid")), grid_gflops=row["grid_flops"] / rounds.best((i, "grid")) / 1e9,
                   s_per_epoch=epoch_tokens * sec / toks)
        row["grid_of_fp32_peak"] = row["grid_gflops"] / peak["float32"]
        row["grid_of_own_peak"] = row["grid_gflops"] / peak[row["dtype"]]
    baselines = []
    for n in widths:
        ref = next(r for r in table if r["n"] == n and r["option"] == options[0] and r["dtype"] == "float32")
        for name, of, sizes in (("lstm", lstm_of, range(64, 769, 16)), ("transformer", transformer_of, range(64, 513, 16))):
            size = matched_size(data_bin, of, ref["params"], sizes)
            _, m = build(data_bin, of(size)[1], of(size)[2:])
            timing = Rounds(args.rounds, args.max_rounds, what=f"bench_widths, fairseq {name} {size}")
            sec = min(timing.add(0, sum(time_per_sample(m, samples))) for _ in timing)
            toks = sum(s["ntokens"] for s in samples)
            flops = sum(counted_flops(lambda m=m, s=s: train_step(m, s)) for s in samples)
            baselines.append({"system": f"fairseq {name} {size}", "matched_to_n": n, "params": params(m),
                              "s_per_step": sec / len(samples), "tgt_tokens_per_s": toks / sec,
                              "flops_per_tgt_token": flops / toks, "step_gflops": flops / sec / 1e9,
                              "s_per_epoch": epoch_tokens * sec / toks})
            print(f"[baseline] {baselines[-1]['system']} ({params(m):,} params): {sec / len(samples):.3f} s/step",
                  file=sys.stderr, flush=True)
    res.update(variants=table, baselines=baselines)
    print_table(res)
    write_json(args.out, res)
    return 0


def print_table(res) -> None:
    print(f"{res['arch']} at {res['max_tokens']} tokens per batch, {res['threads']} thread(s), torch {res['torch']}; "
          f"bf16 GEMMs by default (--grid-bf16 auto): {'yes' if res['bf16_native'] else 'no'}, {res['bf16_why']}; "
          f"{res.get('gate_math', '')}")
    if "rounds" in res:
        print(f"interleaved rounds: {describe(res['rounds'])}")
    for n, pk in res["peaks"].items():
        print(f"matmul peak for the n = {n} grid's GEMM shapes: fp32 {pk['float32']:.1f}, bf16 {pk['bfloat16']:.1f} GFLOP/s")
    head = (f"{'n':>4s} {'D':>2s} {'dtype':8s} {'cell':32s} {'params':>10s} {'s/step':>7s} {'tok/s':>6s} "
            f"{'GF/tok':>7s} {'%fp32':>6s} {'s/epoch':>8s} {'grid s':>7s} {'grid GF/s':>9s} {'grid %fp32':>10s}")
    print(head)
    for r in res["variants"]:
        print(f"{r['n']:4d} {r['depth']:2d} {r['dtype']:8s} {r['option']:32s} {r['params']:10,d} {r['s_per_step']:7.3f} "
              f"{r['tgt_tokens_per_s']:6.0f} {r['flops_per_tgt_token'] / 1e9:7.3f} {100 * r['step_of_fp32_peak']:5.0f}% "
              f"{r['s_per_epoch']:8.0f} {r['grid_s']:7.3f} {r['grid_gflops']:9.1f} {100 * r['grid_of_fp32_peak']:9.0f}%")
    for r in res["variants"]:
        cpp = next((f for f in res["variants"] if r.get("gates") == "torch" and f.get("gates") == "cpp" and
                    (f["cell"], f["n"], f["depth"], f["dtype"]) == (r["cell"], r["n"], r["depth"], r["dtype"])), None)
        if cpp is not None:
            print(f"C++ gate kernels, n = {r['n']}, D = {r['depth']}, {r['cell']}: "
                  f"the grid {r['grid_s'] / cpp['grid_s']:.2f}x "
                  f"and the step {r['s_per_step'] / cpp['s_per_step']:.2f}x faster than with the gate math in torch ops")
    for b in res["baselines"]:
        print(f"{'':4s} {'':2s} {'float32':8s} {b['system']:32s} {b['params']:10,d} {b['s_per_step']:7.3f} "
              f"{b['tgt_tokens_per_s']:6.0f} {b['flops_per_tgt_token'] / 1e9:7.3f} {'':6s} {b['s_per_epoch']:8.0f}")


if __name__ == "__main__":
    sys.exit(main())
