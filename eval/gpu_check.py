"""``make gpu-check``: one prepared check of the project on an accelerator, in at most ~8 minutes.

    bash recipes/gpu_check.sh                  # on the GPU machine (sets up fairseq, then this)
    DRY_RUN=1 bash recipes/gpu_check.sh        # the same code on the CPU at tiny sizes (make test)
    python -m eval.gpu_check [--dry-run] [--data work/gpu_data/bin] [--out runs/gpu_check]

Parts, in order, each in a process of its own under a time limit (a failure or a timeout is
recorded in the JSON, and the check goes on):

1. ``cuda_tests``: the CUDA cases of ``tests/unit/test_wavefront.py`` (``-k cuda``; skipped on a
   machine without CUDA): passed, failed, skipped;
2. ``grid``: :mod:`eval.gpu_parts` ``grid``: ``reencoder_big``'s grid forward + backward against
   cuDNN's LSTM of its parameters (target tokens/s, TFLOP/s, share of the GPU's bf16 peak);
3. ``train``: ``reencoder_big`` and the recipes' transformer (``recipes/lib.sh``) trained by
   fairseq for ``--train-s`` seconds each on the TVsub slice of ``make gpu-data`` (updates, target
   tokens/s, last training loss, dev loss, peak memory);
4. ``decode``: beam-5 ``fairseq-generate`` of each trained checkpoint on the slice's dev set
   (sentences/s and tokens/s by fairseq's own timer, peak memory).

Writes ``OUT/result.json`` (every part, its numbers or its error, the environment) and
``OUT/table.md``.  ``--dry-run`` builds a tiny synthetic corpus (:mod:`data_prep.synthetic`)
when no ``--data`` is given, shrinks the models by flags and trains a few updates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional

from .fairseq_log import log_records, parameter_count
from .gpu_table import markdown_table

REPO = Path(__file__).resolve().parents[1]
SYSTEMS = ("reencoder_big", "transformer")
#: peak learning rate and warm-up per system: the transformer's are the demo's (recipes/lib.sh
#: DEMO_TRANSFORMER); the Reencoder's the TVsub tuning grid's lower rate (recipes/tvsub.sh), a
#: 512-unit grid being wider than the demo's
LR = {"reencoder_big": ["--lr", "0.003", "--warmup-updates", "200"],
      "transformer": ["--lr", "0.002", "--warmup-updates", "600"]}
#: each system's GEMM precision on a GPU: the grid's GEMMs are bf16 there by default (--grid-bf16
#: auto); the transformer gets fairseq's --fp16 (its --bf16 means a TPU; fp32 master weights, loss scaling),
#: retried in fp32 if it fails
PRECISION = {"reencoder_big": [], "transformer": ["--fp16"]}
#: the dry run's sizes: the same architectures made tiny by their own flags
TINY = {"reencoder_big": ["--grid-hidden-size", "16", "--encoder-embed-dim", "16", "--decoder-embed-dim", "16"],
        "transformer": ["--encoder-embed-dim", "16", "--decoder-embed-dim", "16", "--encoder-ffn-embed-dim", "32",
                        "--decoder-ffn-embed-dim", "32"]}


# seconds kept per decoding run, per training run's start and end; at most for the tests and the grid
DECODE_S, START_S, PART_S = 35.0, 35.0, 120.0


class Clock:
    """The check's whole time budget; each part gets its planned seconds or what is left."""

    def __init__(self, budget_s: float):
        self.start, self.budget_s = time.monotonic(), budget_s

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.start)

    def allow(self, planned: float) -> float:
        return max(0.0, min(planned, self.left()))


def run(cmd: List[str], timeout: float, log: Path) -> Dict[str, object]:
    """Run ``cmd`` (output to ``log``) for at most ``timeout`` seconds: rc, seconds, timed_out."""
    t = time.monotonic()
    with open(log, "w", encoding="utf-8") as f:
        try:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout, cwd=REPO).returncode
            timed_out = False
        except subprocess.TimeoutExpired:
            rc, timed_out = None, True
    return {"rc": rc, "seconds": round(time.monotonic() - t, 1), "timed_out": timed_out}


def tail(path: Path, lines: int = 8) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def failure(proc: Dict[str, object], log: Path) -> Optional[str]:
    """None for a process that ended well, else one message with the end of its log."""
    if proc["timed_out"]:
        return f"timed out after {proc['seconds']} s; log {log}: {tail(log, 3)}"
    if proc["rc"] != 0:
        return f"exit {proc['rc']}; log {log}: {tail(log)}"
    return None


def python() -> List[str]:
    return [sys.executable]


