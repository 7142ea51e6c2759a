"""The markdown table of ``make gpu-check`` (:mod:`eval.gpu_check`) from its ``result.json``:

    python -m eval.gpu_table runs/gpu_check/result.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterable, List, Optional


def fmt(value, spec: str = ".1f", scale: float = 1.0) -> str:
    """A number formatted (times ``scale``), or an em dash for a missing one."""
    if value is None:
        return "—"
    return format(int(value), spec) if spec.endswith("d") else format(value * scale, spec)


def rows(header: List[str], lines: Iterable[List[str]]) -> List[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(line) + " |" for line in lines]


def grid_section(grid: dict) -> List[str]:
    if not grid.get("rows"):
        return []
    shapes = ", ".join(f"{b['B']}×{b['S']}×{b['T']}" for b in grid.get("batches", []))
    head = (f"### The grid of reencoder_big (n = {grid['hidden_size']}, depth {grid['depth']}) against nn.LSTM "
            f"({grid['lstm_layers']} layers of {grid['lstm_hidden_size']}, the grid's parameter count)\n\n"
            f"Forward + backward of real batches' shapes (B×S×T: {shapes}; --max-tokens {grid['max_tokens']}) on "
            f"{grid['device']}; share of {grid['bf16_peak_tflops']:.4g} TFLOP/s dense bf16 ({grid['peak_source']}; "
            f"a bf16 GEMM measured {grid['measured_bf16_gemm_tflops']:.4g}).  The LSTM runs each pair's S + T "
            "positions; tokens are the batches' target tokens.\n")
    def cells(r: dict) -> List[str]:
        if "error" in r:
            return [r["name"], f"{r['params']:,}", "error: " + r["error"].splitlines()[0][:80], "", "", "", "", ""]
        return [r["name"], f"{r['params']:,}", fmt(r.get("s_per_step"), ".2f", 1e3), fmt(r.get("tgt_tokens_per_s"), ",.0f"),
                fmt(r.get("tflops"), ".3g"), fmt(r.get("of_bf16_peak"), ".1f", 100),
                fmt(r.get("us_per_wavefront_step"), ".0f"), fmt(r.get("peak_mem_gib"), ".2f")]

    table = rows(["variant", "parameters", "ms / step", "target tokens/s", "TFLOP/s", "% of bf16 peak",
                  "µs / wavefront step", "peak GiB"], (cells(r) for r in grid["rows"]))
    return [head, *table, ""]


def markdown_table(res: dict) -> str:
    """The check's results as markdown (every part; missing numbers as em dashes)."""
    env = res["environment"]
    tests = res.get("cuda_tests", {})
    out = [f"## make gpu-check on {env['device']} ({env['mode']}, {res['started']})", "",
           f"Python {env['python']}, torch {env['torch']} (CUDA {env['cuda']}), ve-fairseq {env.get('ve-fairseq')}; "
           f"{res['total_s']} s of a {res['budget_s']:.0f} s budget; peak memory {fmt(res.get('peak_mem_gib'), '.2f')} GiB "
           f"({res['memory']}).", "",
           f"**CUDA tests** (tests/unit/test_wavefront.py -k cuda): {tests.get('passed', 0)} passed, "
           f"{tests.get('failed', 0)} failed, {tests.get('skipped', 0)} skipped ({fmt(tests.get('seconds'))} s).", ""]
    out += grid_section(res.get("grid", {}))
    train = res.get("train", {})
    budget = next((r.get("train_budget_s") for r in train.values() if r.get("train_budget_s")), None)
    out += [f"### Training on {res.get('data')} ({fmt(budget, '.0f')} s of wall clock each at most)", ""]
    out += rows(["system", "precision", "parameters", "updates", "target tokens/s", "last train loss", "dev loss", "peak GiB"],
                ([name, " ".join(r["precision"]) if isinstance(r.get("precision"), list) else str(r.get("precision", "—")),
                  fmt(r.get("params"), ",.0f"), fmt(r.get("updates"), "d"), fmt(r.get("tgt_tokens_per_s"), ",.0f"),
                  fmt(r.get("last_loss"), ".3f"), fmt(r.get("dev_loss"), ".3f"), fmt(r.get("peak_mem_gib"), ".2f")]
                 for name, r in train.items()))
    out += ["", "### Beam-5 decoding of the dev set (fairseq-generate, batch 128)", ""]
    out += rows(["system", "sentences", "sentences/s", "tokens/s", "BLEU (pieces)", "peak GiB"],
                ([name, fmt(r.get("sentences"), "d"), fmt(r.get("sent_per_s")), fmt(r.get("tokens_per_s"), ",.0f"),
                  fmt(r.get("bleu_pieces"), ".2f"), fmt(r.get("peak_mem_gib"), ".2f")]
                 for name, r in res.get("decode", {}).items()))
    errors = res.get("errors", {})
    if errors:
        out += ["", "### Errors", ""] + [f"- {k}: {str(v).splitlines()[0][:300]}" for k, v in errors.items()]
    return "\n".join(out) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m eval.gpu_table RESULT.json", file=sys.stderr)
        return 2
    print(markdown_table(json.loads(Path(argv[0]).read_text(encoding="utf-8"))), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
