"""Recipe: a quick learning check — can the Reencoder learn to *copy* and to *reverse* random token
sequences, and in how many updates compared with fairseq's ``lstm``?

For each task and each system ("variant": a named set of ``fairseq-train`` flags), through the
public CLIs with ``--user-dir reencoder``:

1. data (``data_prep/synthetic.py``): random sequences of 3–15 symbols over 30, target = the
   sequence (copy) or the sequence backwards (reverse); valid and test sequences never occur in
   training; binarized with ``fairseq-preprocess`` into ``OUT/data/TASK/bin``;
2. ``fairseq-train --task translation`` from scratch: one CPU thread, seed 1, Adam, the same
   batches (``--max-tokens``), learning rate and dropout for every system; a checkpoint every
   ``--eval-every`` updates;
3. each checkpoint, as soon as it is written: ``fairseq-generate`` on the held-out test set
   (greedy by default, ``--beam``), exact-match = the share of test sequences whose whole output
   equals the target.  **updates-to-solve** = the first evaluated update count with exact-match
   ≥ ``--target`` (99 %); training stops there (or at ``--max-update``: "not solved").

Systems (``--variants`` picks and orders them; ``--variant NAME="FLAGS"`` adds or replaces one):

* ``paper`` — ``reencoder_paper``, the paper's layout: each row read out at its last source cell,
  raw 128-unit embeddings in;
* ``base``  — ``reencoder_base``, the demo's Reencoder: attention pooling over each row,
  512-unit embeddings;
* ``lstm``  — fairseq's ``lstm`` with attention, 256 units (the demo's baseline, ``LSTM_ARCH``
  in ``recipes/lib.sh``).

Every Reencoder variant gets the same grid size, ``--grid-hidden-size`` ``--grid-hidden`` (64:
the 30-symbol tasks do not need the demo's 128), unless its flags set one.  Runs go
``--parallel`` at a time (one thread each; the evaluations of a run share its core).

Usage: ``python recipes/synthetic.py --out work/synthetic [--tasks copy reverse] [--variants paper
base lstm] [--variant NAME="FLAGS"] [--max-update N] [--eval-every K]`` (``make synthetic``).
Results: ``OUT/results.json`` and ``OUT/results.md`` (task × system: updates-to-solve, seconds
of training to get there, exact-match at every evaluation), the logs under ``OUT/runs/TASK/NAME``
and the solving checkpoint as ``solved.pt``.  Every run trains from scratch.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data_prep.errors import DataError  # noqa: E402
from data_prep.synthetic import TASKS, Settings, build  # noqa: E402
from eval.fairseq_log import log_records, parameter_count  # noqa: E402

PLUGIN = REPO / "reencoder"
BIN = Path(sys.executable).parent
LSTM_256 = ("--arch lstm --encoder-embed-dim 256 --decoder-embed-dim 256 --decoder-out-embed-dim 256 "
            "--encoder-hidden-size 256 --decoder-hidden-size 256 --encoder-layers 1 --decoder-layers 1 "
            "--share-decoder-input-output-embed --dropout 0.1")
VARIANTS = {
    "paper": "--arch reencoder_paper",
    "base": "--arch reencoder_base",
    "lstm": LSTM_256,
}
CHECKPOINT = re.compile(r"checkpoint(\d+|_\d+_\d+)\.pt")  # epoch end / every --eval-every updates
SAVED = re.compile(r"Saved checkpoint (\S+) \(epoch \d+ @ (\d+) updates")
_print_lock = threading.Lock()
ABORT = threading.Event()  # set when a run fails: the others stop too


class RecipeError(Exception):
    """A one-line, user-facing failure (bad flags, a failed CLI)."""


def say(*parts) -> None:
    with _print_lock:
        print(*parts, flush=True)


def variant_flags(flags: str, grid_hidden: int) -> list:
    """The flags of a variant; a Reencoder without its own ``--grid-hidden-size`` gets the common one."""
    args = shlex.split(flags)
    if any(a.startswith("reencoder") for a in args) and "--grid-hidden-size" not in args:
        args += ["--grid-hidden-size", str(grid_hidden)]
    return args


def check_flags(name: str, flags: list, bin_dir: Path) -> None:
    """Parse a system's flags the way fairseq-train does, so that a typo fails before any training."""
    logging.getLogger("fairseq").setLevel(logging.WARNING)
    from reencoder.loading import parse_training_args

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            parse_training_args([bin_dir, "--task", "translation", *flags])
        except SystemExit:
            last = re.sub(r"^\S+: error: ", "", (err.getvalue().strip().splitlines() or ["bad flags"])[-1])
            raise RecipeError(f"variant {name}: {last}") from None


