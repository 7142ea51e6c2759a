"""Scaling on paper: what each system's training step would cost on a stated GPU (an estimate).

    python -m eval.scaling_estimate --data work/data/tvsub --out runs/scaling/estimate.json \\
        [--gpu "H100 SXM" --peak-tflops 989 --hbm-tbs 3.35 --launch-us 8 --max-tokens 4096,16384]

For ``reencoder_base``, ``reencoder_big`` and the recipes' ``lstm`` and ``transformer``
(``recipes/lib.sh``), on real training batches of ``--data`` (fairseq's batching), it counts on
the CPU what one training step (the bench's: forward, loss, backward; :func:`eval.bench.train_step`)
really runs: matmul FLOPs (the bench's counter, :func:`eval.bench_widths.counted_flops`' mode),
aten ops that are not views (each at least one kernel launch on a GPU) and the bytes those
non-GEMM ops read and write.  Counts are taken on the first one and two pairs of each batch at
the batch's padded shape and extended to its B pairs (every count is affine in B at a fixed
shape: activations grow with B, weights and their gradients do not).  The grid's gate math is
counted as the eager torch ops it is on a GPU (``REENCODER_GATE_KERNELS=0``).

The estimate of one step on the GPU is the largest of three lower bounds (perfect overlap; a
real step is slower): the FLOPs at ``--gemm-eff`` of the dense bf16 peak, the bytes at
``--mem-eff`` of the HBM bandwidth, and the ops times ``--launch-us`` (PyTorch's eager dispatch
and launch, paid one op after another: the Reencoder's wavefront runs its S + T + D - 2
hyperplanes in sequence, forward and again backward, each a fixed number of ops whatever the
batch).  From it: target tokens/s and hours per epoch of the training set (its target tokens,
EOS included, read from the binarized data).  :func:`step_estimate` is the arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

GEMMS = {"mm", "addmm", "addmm_", "bmm", "baddbmm", "addbmm", "_scaled_dot_product_flash_attention_for_cpu"}
#: ops that move selected rows: they read and write the rows moved, not the whole tensor they index
INDEXING = {"index_select", "gather", "index", "embedding", "take", "index_add", "index_add_", "index_copy",
            "index_copy_", "index_put", "index_put_", "_index_put_impl_", "scatter", "scatter_", "scatter_add",
            "scatter_add_", "embedding_dense_backward"}
FREE = {"detach", "lift_fresh", "_unsafe_view", "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
        "_local_scalar_dense", "set_", "resize_"}


@dataclass
class StepCost:
    """What one training step runs: matmul FLOPs, non-view aten ops, bytes of the non-GEMM ops."""

    flops: float
    ops: float
    bytes: float

    def combine(self, other: "StepCost", a: float, b: float) -> "StepCost":
        """``a * self + b * other``, field by field."""
        return StepCost(*(a * x + b * y for x, y in zip(asdict(self).values(), asdict(other).values())))

    def __add__(self, other: "StepCost") -> "StepCost":
        return self.combine(other, 1, 1)

    def scaled(self, factor: float) -> "StepCost":
        return self.combine(self, factor, 0)


class OpCounter(TorchDispatchMode):
    """Counts aten ops that launch work (not views, allocations or detaches) and the bytes the
    non-GEMM ones read and write."""

    def __init__(self):
        super().__init__()
        self.ops, self.bytes = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if not func.is_view and name not in FREE:
            self.ops += 1
            if name not in GEMMS:
                tensors = [t for t in torch.utils._pytree.tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
                sizes = [t.numel() * t.element_size() for t in tensors if t.is_floating_point()]
                self.bytes += 2 * min(sizes, default=0) if name in INDEXING else sum(sizes)
        return out


def step_cost(fn) -> StepCost:
    """FLOPs (the bench's counter), ops and bytes of one call of ``fn``."""
    from torch.utils.flop_counter import FlopCounterMode

    from .bench_widths import _addmm_inplace_flops

    with FlopCounterMode(display=False, custom_mapping={torch.ops.aten.addmm_: _addmm_inplace_flops}) as fc:
        with OpCounter() as oc:
            fn()
    return StepCost(float(fc.get_total_flops()), float(oc.ops), float(oc.bytes))


def rows_of(sample: dict, k: int) -> dict:
    """The first ``k`` pairs of a batch, its padded shape kept."""
    def cut(x):
        if isinstance(x, dict):
            return {key: cut(v) for key, v in x.items()}
        return x[:k] if isinstance(x, torch.Tensor) else x
    return cut(sample)


def batch_cost(model, sample: dict) -> Tuple[StepCost, StepCost]:
    """``(fixed, per_pair)``: a step's cost on this batch's padded shape is ``fixed + B per_pair``,
    FLOPs and bytes from its first one and two pairs; its ops are those of two pairs (a step runs
    the same ops whatever its batch, except a few: one pair's reshapes can be views, and pairs of
    several lengths add a handful)."""
    from .bench import train_step

    one, two = (step_cost(lambda k=k: train_step(model, rows_of(sample, k))) for k in (1, 2))
    per_pair = StepCost(two.flops - one.flops, 0.0, two.bytes - one.bytes)
    return StepCost(one.flops - per_pair.flops, two.ops, one.bytes - per_pair.bytes), per_pair


@dataclass
class Assumptions:
    """The stated GPU and how well a step could use it (every number a CLI flag)."""

    gpu: str = "H100 SXM"
    peak_tflops: float = 989.0  # dense bf16
    hbm_tbs: float = 3.35
    gemm_eff: float = 0.6  # of the peak, for the steps' GEMMs
    mem_eff: float = 0.7  # of the bandwidth, for the elementwise ops
    launch_us: float = 8.0  # per op: PyTorch eager dispatch + launch, in sequence


def step_estimate(cost: StepCost, tokens: float, a: Assumptions) -> Dict[str, float]:
    """Seconds of one step on the GPU as the largest of its compute, memory and launch bounds,
    and the target tokens/s that follow; ``bound`` names the largest."""
    bounds = {"compute": cost.flops / (a.peak_tflops * 1e12 * a.gemm_eff),
              "memory": cost.bytes / (a.hbm_tbs * 1e12 * a.mem_eff),
              "launches": cost.ops * a.launch_us * 1e-6}
    bound = max(bounds, key=bounds.get)
    serial = sum(bounds.values())  # no overlap at all: the other end of the range
    return {**{f"{k}_s": v for k, v in bounds.items()}, "step_s": bounds[bound], "bound": bound,
            "tgt_tokens_per_s": tokens / bounds[bound], "serial_s": serial, "tgt_tokens_per_s_serial": tokens / serial}


def epoch_hours(epoch_tokens: float, tokens_per_s: float) -> float:
    return epoch_tokens / tokens_per_s / 3600


def system_flags(name: str) -> List[str]:
    """The fairseq flags of a system: the Reencoder's named architectures, the recipes' baselines;
    GEMM precision flags off (FLOPs do not depend on them; emulated bf16 would only be slow here)."""
    from .gpu_check import recipe_words

    if name.startswith("reencoder"):
        return ["--arch", name, "--grid-bf16", "never", "--output-layer-bf16-grads", "never",
                "--output-layer-bf16-inputs", "never"]
    return recipe_words(f"arch_flags {name}")


def grid_ops(grid, sample: dict) -> dict:
    """Ops of the grid alone (forward + backward of two pairs at ``sample``'s padded shape) per
    wavefront step: the grid runs ``S + T + D - 2`` hyperplanes one after another, forward and
    again backward, each the same handful of kernels whatever the batch."""
    S, T, n = sample["net_input"]["src_tokens"].shape[1], sample["target"].shape[1], grid.hidden_size
    src, tgt = torch.randn(2, S, n, requires_grad=True), torch.randn(2, T, n, requires_grad=True)

    def run() -> None:
        top, _ = grid(src, tgt)
        top.sum().backward()

    ops = step_cost(run).ops
    planes = S + T + grid.depth - 2
    return {"S": S, "T": T, "ops": ops, "wavefront_steps": planes, "ops_per_wavefront_step": ops / (2 * planes)}


def mean_batch_tokens(task, max_tokens: int) -> float:
    """Mean target tokens of fairseq's training batches at ``max_tokens`` (a fresh batching)."""
    data = task.dataset("train")
    itr = task.get_batch_iterator(data, max_tokens=max_tokens, seed=1, ignore_invalid_inputs=True,
                                  disable_iterator_cache=True)
    sizes = data.tgt_sizes
    batches = list(itr.frozen_batches)
    return sum(int(sizes[b].sum()) for b in batches) / len(batches)


def measure(data_bin: Path, name: str, count_tokens: int, batches: int, max_tokens: List[int]) -> dict:
    """Counts per target token and per step of one system on real batches (module docstring)."""
    from .bench import build, real_batches

    flags = system_flags(name)
    task, model = build(data_bin, flags[1], flags[2:])
    model.train()
    samples = real_batches(task, count_tokens, batches)
    costs = [batch_cost(model, s) for s in samples]
    tokens = sum(int(s["ntokens"]) for s in samples)
    zero = StepCost(0.0, 0.0, 0.0)
    fixed = sum((c[0] for c in costs), zero).scaled(1 / len(costs))
    per_token = sum((c[1].scaled(s["target"].shape[0]) for c, s in zip(costs, samples)), zero).scaled(1 / tokens)
    res = {"flags": flags, "params": sum(p.numel() for p in model.parameters()), "batches_counted": len(samples),
           "fixed_per_step": asdict(fixed), "per_tgt_token": asdict(per_token)}
    if name.startswith("reencoder"):
        res["grid"] = grid_ops(model.decoder.grid, samples[0])
    res["at_max_tokens"] = {}
    for m in max_tokens:  # a step at a GPU's batch size: its fixed cost and its tokens' costs
        toks = mean_batch_tokens(task, m)
        cost = fixed + per_token.scaled(toks)
        res["at_max_tokens"][str(m)] = {"tgt_tokens_per_step": toks, "cost": asdict(cost),
                                   "flops_per_tgt_token": cost.flops / toks}
    res["epoch_tgt_tokens"] = int(task.dataset("train").tgt_sizes.sum())
    res["epoch_pairs"] = len(task.dataset("train"))
    return res


def estimate_all(measured: Dict[str, dict], a: Assumptions) -> List[dict]:
    rows = []
    for name, m in measured.items():
        for mt, at in m["at_max_tokens"].items():
            est = step_estimate(StepCost(**at["cost"]), at["tgt_tokens_per_step"], a)
            rows.append({"system": name, "max_tokens": int(mt), "tgt_tokens_per_step": at["tgt_tokens_per_step"], **est,
                         "epoch_hours": epoch_hours(m["epoch_tgt_tokens"], est["tgt_tokens_per_s"]),
                         "epoch_hours_serial": epoch_hours(m["epoch_tgt_tokens"], est["tgt_tokens_per_s_serial"]),
                         "compute_only_tokens_per_s": a.peak_tflops * 1e12 * a.gemm_eff / at["flops_per_tgt_token"]})
    return rows


def table(measured: Dict[str, dict], rows: List[dict], a: Assumptions) -> str:
    epoch = next(iter(measured.values()))
    out = [f"Estimate (not measured) for one {a.gpu}: {a.peak_tflops:g} TFLOP/s dense bf16 at {a.gemm_eff:.0%} for GEMMs, "
           f"{a.hbm_tbs:g} TB/s at {a.mem_eff:.0%} for the other ops, {a.launch_us:g} µs per op in sequence; "
           f"an epoch = {epoch['epoch_tgt_tokens']:,} target tokens ({epoch['epoch_pairs']:,} pairs).  Ranges: the "
           "three bounds overlapping perfectly … run one after another.", "",
           "| system | parameters | GFLOP / target token | ops / step | target tokens / step "
           "| step ms: compute / memory / launches | bound | target tokens/s | minutes / epoch |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = measured[r["system"]]
        at = m["at_max_tokens"][str(r["max_tokens"])]
        out.append(f"| {r['system']} | {m['params'] / 1e6:.1f}M | {at['flops_per_tgt_token'] / 1e9:.3g} "
                   f"| {at['cost']['ops']:,.0f} | {r['tgt_tokens_per_step']:,.0f} "
                   f"| {r['compute_s'] * 1e3:.1f} / {r['memory_s'] * 1e3:.1f} / {r['launches_s'] * 1e3:.1f} "
                   f"| {r['bound']} | {r['tgt_tokens_per_s']:,.0f} … {r['tgt_tokens_per_s_serial']:,.0f} "
                   f"| {r['epoch_hours'] * 60:.1f} … {r['epoch_hours_serial'] * 60:.1f} |")
    grids = {k: m["grid"] for k, m in measured.items() if m.get("grid")}
    for name, g in grids.items():
        out.append(f"\n{name}: the grid alone runs {g['ops']:,.0f} ops for two pairs of {g['S']} source × {g['T']} "
                   f"target tokens: {g['wavefront_steps']} wavefront steps forward and again backward, "
                   f"{g['ops_per_wavefront_step']:.0f} ops each, {g['ops_per_wavefront_step'] * a.launch_us:.0f} µs of "
                   "launches per step whatever the batch.")
    return "\n".join(out) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="work/data/tvsub", help="a reencoder-data folder (its bin/ is read)")
    ap.add_argument("--systems", default="reencoder_base,reencoder_big,lstm,transformer")
    ap.add_argument("--batches", type=int, default=6, help="real batches counted per system")
    ap.add_argument("--count-max-tokens", type=int, default=1024, help="batch size of the counted batches")
    ap.add_argument("--max-tokens", default="4096,16384", help="GPU batch sizes estimated")
    ap.add_argument("--out", default="runs/scaling/estimate.json")
    ap.add_argument("--measured", help="the JSON of an earlier run: its counts, without counting again")
    for field, value in asdict(Assumptions()).items():
        ap.add_argument("--" + field.replace("_", "-"), type=type(value), default=value)
    args = ap.parse_args(argv)
    os.environ["REENCODER_GATE_KERNELS"] = "0"  # the eager gate math a GPU runs (before any grid runs)
    a = Assumptions(**{f: getattr(args, f) for f in asdict(Assumptions())})
    torch.manual_seed(0)
    if args.measured:  # the counts of an earlier run, estimated again under other assumptions
        measured = json.loads(Path(args.measured).read_text(encoding="utf-8"))["measured"]
    else:
        measured = {name: measure(Path(args.data) / "bin", name, args.count_max_tokens, args.batches,
                                  [int(m) for m in args.max_tokens.split(",")]) for name in args.systems.split(",")}
    rows = estimate_all(measured, a)
    text = table(measured, rows, a)
    print(text, end="")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"assumptions": asdict(a), "measured": measured, "estimate": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
