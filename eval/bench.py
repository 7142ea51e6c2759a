"""Speed benchmark of the Reencoder grid (``make bench``): ratios measured in one run.

Prints a table and writes JSON with, on real batches of the prepared Tatoeba data:

1. the matmul peak of this machine for the grid's own GEMM shapes, fp32 and bf16;
2. training-step throughput (pairs/s, target tokens/s, GFLOP/s of grid matmuls) of the naive
   cell-by-cell loop and of each optimisation in turn: the autograd wavefront, the fused
   wavefront (hand-written backward, slot buffers), the additive depth input, without the
   reused workspace (to show what it buys), and bf16 GEMMs; each as a ratio to the matmul peak
   of its precision, to the best peak, and to the naive loop on the same batch.  Variants are
   timed in interleaved rounds and the best round counts (the development VM is noisy);
3. beam-5 decoding sentences/s with ``fairseq-generate`` and with ``reencoder-translate``
   (when a trained model is given);
4. peak RSS of one training step at 4k tokens per batch (in a fresh process);
5. fairseq's built-in ``lstm`` at a similar parameter count on the same batches.

The naive loop is the test-suite oracle (:mod:`reencoder.grid.reference`), shared with the
tests rather than kept twice.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F

from data_prep.foundation import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEVICE = torch.device("cpu")  # --device cuda: the same benchmark on a GPU (no RSS/decoding parts)


def write_json(path, obj) -> None:
    """``obj`` as JSON at ``path`` (folders made, written atomically), and say so."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")
    print(f"\nwrote {path}")


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(m: int, k: int, n: int, dtype: torch.dtype, seconds: float = 1.0) -> float:
    """Measured GFLOP/s of ``[m, k] @ [k, n]`` in ``dtype`` (best of repeated timings)."""
    a = torch.randn(m, k, device=DEVICE).to(dtype)
    w = torch.randn(n, k, device=DEVICE).to(dtype)
    for _ in range(3):
        F.linear(a, w)
    sync()
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        for _ in range(5):
            F.linear(a, w)
        sync()
        best = max(best, 10 * m * k * n / (time.perf_counter() - t) / 1e9)
    return best


CPU = torch.device("cpu")


def build(data_bin: Path, arch: str, extra: List[str], device: torch.device = CPU):
    """A real fairseq task + model (the plugin imported via --user-dir) on ``device``."""
    from reencoder.loading import build_model

    _args, task, model = build_model([data_bin, "--arch", arch, "--task", "translation", "--source-lang", "zh",
                                      "--target-lang", "en", "--cpu", "--dropout", "0", *extra], seed=1, device=device)
    return task, model


def real_batches(task, max_tokens: int, count: int):
    """The first ``count`` batches of a shuffled training epoch (the train split loaded once)."""
    if "train" not in task.datasets:
        task.load_dataset("train")
    itr = task.get_batch_iterator(task.dataset("train"), max_tokens=max_tokens, seed=1, ignore_invalid_inputs=True)
    out = []
    for sample in itr.next_epoch_itr(shuffle=True):
        if DEVICE.type == "cuda":
            from fairseq.utils import move_to_cuda

            sample = move_to_cuda(sample)
        out.append(sample)
        if len(out) == count:
            break
    return out


def grid_flops(sample, hidden: int, depth: int, passes: int = 3) -> float:
    """Matmul FLOPs of the grid for one training step: every (padded) cell does 3 transforms of
    a ``3n → 4n`` matmul; backward costs two more of the same (``passes = 3``)."""
    B, S = sample["net_input"]["src_tokens"].shape
    T = sample["target"].shape[1]
    return passes * S * T * depth * B * 2 * (3 * hidden) * (12 * hidden)


def train_step(model, sample) -> None:
    """One training step's computation: forward, loss, backward."""
    logits, _ = model(**sample["net_input"])
    loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), sample["target"].view(-1), ignore_index=1)
    loss.backward()
    model.zero_grad(set_to_none=True)


#: a benchmark says it is alive at least this often (seconds), even inside one long timing
HEARTBEAT_S = 25.0
_last_beat = [time.perf_counter()]


def heartbeat(what: str, done: int, total: int) -> None:
    """A progress line on stderr if none was printed for :data:`HEARTBEAT_S` seconds."""
    now = time.perf_counter()
    if now - _last_beat[0] >= HEARTBEAT_S:
        print(f"  ... {what}: {done}/{total} steps timed", file=sys.stderr, flush=True)
        _last_beat[0] = now