def train_command(opts, bin_dir: Path, save_dir: Path, flags: list) -> list:
    return [
        BIN / "fairseq-train", bin_dir, "--user-dir", PLUGIN, "--task", "translation", "--source-lang", "zh",
        "--target-lang", "en", "--cpu", "--seed", opts.seed, "--optimizer", "adam", "--lr", opts.lr,
        "--clip-norm", 1.0, "--max-tokens", opts.max_tokens, "--criterion", "cross_entropy",
        "--max-update", opts.max_update, "--save-interval-updates", opts.eval_every,
        "--validate-interval-updates", opts.eval_every, "--no-last-checkpoints", "--no-save-optimizer-state",
        "--required-batch-size-multiple", 1, "--save-dir", save_dir, "--num-workers", 0,
        "--log-format", "simple", "--log-interval", 50, "--no-progress-bar", *schedule_flags(opts), *flags,
    ]


def schedule_flags(opts) -> list:
    """The learning-rate schedule: the demo's inverse square root after ``--warmup`` updates, or a
    constant rate (``--warmup 0``)."""
    if opts.warmup == 0:
        return []
    return ["--lr-scheduler", "inverse_sqrt", "--warmup-updates", opts.warmup, "--warmup-init-lr", 1e-07]


def exact_match(opts, bin_dir: Path, ckpt: Path, log: Path, env: dict) -> float:
    """Share of test sequences that ``fairseq-generate`` outputs exactly (hypothesis == target)."""
    cmd = [BIN / "fairseq-generate", bin_dir, "--user-dir", PLUGIN, "--path", ckpt, "--gen-subset", "test",
           "--source-lang", "zh", "--target-lang", "en", "--cpu", "--beam", opts.beam, "--batch-size", 250,
           "--required-batch-size-multiple", 1, "--max-len-a", 1, "--max-len-b", 5]
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise RecipeError(f"fairseq-generate failed on {ckpt}: {proc.stderr.strip().splitlines()[-1:]} (see {log})")
    found = {kind: dict(re.findall(rf"^{kind}-(\d+)\t(?:\S+\t)?(.*)$", proc.stdout, re.M)) for kind in "TH"}
    if len(found["H"]) != opts.test or found["H"].keys() != found["T"].keys():
        raise RecipeError(f"{log}: {len(found['H'])} hypotheses for {opts.test} test sequences")
    return sum(found["H"][i].split() == found["T"][i].split() for i in found["T"]) / opts.test