def cuda_tests(out: Path, timeout: float) -> dict:
    """``pytest -k cuda`` on the wavefront's tests: counts of passed / failed / skipped."""
    log = out / "cuda_tests.log"
    proc = run(python() + ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "cuda",
                           "tests/unit/test_wavefront.py"], timeout, log)
    text = log.read_text(encoding="utf-8", errors="replace")
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|deselected|error)", text)}
    res = {"passed": counts.get("passed", 0), "failed": counts.get("failed", 0), "skipped": counts.get("skipped", 0),
           "errors": counts.get("error", 0), "seconds": proc["seconds"]}
    res["selected"] = res["passed"] + res["failed"] + res["skipped"] + res["errors"]
    if proc["timed_out"] or res["selected"] == 0 or (proc["rc"] not in (0, 1)):
        res["error"] = failure(proc, log) or f"no test ran; log {log}: {tail(log)}"
    elif res["failed"] or res["errors"]:
        res["error"] = f"{res['failed']} failed, {res['errors']} errors; log {log}: {tail(log)}"
    return res


def grid(data: Path, out: Path, dry_run: bool, timeout: float) -> dict:
    log, result = out / "grid.log", out / "grid.json"
    cmd = python() + ["-m", "eval.gpu_parts", "grid", "--data", str(data), "--out", str(result)]
    cmd += ["--dry-run", "--max-tokens", "24", "--batches", "1", "--seconds", "0"] if dry_run else []
    proc = run(cmd, timeout, log)
    res = json.loads(result.read_text()) if result.exists() and not proc["timed_out"] else {}
    res["seconds"] = proc["seconds"]
    err = failure(proc, log)
    if err:
        res["error"] = err
    return res


def recipe_words(expr: str) -> List[str]:
    """Words that ``recipes/lib.sh`` prints for ``expr`` (one word a line): the recipes' own
    definitions, e.g. ``arch_flags transformer``."""
    script = f'source recipes/lib.sh && for w in $({expr}); do echo "$w"; done'
    with tempfile.TemporaryDirectory() as tmp:  # lib.sh runs $BIN/python: this one
        (Path(tmp) / "python").symlink_to(sys.executable)
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, cwd=REPO,
                              env=dict(os.environ, BIN=tmp)).stdout.split()


def train_command(system: str, data: Path, ckpt: Path, log: Path, seconds: float, dry_run: bool,
                  precision: List[str]) -> List[str]:
    """fairseq-train flags of one system: the recipes' architecture and optimiser, ``seconds``
    of wall clock with the learning rate decayed to zero then (lib.sh ``budget``), validation
    and a checkpoint only at the end."""
    arch = ["--arch", "reencoder_big"] if system == "reencoder_big" else recipe_words("arch_flags transformer")
    minutes = f"{seconds / 60:.4f}"
    args = [str(data), "--user-dir", "reencoder", "--task", "translation", "--source-lang", "zh",
            "--target-lang", "en", "--seed", "1", *arch, *recipe_words("printf '%s\\n' \"${DEMO_OPT[@]}\""),
            *recipe_words(f"budget {minutes}"), *LR[system], *precision, "--save-dir", str(ckpt),
            "--no-epoch-checkpoints", "--save-interval", "100000", "--validate-interval", "100000",
            "--log-format", "simple", "--log-file", str(log), "--num-workers", "0"]
    if dry_run:
        return args + ["--cpu", "--max-tokens", "64", "--max-update", "3", "--log-interval", "1", *TINY[system]]
    return args + ["--max-tokens", "4096", "--log-interval", "20"]