def time_train_step(model, samples, repeats: int = 1) -> float:
    """Seconds per training step (forward + loss + backward), averaged over the samples."""
    model.train()
    train_step(model, samples[0])  # warm-up (schedule caches, workspace)
    sync()
    t = time.perf_counter()
    for r in range(repeats):
        for k, s in enumerate(samples):
            train_step(model, s)
            heartbeat(type(model).__name__, r * len(samples) + k + 1, repeats * len(samples))
    sync()
    return (time.perf_counter() - t) / (repeats * len(samples))


def time_per_sample(model, samples) -> List[float]:
    """Seconds of one training step on each sample (after a warm-up step)."""
    model.train()
    train_step(model, samples[0])
    times = []
    for k, s in enumerate(samples):
        sync()
        t = time.perf_counter()
        train_step(model, s)
        sync()
        times.append(time.perf_counter() - t)
        heartbeat(type(model).__name__, k + 1, len(samples))
    return times


def profile_train_step(model, sample, out: Path, rows: int = 15) -> str:
    """torch.profiler table (self CPU time per op) of one training step; written to ``out``."""
    from torch.profiler import ProfilerActivity, profile

    time_train_step(model, [sample])  # warm-up outside the profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        time_train_step(model, [sample])
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table + "\n", encoding="utf-8")
    return table


def naive_runner(blocks, shape, boundary_h, boundary_m, block_axis=None, dropout=None, compute_dtype=None):
    """The naive cell-by-cell loop as a grid runner (no dropout: the benchmark's models have none)."""
    from reencoder.grid.reference import naive_grid

    return naive_grid(blocks, shape, boundary_h, boundary_m, block_axis=block_axis, compute_dtype=compute_dtype)


def fused_without_additive_input(blocks, shape, boundary_h, boundary_m, **kwargs):
    """The fused wavefront given the depth input as a full ``S·T`` face (no OuterSum)."""
    from reencoder.grid.fused_wavefront import run_grid_fused
    from reencoder.grid.schedule import materialize

    return run_grid_fused(blocks, shape, materialize(boundary_h), boundary_m, **kwargs)


def fused_without_workspace(*args, **kwargs):
    """The fused wavefront with its large buffers allocated afresh on every call."""
    from reencoder.grid.fused_memory import Workspace
    from reencoder.grid.fused_wavefront import run_grid_fused

    return run_grid_fused(*args, workspace=Workspace(keep=0), **kwargs)


def variant_model(data_bin: Path, arch: str, runner=None, bf16: bool = False, kernels: str = "cpp"):
    """A model for one benchmark variant, built with its options: the GEMM dtype through
    ``--grid-bf16`` and the grid's ``runner`` and ``kernels`` as constructor options (a grid
    built with them; the same seed, so every variant has the same parameters)."""
    _, model = build(data_bin, arch, ["--grid-bf16", "always" if bf16 else "never"], DEVICE)
    if runner is not None or kernels != "cpp":
        model.decoder.grid = model.decoder.grid.with_options(runner=runner, kernels=kernels)
    return model


def train_variants(data_bin: Path, arch: str, samples, rounds: int) -> Dict[str, Tuple[List[float], str]]:
    """Per-sample step times of every variant: the naive loop once on the first sample, the
    others in ``rounds`` interleaved rounds over all samples, best round per sample."""
    from reencoder.grid.wavefront import run_grid

    naive = time_per_sample(variant_model(data_bin, arch, runner=naive_runner), samples[:1])
    configs = {
        "wavefront (autograd)": dict(runner=run_grid),
        "fused wavefront": dict(runner=fused_without_additive_input),
        "fused + additive input (default)": dict(),
        "  same, workspace not reused": dict(runner=fused_without_workspace),
        "fused + additive, bf16 GEMMs": dict(bf16=True),
    }
    models = {name: variant_model(data_bin, arch, **cfg) for name, cfg in configs.items()}
    slow = matmul_peak(512, 384, 512, torch.bfloat16, 0.2) < matmul_peak(512, 384, 512, torch.float32, 0.2)
    best: Dict[str, List[float]] = {}
    for _ in range(rounds):
        for name, cfg in configs.items():
            # bf16 without hardware support (no AMX/AVX512-BF16) is emulated: one batch is enough
            batch = samples[:1] if cfg.get("bf16") and slow else samples
            times = time_per_sample(models[name], batch)
            best[name] = [min(a, b) for a, b in zip(best.get(name, times), times)]
    out = {"naive loop (test oracle)": (naive, "float32")}
    out.update({name: (t, "bfloat16" if configs[name].get("bf16") else "float32") for name, t in best.items()})
    return out