def run(opts, task: str, name: str, flags: list, bin_dir: Path) -> dict:
    """Train one system on one task, evaluating every checkpoint as it appears, until solved."""
    run_dir = opts.out / "runs" / task / name
    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run, never a resumed one
    save_dir = run_dir / "ckpt"
    save_dir.mkdir(parents=True)
    log = run_dir / "train.log"
    env = dict(os.environ, OMP_NUM_THREADS=str(opts.threads), MKL_NUM_THREADS=str(opts.threads), PYTHONUNBUFFERED="1")
    cmd = [str(c) for c in train_command(opts, bin_dir, save_dir, flags)]
    (run_dir / "command.txt").write_text(shlex.join(cmd) + "\n", encoding="utf-8")
    start = time.time()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    say(f"[{task}/{name}] fairseq-train {shlex.join(cmd[1:])}")
    result = {"flags": shlex.join(flags), "curve": [], "updates_to_solve": None, "seconds_to_solve": None}
    seen = set()
    while True:
        finished = proc.poll() is not None  # read the log after this: nothing is missed
        text = log.read_text(encoding="utf-8", errors="replace")
        saved = [(int(u), Path(p)) for p, u in SAVED.findall(text) if p not in seen]
        for updates, ckpt in saved:
            seen.add(str(ckpt))
            if not CHECKPOINT.fullmatch(ckpt.name):
                continue  # checkpoint_best.pt: a copy
            if updates % opts.eval_every:
                ckpt.unlink()  # an epoch end between two evaluation points
                continue
            train_s = ckpt.stat().st_mtime - start
            exact = exact_match(opts, bin_dir, ckpt, run_dir / f"generate_{updates}.log", env)
            result["curve"].append({"updates": updates, "exact": round(exact, 4), "train_s": round(train_s, 1)})
            say(f"[{task}/{name}] {updates:>5} updates: exact match {100 * exact:5.1f} % ({train_s:.0f} s of training)")
            if exact >= opts.target:
                ckpt.replace(run_dir / "solved.pt")
                result.update(updates_to_solve=updates, seconds_to_solve=round(train_s, 1))
                break
            ckpt.unlink()
        if result["updates_to_solve"] is not None or (finished and not saved) or ABORT.is_set():
            break
        time.sleep(1)
    if proc.poll() is None:
        proc.terminate()
    if proc.wait() not in (0, -15) and result["updates_to_solve"] is None:
        last = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        raise RecipeError(f"training {task}/{name} failed (exit {proc.returncode}): {last} (see {log})")
    shutil.rmtree(save_dir, ignore_errors=True)
    text = log.read_text(encoding="utf-8", errors="replace")
    valid = {int(f["num_updates"]): f["loss"] for tag, f in log_records(text) if tag == "valid" and "loss" in f}
    for point in result["curve"]:
        point["valid_loss"] = valid.get(point["updates"])
    result["params"] = parameter_count(text)
    result["wall_s"] = round(time.time() - start, 1)
    solved = result["updates_to_solve"]
    say(f"[{task}/{name}] " + (f"solved at {solved} updates" if solved else f"not solved in {opts.max_update} updates")
        + f" ({result['wall_s']:.0f} s wall)")
    return result


def run_all(opts, names: list, flags: dict, data: dict) -> dict:
    """Every (task, system) run, ``--parallel`` at a time; the first failure stops them all."""
    with ThreadPoolExecutor(max_workers=opts.parallel) as pool:
        futures = {(task, name): pool.submit(run, opts, task, name, flags[name], data[task])
                   for task in opts.tasks for name in names}
        try:
            return {job: f.result() for job, f in futures.items()}
        except BaseException:
            ABORT.set()
            pool.shutdown(cancel_futures=True)
            raise


def markdown(results: dict) -> str:
    """task × system: updates-to-solve, seconds of training to it, exact match at each evaluation."""
    lines = [f"Exact-match target {100 * results['target']:g} % on {results['data']['test']} held-out test "
             f"sequences; {results['max_tokens']} tokens per batch; grid hidden size {results['grid_hidden']} "
             "for every Reencoder variant.", "",
             "| task | system | params | updates to solve | s of training | exact match (%) after N updates, N: % |",
             "|---|---|---:|---:|---:|---|"]
    for task, systems in results["runs"].items():
        for name, r in systems.items():
            solved = r["updates_to_solve"]
            curve = ", ".join(f"{p['updates']}: {100 * p['exact']:.1f}" for p in r["curve"])
            lines.append(f"| {task} | {name} | {r['params'] or 0:,} | "
                         f"{solved if solved else '> ' + str(results['max_update'])} | "
                         f"{r['seconds_to_solve'] if solved else r['wall_s']} | {curve} |")
    lines += ["", "Systems:", ""] + [f"* `{n}`: `{f}`" for n, f in results["variants"].items()]
    return "\n".join(lines) + "\n"