def train_summary(log: Path) -> dict:
    """Updates, target tokens/s (fairseq's wps, mean of the logged intervals after the first),
    last training loss and the dev loss from a fairseq-train log."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    inner = [f for tag, f in log_records(text) if tag == "train_inner"]
    valid = [f for tag, f in log_records(text) if tag == "valid"]
    wps = [f["wps"] for f in inner[1:] or inner if "wps" in f]
    updates = max([int(f["num_updates"]) for tag, f in log_records(text) if "num_updates" in f], default=0)
    return {"updates": updates, "tgt_tokens_per_s": sum(wps) / len(wps) if wps else None,
            "last_loss": inner[-1].get("loss") if inner else None,
            "dev_loss": valid[-1].get("loss") if valid else None, "params": parameter_count(text)}


def fairseq(tool: str, args: List[str], out: Path, name: str, timeout: float) -> tuple:
    """One fairseq CLI run through :mod:`eval.gpu_parts` (peak memory kept): (process, log, peak)."""
    log, peak = out / f"{name}.log", out / f"{name}.peak.json"
    peak.unlink(missing_ok=True)
    proc = run(python() + ["-m", "eval.gpu_parts", "fairseq", tool, "--peak-file", str(peak), "--", *args], timeout, log)
    mem = json.loads(peak.read_text()) if peak.exists() else {}
    return proc, log, mem


def train(system: str, data: Path, out: Path, seconds: float, dry_run: bool, clock: Clock) -> dict:
    ckpt, log = out / system / "ckpt", out / system / "train.log"
    precision = PRECISION[system] if not dry_run else []
    for attempt in (precision, []) if precision else (precision,):
        shutil.rmtree(ckpt, ignore_errors=True)  # fairseq would resume an earlier check's checkpoint
        ckpt.mkdir(parents=True)
        log.unlink(missing_ok=True)
        cmd = train_command(system, data, ckpt, log, seconds, dry_run, attempt)
        limit = clock.left() if dry_run else clock.allow(seconds + 90)
        proc, _, mem = fairseq("train", cmd, out / system, "fairseq-train", limit)
        res = {**train_summary(log), "train_budget_s": seconds, "seconds": proc["seconds"], "precision": attempt or "fp32",
               "peak_mem_gib": mem.get("peak_mem_gib"), "command": "fairseq-train " + " ".join(cmd)}
        err = failure(proc, out / system / "fairseq-train.log")
        if err:
            res["error"] = err
        if not (err and res["updates"] == 0 and attempt):  # a failed --fp16 run is retried in fp32
            break
        print(f"gpu-check: {system} with {' '.join(attempt)} failed; retrying in fp32", file=sys.stderr, flush=True)
    res["checkpoint"] = str(ckpt / "checkpoint_last.pt") if (ckpt / "checkpoint_last.pt").exists() else None
    return res


def decode(system: str, data: Path, out: Path, ckpt: Optional[str], dry_run: bool, timeout: float) -> dict:
    """Beam-5 decoding of the dev set by fairseq-generate: its own timer's sentences/s."""
    if not ckpt:
        return {"error": "no checkpoint: training did not save one"}
    args = [str(data), "--user-dir", "reencoder", "--path", ckpt, "--gen-subset", "valid", "--beam", "5",
            "--batch-size", "128", "--source-lang", "zh", "--target-lang", "en", "--max-len-a", "2",
            "--max-len-b", "10", "--required-batch-size-multiple", "1", "--quiet"]
    args += ["--cpu"] if dry_run else []
    proc, log, mem = fairseq("generate", args, out / system, "fairseq-generate", timeout)
    text = log.read_text(encoding="utf-8", errors="replace")
    res: Dict[str, object] = {"seconds": proc["seconds"], "peak_mem_gib": mem.get("peak_mem_gib")}
    m = re.search(r"Translated ([\d,]+) sentences \(([\d,]+) tokens\) in ([\d.]+)s \(([\d.]+) sentences/s, "
                  r"([\d.]+) tokens/s\)", text)
    if m:
        res.update(sentences=int(m.group(1).replace(",", "")), tokens=int(m.group(2).replace(",", "")),
                   generate_s=float(m.group(3)), sent_per_s=float(m.group(4)), tokens_per_s=float(m.group(5)))
    bleu = re.search(r"BLEU4? = ([\d.]+)", text)
    res["bleu_pieces"] = float(bleu.group(1)) if bleu else None
    err = failure(proc, log) or (None if m else f"no 'Translated' line; log {log}: {tail(log)}")
    if err:
        res["error"] = err
    return res


