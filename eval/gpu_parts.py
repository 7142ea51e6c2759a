"""The parts of ``make gpu-check`` (:mod:`eval.gpu_check`) that run in processes of their own,
each under the check's time limit, so that a hang or a broken CUDA context costs one part:

    python -m eval.gpu_parts grid --data DATA/bin --out grid.json [--dry-run]
    python -m eval.gpu_parts fairseq train|generate --peak-file peak.json -- FAIRSEQ_ARGS...

* ``grid``: forward + backward of the grid of ``reencoder_big`` (built by fairseq from its flags)
  on random inputs of real batches' shapes, by the fused runner (the models' default) in bf16 and
  fp32 GEMMs and by the autograd wavefront in bf16, against ``torch.nn.LSTM`` (cuDNN on a GPU) of
  the grid's depth and parameter count over the same pairs' ``S + T`` positions: seconds per step,
  target tokens/s, TFLOP/s and their share of the GPU's dense bf16 peak, microseconds per wavefront
  step, peak memory.  The grid's FLOPs are counted (:func:`eval.bench_widths.counted_flops`), the
  LSTM's are its GEMMs' (cuDNN's kernel has no formula in torch's counter).
* ``fairseq``: fairseq's own ``train`` or ``generate`` (``fairseq_cli``), its peak GPU memory
  written to ``--peak-file`` when it ends.

``--dry-run`` is the same code on the CPU at tiny sizes (``make test`` runs it).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import resource
import runpy
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

#: dense bf16 tensor-core peak (TFLOP/s, no sparsity) by device name, the first match counts
BF16_PEAK_TFLOPS = [("H200", 989.4), ("H100 PCIe", 756.5), ("H100 NVL", 835.5), ("H100", 989.4), ("GH200", 989.4),
                    ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0), ("A10", 125.0)]


def spec_peak_tflops(device_name: str) -> Optional[float]:
    """The datasheet's dense bf16 peak of a GPU, or None for a device not in the table."""
    return next((peak for key, peak in BF16_PEAK_TFLOPS if key in device_name), None)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def reset_peak(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gib(dev: torch.device) -> float:
    """Peak GPU memory allocated since the last reset; on the CPU the process's peak RSS."""
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def gemm_tflops(dev: torch.device, size: int, repeats: int = 10) -> float:
    """Measured TFLOP/s of a square bf16 matrix product (the machine's reachable peak)."""
    a = torch.randn(size, size, device=dev).bfloat16()
    b = torch.randn(size, size, device=dev).bfloat16()
    for _ in range(3):
        a @ b
    sync(dev)
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(dev)
    return 2 * size**3 * repeats / (time.perf_counter() - t) / 1e12


def lstm_hidden_for(params: int, layers: int) -> int:
    """The hidden size (a multiple of 8) of a ``layers``-layer ``nn.LSTM`` with input size =
    hidden size whose parameter count, ``layers * (8 h^2 + 8 h)``, is closest to ``params``."""
    h = (-8 + math.sqrt(64 + 32 * params / layers)) / 16
    return max(8, int(round(h / 8)) * 8)


def lstm_flops(batch: int, steps: int, hidden: int, layers: int) -> int:
    """GEMM FLOPs of an LSTM's forward + backward (backward = twice forward): every layer and
    step multiplies ``[B, 2h]`` by ``[2h, 4h]``."""
    return 3 * 2 * batch * steps * layers * (2 * hidden) * (4 * hidden)


def timed(step: Callable[[], None], dev: torch.device, seconds: float, max_steps: int) -> Dict[str, float]:
    """Seconds per call of ``step`` (one warm-up, then calls until ``seconds`` or ``max_steps``)
    and the peak memory meanwhile."""
    step()
    sync(dev)
    reset_peak(dev)
    n, t = 0, time.perf_counter()
    while n < max_steps and (n == 0 or time.perf_counter() - t < seconds):
        step()
        n += 1
        sync(dev)
    return {"s_per_step": (time.perf_counter() - t) / n, "steps_timed": n, "peak_mem_gib": peak_memory_gib(dev)}


def grid_rows(grid, lstm, shapes, dev: torch.device, seconds: float, max_steps: int) -> List[dict]:
    """One row per variant, over all ``shapes`` (``(B, S, T, target tokens)``) in turn."""
    from eval.bench_widths import counted_flops

    n, depth = grid.hidden_size, grid.depth
    gen = torch.Generator(device=dev).manual_seed(0)

    def rand(*size, dtype=torch.float32):
        return torch.randn(*size, generator=gen, device=dev).to(dtype)

    def grid_step(model, bf16: bool):
        inputs = [(rand(B, S, n).requires_grad_(), rand(B, T, n).requires_grad_(), rand(B, T, S, n)) for B, S, T, _ in shapes]

        def step():
            for src, tgt, grad in inputs:
                top, _ = model(src, tgt, compute_dtype=torch.bfloat16 if bf16 else torch.float32)
                top.float().backward(grad)
            model.zero_grad(set_to_none=True)
        return step

    def lstm_step(dtype):
        model = copy.deepcopy(lstm).to(dtype)
        inputs = [(rand(B, S + T, model.hidden_size, dtype=dtype).requires_grad_(),
                   rand(B, S + T, model.hidden_size, dtype=dtype)) for B, S, T, _ in shapes]

        def step():
            for x, grad in inputs:
                out, _ = model(x)
                out.backward(grad)
            model.zero_grad(set_to_none=True)
        return step

    autograd = grid.with_options(runner="autograd")
    variants = [("grid, fused runner (the models' default), bf16 GEMMs", "grid", lambda: grid_step(grid, True), "bfloat16"),
                ("grid, fused runner, fp32 GEMMs", "grid", lambda: grid_step(grid, False), "float32"),
                ("grid, autograd wavefront, bf16 GEMMs", "grid", lambda: grid_step(autograd, True), "bfloat16"),
                ("nn.LSTM (cuDNN on a GPU), same parameters, bf16", "lstm", lambda: lstm_step(torch.bfloat16), "bfloat16"),
                ("nn.LSTM (cuDNN on a GPU), same parameters, fp32", "lstm", lambda: lstm_step(torch.float32), "float32")]
    lstm_fl = sum(lstm_flops(B, S + T, lstm.hidden_size, lstm.num_layers) for B, S, T, _ in shapes)
    tokens = sum(s[3] for s in shapes)
    hyperplanes = sum(S + T + depth - 2 for _, S, T, _ in shapes)  # per pass (forward, and again backward)
    rows = []
    for name, kind, make_step, dtype in variants:
        row = {"name": name, "kind": kind, "dtype": dtype,
               "params": sum(p.numel() for p in (grid if kind == "grid" else lstm).parameters())}
        try:
            step = make_step()
            flops = counted_flops(step) if kind == "grid" else lstm_fl  # the fused runner adds the input once
            row.update(timed(step, dev, seconds, max_steps))
        except Exception as e:  # one variant's failure (an op without a kernel here, memory) is a row's error
            rows.append({**row, "error": f"{type(e).__name__}: {e}"[:500]})
            print(f"  {name}: failed ({row_error(rows[-1])})", file=sys.stderr, flush=True)
            continue
        row.update(tflop_per_step=flops / 1e12, tflops=flops / row["s_per_step"] / 1e12,
                   tgt_tokens_per_s=tokens / row["s_per_step"])
        if kind == "grid":
            row["us_per_wavefront_step"] = row["s_per_step"] / (2 * hyperplanes) * 1e6
        rows.append(row)
        print(f"  {name}: {row['s_per_step'] * 1e3:.1f} ms/step, {row['tgt_tokens_per_s']:.0f} target tokens/s, "
              f"{row['tflops']:.2f} TFLOP/s", file=sys.stderr, flush=True)
    return rows


def row_error(row: dict) -> str:
    return row["error"].splitlines()[0][:200]


def grid_part(data_bin: Path, dry_run: bool, max_tokens: int, batches: int, seconds: float) -> dict:
    """The grid of ``reencoder_big`` against cuDNN's LSTM of its parameters (module docstring)."""
    from eval.bench import build, real_batches

    dev = device()
    overrides = ["--grid-hidden-size", "32", "--encoder-embed-dim", "32", "--decoder-embed-dim", "32"] if dry_run else []
    task, model = build(data_bin, "reencoder_big", overrides, dev)
    grid = model.decoder.grid.train()
    shapes = [(s["target"].shape[0], s["net_input"]["src_tokens"].shape[1], s["target"].shape[1], int(s["ntokens"]))
              for s in real_batches(task, max_tokens, batches)]
    params = sum(p.numel() for p in grid.parameters())
    hidden = lstm_hidden_for(params, grid.depth)
    lstm = torch.nn.LSTM(hidden, hidden, num_layers=grid.depth, batch_first=True).to(dev)
    measured = gemm_tflops(dev, 256 if dry_run else 8192)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    spec = spec_peak_tflops(name) if dev.type == "cuda" else None
    peak = spec or measured
    rows = grid_rows(grid, lstm, shapes, dev, seconds, 3 if dry_run else 200)
    for row in rows:
        row["of_bf16_peak"] = row["tflops"] / peak
    options = {k: v for k, v in grid.options.items() if k != "runner"}
    return {"device": name, "hidden_size": grid.hidden_size, "depth": grid.depth, "grid_options": options,
            "lstm_hidden_size": hidden, "lstm_layers": grid.depth,
            "batches": [dict(zip("BST", s[:3]), tokens=s[3]) for s in shapes],
            "max_tokens": max_tokens, "measured_bf16_gemm_tflops": measured, "bf16_peak_tflops": peak,
            "peak_source": "datasheet (dense bf16)" if spec else "measured bf16 GEMM (device not in the table)",
            "rows": rows}


def fairseq_part(tool: str, argv: List[str], peak_file: Path) -> int:
    """fairseq's ``fairseq_cli.TOOL`` as its console script runs it; the peak memory to ``peak_file``."""
    import reencoder  # noqa: F401  (the plugin's allow-list before any checkpoint loads)

    dev = device()
    sys.argv = [f"fairseq-{tool}", *argv]
    code = 0
    try:
        runpy.run_module(f"fairseq_cli.{tool}", run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        peak_file.write_text(json.dumps({"peak_mem_gib": peak_memory_gib(dev), "memory": dev.type}) + "\n")
    return code


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="part", required=True)
    g = sub.add_parser("grid")
    g.add_argument("--data", required=True, type=Path, help="a fairseq bin folder")
    g.add_argument("--out", required=True, type=Path)
    g.add_argument("--dry-run", action="store_true")
    g.add_argument("--max-tokens", type=int, default=4096)
    g.add_argument("--batches", type=int, default=2, help="real batches whose shapes one step runs")
    g.add_argument("--seconds", type=float, default=5.0, help="timing per variant")
    sub.add_parser("fairseq", help="fairseq train|generate --peak-file FILE -- FAIRSEQ_ARGS...")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["fairseq"]:  # fairseq's own flags follow: not parsed here
        if len(argv) < 4 or argv[1] not in ("train", "generate") or argv[2] != "--peak-file":
            ap.error("usage: fairseq train|generate --peak-file FILE -- FAIRSEQ_ARGS...")
        rest = argv[4:]
        return fairseq_part(argv[1], rest[1:] if rest[:1] == ["--"] else rest, Path(argv[3]))
    args = ap.parse_args(argv)
    res = grid_part(args.data, args.dry_run, args.max_tokens, args.batches, args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