def parse_variant(text: str):
    name, eq, flags = text.partition("=")
    if not eq or not re.fullmatch(r"[\w.-]+", name) or not flags.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=\"FLAGS\", got {text!r}")
    return name, flags.strip()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "work" / "synthetic")
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    p.add_argument("--variant", type=parse_variant, action="append", default=[], metavar='NAME="FLAGS"',
                   help="add (or replace) a system: fairseq-train model flags")
    p.add_argument("--variants", nargs="+", metavar="NAME", help="systems to run, in order (default: all)")
    p.add_argument("--grid-hidden", type=int, default=64, help="--grid-hidden-size of every Reencoder variant")
    p.add_argument("--max-update", type=int, default=800, help="give up after this many updates")
    p.add_argument("--eval-every", type=int, default=100, help="checkpoint and evaluate every K updates")
    p.add_argument("--target", type=float, default=0.99, help="exact-match share that counts as solved")
    p.add_argument("--max-tokens", type=int, default=1024)
    p.add_argument("--lr", type=float, default=0.005, help="peak learning rate")
    p.add_argument("--warmup", type=int, default=100,
                   help="inverse-sqrt schedule with this many warm-up updates; 0: constant lr")
    p.add_argument("--beam", type=int, default=1, help="1 = greedy decoding")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--parallel", type=int, default=2, help="runs at a time")
    defaults = Settings()
    for field in ("train", "valid", "test", "min_len", "max_len", "symbols"):
        p.add_argument("--" + field.replace("_", "-"), type=int, default=getattr(defaults, field), help="data: %(default)s")
    opts = p.parse_args(argv)
    variants = dict(VARIANTS, **dict(opts.variant))
    names = opts.variants or list(variants)
    unknown = [n for n in names if n not in variants]
    if unknown:
        p.error(f"unknown variant {unknown[0]!r} (known: {', '.join(variants)}; add one with --variant NAME=\"FLAGS\")")
    if opts.max_update < 1 or opts.eval_every < 1 or opts.max_update % opts.eval_every:
        p.error(f"--max-update ({opts.max_update}) must be a positive multiple of --eval-every ({opts.eval_every})")

    start = time.time()
    data = {}
    flags = {n: variant_flags(variants[n], opts.grid_hidden) for n in names}
    try:
        for task in opts.tasks:
            settings = Settings(task, opts.seed, opts.train, opts.valid, opts.test, opts.min_len, opts.max_len, opts.symbols)
            data[task] = build(opts.out / "data" / task, settings) / "bin"
            say(f"data: {data[task]}")
        for name in names:
            check_flags(name, flags[name], data[opts.tasks[0]])
        done = run_all(opts, names, flags, data)
    except (DataError, RecipeError) as exc:
        p.exit(2, f"error: {exc}\n")
    results = {
        "target": opts.target, "max_update": opts.max_update, "eval_every": opts.eval_every, "beam": opts.beam,
        "max_tokens": opts.max_tokens, "lr": opts.lr, "grid_hidden": opts.grid_hidden,
        "data": {"train": opts.train, "valid": opts.valid, "test": opts.test, "lengths": [opts.min_len, opts.max_len],
                 "symbols": opts.symbols, "seed": opts.seed},
        "variants": {n: shlex.join(flags[n]) for n in names},
        "runs": {task: {name: done[task, name] for name in names} for task in opts.tasks},
        "wall_s": round(time.time() - start, 1),
    }
    (opts.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    (opts.out / "results.md").write_text(table, encoding="utf-8")
    print("\n" + table + f"\nwall time: {results['wall_s']:.0f} s ({opts.out / 'results.json'})")
    return results


if __name__ == "__main__":
    main()