def environment(dry_run: bool) -> dict:
    """What the machine offers: python, torch, CUDA, the device, fairseq."""
    import importlib.metadata as md

    import torch

    env = {"mode": "dry_run" if dry_run else "gpu", "python": platform.python_version(), "executable": sys.executable,
           "torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
           "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
           "wheels_installed": os.environ.get("GPU_CHECK_WHEELS", "")}
    for pkg in ("ve-fairseq", "hydra-core", "omegaconf", "sacrebleu", "sentencepiece"):
        try:
            env[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            env[pkg] = None
    try:
        import fairseq  # noqa: F401

        env["fairseq_import"] = "ok"
    except Exception as e:  # the parts below need it: said once here, and in their errors
        env["fairseq_import"] = f"{type(e).__name__}: {e}"
    return env


def part(results: dict, name: str, fn: Callable[[], dict], save: Callable[[], None]) -> None:
    """Run one part (an exception in it becomes its error), then ``save`` what is known so far:
    a check killed from outside still leaves the parts it finished."""
    print(f"gpu-check: {name} ...", file=sys.stderr, flush=True)
    try:
        results[name] = fn()
    except Exception as e:
        results[name] = {"error": f"{type(e).__name__}: {e}"}
    err = results[name].get("error")
    print(f"gpu-check: {name} {'FAILED: ' + str(err).splitlines()[0] if err else 'done'}", file=sys.stderr, flush=True)
    save()


def summarize(results: dict, clock: Clock) -> None:
    """The check's peak memory over its parts, its time so far and every part's error."""
    mems = [r.get("peak_mem_gib") for r in [*results["train"].values(), *results["decode"].values(),
                                            *results["grid"].get("rows", [])]]
    results["peak_mem_gib"] = max([m for m in mems if m is not None], default=None)
    results["total_s"] = round(time.monotonic() - clock.start, 1)
    parts = [("cuda_tests", results["cuda_tests"]), ("grid", results["grid"]),
             *[(f"train {s}", r) for s, r in results["train"].items()],
             *[(f"decode {s}", r) for s, r in results["decode"].items()]]
    results["errors"] = {name: r["error"] for name, r in parts if r.get("error")}


def dry_data(out: Path) -> Path:
    from data_prep.synthetic import Settings, build

    return build(out / "data", Settings(task="reverse", train=300, valid=12, test=12, min_len=3, max_len=8,
                                        symbols=20)) / "bin"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", default=os.environ.get("DRY_RUN", "") not in ("", "0"),
                    help="CPU, tiny sizes (default: on when $DRY_RUN is set)")
    ap.add_argument("--data", type=Path, help="fairseq bin folder (default: work/gpu_data/bin; dry run: synthetic)")
    ap.add_argument("--out", type=Path, help="default runs/gpu_check (dry run: runs/gpu_check_dry)")
    ap.add_argument("--budget-s", type=float, help="the whole check's wall clock (default 480; dry run 1800: a cap)")
    ap.add_argument("--train-s", type=float, default=150.0, help="training seconds per system (default %(default)s)")
    args = ap.parse_args(argv)
    out = args.out or REPO / ("runs/gpu_check_dry" if args.dry_run else "runs/gpu_check")
    out.mkdir(parents=True, exist_ok=True)
    train_s = 120.0 if args.dry_run else args.train_s  # a dry run stops at 3 updates (--max-update)
    budget = args.budget_s or (1800.0 if args.dry_run else 480.0)
    clock = Clock(budget)
    results: dict = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "budget_s": budget}
    results["environment"] = env = environment(args.dry_run)
    if not args.dry_run and not env["cuda_available"]:
        print("error: torch sees no CUDA device here (DRY_RUN=1 runs the check on the CPU)", file=sys.stderr)
        return 2
    data = args.data or (dry_data(out) if args.dry_run else REPO / "work/gpu_data/bin")
    if not (data / "dict.en.txt").exists():
        print(f"error: {data}: no prepared data (run `make gpu-data` where ../shared is, and carry work/gpu_data)",
              file=sys.stderr)
        return 2
    results.update(data=str(data), memory="GPU memory allocated (torch)" if not args.dry_run else "CPU peak RSS",
                   cuda_tests={}, grid={}, train={}, decode={})

    def save() -> None:
        summarize(results, clock)
        (out / "result.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        (out / "table.md").write_text(markdown_table(results), encoding="utf-8")

    cap = clock.left if args.dry_run else lambda: PART_S  # a dry run's parts share its whole budget (slow CPUs)
    part(results, "cuda_tests", lambda: cuda_tests(out, clock.allow(cap())), save)
    part(results, "grid", lambda: grid(data, out, args.dry_run, clock.allow(cap())), save)
    for k, system in enumerate(SYSTEMS):  # each system's share of what the decoding runs leave, less its start and end
        seconds = max(1.0, min(train_s, (clock.left() - DECODE_S * len(SYSTEMS)) / (len(SYSTEMS) - k) - START_S))
        part(results["train"], system, lambda s=system, t=seconds: train(s, data, out, t, args.dry_run, clock), save)
    for system in SYSTEMS:
        ckpt = results["train"][system].get("checkpoint")
        part(results["decode"], system, lambda s=system, c=ckpt: decode(s, data, out, c, args.dry_run,
                                                                             clock.allow(max(cap(), 2 * DECODE_S))), save)
    print(markdown_table(results))
    print(f"wrote {out / 'result.json'} and {out / 'table.md'} in {results['total_s']} s"
          f"{'; errors in ' + ', '.join(results['errors']) if results['errors'] else ''}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