def params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_size(data_bin: Path, arch_args: Callable[[int], List[str]], target: int, sizes) -> int:
    """The first of ``sizes`` whose model (``arch_args(size)`` = ``["--arch", ARCH, *flags]``) has
    the parameter count closest to ``target``."""
    def gap(size: int) -> int:
        words = arch_args(size)
        return abs(params(build(data_bin, words[1], words[2:])[1]) - target)

    return min(sizes, key=gap)


def lstm_args(size: int) -> List[str]:
    return [f"--encoder-embed-dim={size}", f"--decoder-embed-dim={size}", f"--encoder-hidden-size={size}",
            f"--decoder-hidden-size={size}", f"--decoder-out-embed-dim={size}", "--share-decoder-input-output-embed"]


def lstm_of(size: int) -> List[str]:
    """fairseq's lstm with embeddings, hidden states and output all of width ``size``, shared input/output embeddings."""
    return ["--arch", "lstm", *lstm_args(size)]


def peak_rss_of_step(data_bin: Path, arch: str, max_tokens: int) -> float:
    """Peak RSS (GiB) of a fresh process doing one training step at ``max_tokens``."""
    code = (
        "import sys, resource; sys.path.insert(0, %r); import eval.bench as b; "
        "task, model = b.build(b.Path(%r), %r, []); s = b.real_batches(task, %d, 1); "
        "b.time_train_step(model, s); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    ) % (str(REPO), str(data_bin), arch, max_tokens)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1]) / 2**20


def decode_speed(data_bin: Path, checkpoint: Path, model_folder: Path, n: int) -> Dict[str, float]:
    """Beam-5 sentences/s of fairseq-generate (its own timer) and reencoder-translate (wall)."""
    res = {}
    gen = subprocess.run(
        [str(BIN / "fairseq-generate"), str(data_bin), "--user-dir", str(REPO / "reencoder"), "--path", str(checkpoint),
         "--gen-subset", "test", "--beam", "5", "--batch-size", "64", "--cpu", "--required-batch-size-multiple", "1",
         "--source-lang", "zh", "--target-lang", "en"], capture_output=True, text=True, check=True)
    m = re.search(r"Translated ([\d,]+) sentences .* \(([\d.]+) sentences/s", gen.stdout + gen.stderr)
    res["fairseq_generate_sent_per_s"] = float(m.group(2))
    if model_folder is not None and (model_folder / "config.json").exists():
        src = (data_bin.parent / "split" / "test.zh").read_text(encoding="utf-8").splitlines()[:n]
        cli = [str(BIN / "reencoder-translate"), "--model", str(model_folder), "--beam", "5",
               "--cpu-threads", str(torch.get_num_threads())]  # the threads fairseq-generate uses

        def wall(lines: List[str]) -> float:
            t = time.perf_counter()
            subprocess.run(cli, input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
            return time.perf_counter() - t

        startup, total = wall(src[:1]), wall(src)  # one line: process start, imports, model load
        res["translate_cli_sent_per_s"] = len(src) / total
        res["translate_cli_sent_per_s_after_startup"] = (len(src) - 1) / max(total - startup, 1e-9)
        res["translate_cli_startup_s"] = startup
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="work/data/tatoeba", help="data_prep folder (uses DATA/bin)")
    ap.add_argument("--arch", default="reencoder_base")
    ap.add_argument("--max-tokens", type=int, default=4096)
    ap.add_argument("--batches", type=int, default=3, help="real batches timed per variant")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (the best counts)")
    ap.add_argument("--checkpoint", default="runs/demo/reencoder/ckpt/checkpoint_last.pt")
    ap.add_argument("--model-folder", default="runs/demo/reencoder/model")
    ap.add_argument("--out", default="runs/bench/bench.json")
    ap.add_argument("--profile", action="store_true", help="also profile one default training step (OUT's folder/profile.txt)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="cuda: training throughput on a GPU (peak RSS and decoding are CPU-only parts)")
    args = ap.parse_args(argv)
    global DEVICE
    DEVICE = torch.device(args.device)
    data_bin = Path(args.data) / "bin"
    if not (data_bin / "dict.zh.txt").exists():
        print(f"error: no binarized data in {data_bin} (run `make data`)", file=sys.stderr)
        return 2
    res: Dict[str, object] = {"threads": torch.get_num_threads(), "torch": torch.__version__, "arch": args.arch,
                              "device": torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu"}
    task, _ = build(data_bin, args.arch, [], DEVICE)
    model = variant_model(data_bin, args.arch)  # the default variant, fp32 GEMMs
    grid = model.decoder.grid
    n, D = grid.hidden_size, grid.depth
    samples = real_batches(task, args.max_tokens, args.batches)
    rows = sum(s["net_input"]["src_tokens"].numel() for s in samples) // len(samples)  # ~ cells/step x batch
    peak = {str(dt).split(".")[-1]: max(matmul_peak(rows, 3 * n, 8 * n, dt), matmul_peak(rows, 3 * n, 4 * n, dt))
            for dt in (torch.float32, torch.bfloat16)}
    res["peak_gflops"] = peak
    flops = sum(grid_flops(s, n, D) for s in samples) / len(samples)
    pairs = sum(s["nsentences"] for s in samples) / len(samples)
    toks = sum(s["ntokens"] for s in samples) / len(samples)
    variants = train_variants(data_bin, args.arch, samples, args.rounds)
    if args.profile:
        print(profile_train_step(model, samples[0], Path(args.out).parent / "profile.txt"))
    size = matched_size(data_bin, lstm_of, params(model), range(64, 513, 16))
    _, lstm = build(data_bin, "lstm", lstm_args(size), DEVICE)
    lstm_s = min(time_train_step(lstm, samples) for _ in range(args.rounds))
    naive_s = variants["naive loop (test oracle)"][0][0]
    table = []
    for name, (times, dt) in variants.items():
        timed = samples[: len(times)]  # the naive loop (and slow bf16) run on the first batch only
        sec = sum(times)
        gfs = sum(grid_flops(s, n, D) for s in timed) / sec / 1e9
        table.append({"variant": name, "dtype": dt, "s_per_step": sec / len(times),
                      "pairs_per_s": sum(s["nsentences"] for s in timed) / sec,
                      "tgt_tokens_per_s": sum(s["ntokens"] for s in timed) / sec, "gflops": gfs, "of_own_peak": gfs / peak[dt],
                      "of_best_peak": gfs / max(peak.values()), "x_naive": naive_s / times[0]})
    table.append({"variant": f"fairseq lstm (size {size}, {params(lstm):,} params)", "s_per_step": lstm_s,
                  "pairs_per_s": pairs / lstm_s, "tgt_tokens_per_s": toks / lstm_s})
    res.update(train=table, params=params(model), lstm_params=params(lstm), batch={"pairs": pairs, "tgt_tokens": toks,
               "max_tokens": args.max_tokens, "grid_gflop_per_step": flops / 1e9})
    if DEVICE.type == "cuda":
        res["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    else:
        res["peak_rss_gib_4k_tokens"] = peak_rss_of_step(data_bin, args.arch, 4096)
    ckpt = Path(args.checkpoint)
    if ckpt.exists() and DEVICE.type == "cpu":
        res["decode_beam5"] = decode_speed(data_bin, ckpt, Path(args.model_folder), n=500)
    print_table(res)
    write_json(args.out, res)
    return 0


def print_table(res) -> None:
    pk = res["peak_gflops"]
    print(f"matmul peak for the grid's GEMM shapes: fp32 {pk['float32']:.1f} GFLOP/s, bf16 {pk['bfloat16']:.1f} GFLOP/s"
          f" ({res['device']}, {res['threads']} CPU threads, torch {res['torch']})")
    b = res["batch"]
    print(f"{res['arch']} ({res['params']:,} params), real Tatoeba batches of {b['max_tokens']} tokens: "
          f"{b['pairs']:.0f} pairs, {b['tgt_tokens']:.0f} target tokens, {b['grid_gflop_per_step']:.1f} GFLOP per step")
    print(f"{'variant':48s} {'s/step':>8s} {'pairs/s':>8s} {'tok/s':>8s} {'GFLOP/s':>8s} {'%peak':>6s} {'%best':>6s} "
          f"{'x naive':>8s}")
    for r in res["train"]:
        extra = "" if "gflops" not in r else (f" {r['gflops']:8.1f} {100 * r['of_own_peak']:5.0f}% "
                                             f"{100 * r['of_best_peak']:5.0f}% {r['x_naive']:8.1f}")
        print(f"{r['variant']:48s} {r['s_per_step']:8.3f} {r['pairs_per_s']:8.1f} {r['tgt_tokens_per_s']:8.0f}{extra}")
    if "peak_rss_gib_4k_tokens" in res:
        print(f"peak RSS of a training step at 4k tokens: {res['peak_rss_gib_4k_tokens']:.2f} GiB")
    if "peak_gpu_memory_gib" in res:
        print(f"peak GPU memory allocated: {res['peak_gpu_memory_gib']:.2f} GiB")
    for k, v in res.get("decode_beam5", {}).items():
        print(f"beam 5 decoding, {k}: {v:.1f}")  # sentences/s, or seconds for the startup


if __name__ == "__main__":
    sys.exit(main())
