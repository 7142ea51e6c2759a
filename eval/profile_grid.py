"""Where the grid's own time goes: one forward + backward of the Reencoder's grid, split by kind of op.

    python -m eval.profile_grid --data work/data/tatoeba --width 256 --depths 1,2

For each depth and GEMM precision (fp32, and bf16 where it is native, or with ``--bf16 always``)
the grid of ``--arch`` at width ``--width`` runs forward and backward on inputs of a real
Tatoeba batch's shape (``eval.bench_widths``' "grid alone").  Printed per variant: seconds (best of
``--repeats``), GFLOP/s and the share of this machine's matmul peak in the same precision
(measured here as ``eval.bench_widths`` does: the best of the grid's GEMM shapes), then torch.profiler's self CPU time
grouped into the GEMMs, the gate and row kernels (``reencoder/grid/*.cpp``), dtype casts and copies,
row gathers and scatters, other elementwise ops and the rest.  The GEMMs' own rate (their FLOPs
over their time) against the peak says how much of the gap to the peak the GEMMs leave and how
much the ops beside them take (``recipes/RESULTS.md``, "Performance").
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

from reencoder.grid.hardware import native_bf16

from .bench import build, real_batches, write_json
from .bench_widths import best_time, counted_flops, grid_step, measure_peaks

GEMMS = {"aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "reencoder_gemm::mm_bf16",
         "reencoder_gemm::mm_bf16_into_"}
CASTS = {"aten::copy_", "aten::_to_copy"}
ELEMENTWISE = {"aten::add_", "aten::add", "aten::mul", "aten::mul_", "aten::sum", "aten::tanh", "aten::tanh_",
               "aten::sigmoid", "aten::fill_", "aten::zero_"}


def group_of(op: str) -> str:
    """The kind of a profiled op (a torch.profiler key)."""
    if op in GEMMS:
        return "GEMMs"
    if op.startswith(("reencoder_gates::", "reencoder_rows::")):
        return "gate and row kernels"
    if op in CASTS:
        return "casts and copies"
    if "index" in op or "gather" in op or "scatter" in op:
        return "gathers and scatters"
    return "other elementwise" if op in ELEMENTWISE else "the rest"


def profile_groups(fn: Callable[[], None]) -> Dict[str, float]:
    """Self CPU seconds of one call of ``fn``, by :func:`group_of`."""
    with torch.profiler.profile() as prof:
        fn()
    groups: Counter = Counter()
    for event in prof.key_averages():
        groups[group_of(event.key)] += event.self_cpu_time_total / 1e6
    return dict(groups)


def measure(data_bin: Path, arch: str, width: int, depth: int, bf16: bool, sample, repeats: int) -> dict:
    _, model = build(data_bin, arch, ["--grid-hidden-size", str(width), "--grid-depth", str(depth),
                                      "--grid-bf16", "always" if bf16 else "never"])
    model.train()
    step = grid_step(model, sample, bf16)
    flops = counted_flops(step)
    step()  # warm-up: workspaces, kernels
    seconds = best_time(step, repeats)
    groups = profile_groups(step)
    return {"depth": depth, "dtype": "bfloat16" if bf16 else "float32", "seconds": seconds, "gflop": flops / 1e9,
            "gflops": flops / seconds / 1e9, "groups_s": groups,
            "gemm_gflops": flops / groups.get("GEMMs", float("nan")) / 1e9}


def print_report(res: dict) -> None:
    print(f"the {res['arch']} grid at n = {res['width']}, forward + backward on a {res['batch_shape']} batch, "
          f"{res['threads']} thread(s); matmul peak here: fp32 {res['peaks']['float32']:.1f}, "
          f"bf16 {res['peaks']['bfloat16']:.1f} GFLOP/s")
    for v in res["variants"]:
        peak = res["peaks"][v["dtype"]]
        total = sum(v["groups_s"].values())
        print(f"\nD = {v['depth']}, {v['dtype']} GEMMs: {v['seconds']:.3f} s, {v['gflops']:.1f} GFLOP/s = "
              f"{100 * v['gflops'] / peak:.0f} % of the peak; the GEMMs alone {v['gemm_gflops']:.1f} GFLOP/s = "
              f"{100 * v['gemm_gflops'] / peak:.0f} %")
        for name, sec in sorted(v["groups_s"].items(), key=lambda kv: -kv[1]):
            print(f"  {name:24s} {sec:7.3f} s {100 * sec / total:5.1f} %")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="work/data/tatoeba", help="data_prep folder (uses DATA/bin)")
    ap.add_argument("--arch", default="reencoder_base")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depths", default="1,2")
    ap.add_argument("--bf16", choices=["auto", "always", "never"], default="auto",
                    help="bf16 rows: auto = where bf16 is native")
    ap.add_argument("--max-tokens", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="runs/bench/profile_grid.json")
    args = ap.parse_args(argv)
    data_bin = Path(args.data) / "bin"
    if not (data_bin / "dict.zh.txt").exists():
        print(f"error: no binarized data in {data_bin} (run `make data`)", file=sys.stderr)
        return 2
    task, _ = build(data_bin, args.arch, [])
    sample = real_batches(task, args.max_tokens, 1)[0]
    B, S = sample["net_input"]["src_tokens"].shape
    rows, n = B * S, args.width
    peaks: Dict[int, Dict[str, float]] = {}
    measure_peaks(peaks, [n], rows)  # bench_widths' peak: the best of the grid's GEMM shapes
    precisions = [False] + ([True] if args.bf16 == "always" or (args.bf16 == "auto" and native_bf16(torch.device("cpu"))[0])
                            else [])
    variants = []
    for depth in (int(d) for d in args.depths.split(",")):
        for bf16 in precisions:
            variants.append(measure(data_bin, args.arch, n, depth, bf16, sample, args.repeats))
            print(f"[{len(variants)}] D = {depth}, {variants[-1]['dtype']}: {variants[-1]['seconds']:.3f} s",
                  file=sys.stderr, flush=True)
    res = {"arch": args.arch, "width": n, "threads": torch.get_num_threads(), "torch": torch.__version__,
           "batch_shape": f"{B} x {S} x {sample['target'].shape[1]}", "peaks": peaks[n], "variants": variants}
    print_report(res)
    write_json(args.out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
