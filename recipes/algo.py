"""Recipe: the Grid LSTM paper's algorithmic tasks (§4, "Addition" and "Memorization") — a tied
2D Grid LSTM against a stacked LSTM of the same parameter count, at several depths.

For each task and depth, through the public CLIs with ``--user-dir reencoder``:

1. the tied grid: ``grid_lstm_lm --grid-tied-depth`` (one 2D block over time × depth tied
   by every layer, depth the priority dimension: the paper's "Tied 2-LSTM");
2. the stacked LSTM: fairseq's ``lstm_lm`` with the same number of layers and the hidden size
   whose parameter count is closest to the grid's (the tied grid's count does not grow with
   depth, so the deeper stacked LSTMs are narrower);
3. ``fairseq-train --task algorithmic --criterion sequence_accuracy``: examples made on the fly,
   the same batches, optimiser and number of updates for every run, the held-out set validated
   every ``--validate-every`` updates; exact-sequence accuracy (``seq_acc``: the whole output
   right under greedy decoding) is read from the logs, against samples seen = updates × batch;
4. ``eval/plot_algo_curves.py``: held-out accuracy vs samples and vs depth (PNG).

Runs go ``--parallel`` at a time, one thread each.  Usage: ``python recipes/algo.py [--tasks
addition memorisation] [--depths 1 2 4] [--max-update N] ...`` (``make algo``).  Results:
``WORK/results.json``, ``WORK/accuracy.png`` and the training logs.

Each model runs at its own settings, chosen on a separate held-out set (``--tune``: a sweep of
learning rate x output-layer init per model on the ``tune`` subset, which is neither ``valid``
nor ``test``; results in ``recipes/RESULTS.md``, "Algorithmic tasks").  The grid's LSTM depth
starts with its gates open (``--grid-depth-gate-bias``, see "The LSTM depth" there).

Where we had to choose: the paper trains on up to millions of samples (15-digit addition,
memorising 20 symbols of 64); a 2-core CPU does ~64,000 samples per run in the time allowed,
so the defaults are *short versions* of the same tasks — 2-digit addition and memorising 4
symbols of 8 — with the paper's input format.  ``--digits 15 --length 20 --symbols 64`` gives
the paper's sizes (no run on this CPU learns them within its budget).  Hidden size 64, Adam,
batch 64 and 1,000 updates are ours too (the paper does not fit a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from lm_compare import PLUGIN, REPO, cli, count_params, lstm_args, matched_lstm_hidden  # this folder
from tqdm import tqdm

from data_prep.foundation import Parser  # bad arguments: one "error: ..." line
from eval.fairseq_log import valid_curve
from reencoder.tasks.algorithmic_data import check_config

# chosen by `--tune` per model, task and depth (recipes/RESULTS.md, "Algorithmic tasks"): the
# learning rate of each (task, depth) (a depth between tuned ones takes the nearer's), and the
# output layer's init
GRID_LR = {"addition": {1: 0.02, 2: 0.02, 4: 0.003}, "memorisation": {1: 0.01, 2: 0.02, 4: 0.01}}
LSTM_LR = {"addition": {1: 0.01, 2: 0.02, 4: 0.01}, "memorisation": {1: 0.01, 2: 0.02, 4: 0.01}}
GRID_OUTPUT_INIT = LSTM_OUTPUT_INIT = 0.4
TUNE_LRS = (0.003, 0.01, 0.02)
TUNE_INITS = (0.1, 0.4)


def task_args(opts, task: str) -> list:
    """The ``--task algorithmic`` flags of one task."""
    return ["--task", "algorithmic", "--algo", task, "--algo-digits", opts.digits, "--algo-order", opts.order,
            "--algo-length", opts.length, "--algo-symbols", opts.symbols]


def grid_args(opts, depth: int) -> list:
    return ["--arch", "grid_lstm_lm", "--grid-tied-depth", "--grid-depth", depth, "--grid-hidden-size", opts.grid_hidden,
            "--decoder-embed-dim", opts.grid_hidden, "--grid-depth-gate-bias", opts.grid_depth_gate_bias]


def settings(opts, model: str, task: str, depth: int) -> list:
    """A model's own optimiser and initialisation flags for ``task`` at ``depth``."""
    lr = getattr(opts, f"{model}_lr")
    if isinstance(lr, dict):
        lr = lr[task][min(lr[task], key=lambda tuned: (abs(tuned - depth), tuned))]
    return ["--lr", lr, "--decoder-output-init", getattr(opts, f"{model}_output_init")]


def plan(opts) -> list:
    """One job per (task, model, depth), with parameter-matched stacked LSTMs."""
    jobs = []
    for task in opts.tasks:
        targs = task_args(opts, task)
        for depth in opts.depths:
            grid = grid_args(opts, depth)
            n_grid = count_params(targs, grid)
            hidden = matched_lstm_hidden(targs, n_grid, depth)
            lstm = lstm_args(hidden, depth)
            n_lstm = count_params(targs, lstm)
            print(f"{task} depth {depth}: tied grid n={opts.grid_hidden} {n_grid:,} parameters; "
                  f"lstm_lm hidden {hidden} {n_lstm:,} ({100 * (n_lstm / n_grid - 1):+.1f}%)", flush=True)
            jobs.append(dict(task=task, model="grid", depth=depth, params=n_grid,
                             args=[*targs, *grid, *settings(opts, "grid", task, depth)]))
            jobs.append(dict(task=task, model="lstm", depth=depth, params=n_lstm, hidden=hidden,
                             args=[*targs, *lstm, *settings(opts, "lstm", task, depth)]))
    return jobs


def tuning_jobs(jobs: list, opts) -> list:
    """Every job once per (learning rate, output init) of the sweep."""
    out = []
    for job in jobs:
        for lr in opts.tune_lrs:
            for init in opts.tune_inits:
                args = job["args"][: -len(settings(opts, job["model"], job["task"], job["depth"]))]
                out.append(dict(job, lr=lr, init=init, tag=f"_lr{lr}_init{init}",
                                args=[*args, "--lr", lr, "--decoder-output-init", init]))
    return out


def print_tuning(jobs: list) -> dict:
    """Mean held-out (tune subset) exact accuracy over the curve per setting, best first per model."""
    best = {}
    for (task, model, depth) in sorted({(j["task"], j["model"], j["depth"]) for j in jobs}):
        runs = [j for j in jobs if (j["task"], j["model"], j["depth"]) == (task, model, depth)]
        print(f"\n{task} {model} depth {depth}: lr, output init -> mean exact % over the curve (curve)")
        for j in sorted(runs, key=lambda j: -mean_acc(j)):
            print(f"  {j['lr']:<7}{j['init']:<6}{mean_acc(j):6.1f}  " + " ".join(f"{a:.0f}" for _, a in j["seq_acc"]))
        top = max(runs, key=mean_acc)
        best[f"{task} {model} d{depth}"] = (top["lr"], top["init"], round(mean_acc(top), 1))
    print("\nbest:", json.dumps(best))
    return best


def mean_acc(job: dict) -> float:
    return sum(a for _, a in job["seq_acc"]) / len(job["seq_acc"])


def run_all(jobs: list, opts) -> None:
    """fairseq-train for every job, ``opts.parallel`` at a time; a failed run stops the recipe."""
    common = ["--user-dir", PLUGIN, "--criterion", "sequence_accuracy", "--seed", opts.seed, "--cpu",
              "--optimizer", "adam", "--clip-norm", 1.0, "--dropout", 0.0,
              "--batch-size", opts.batch_size, "--max-update", opts.max_update,
              "--algo-train-size", opts.batch_size * opts.validate_every, "--algo-valid-size", opts.valid_size,
              "--validate-interval-updates", opts.validate_every, "--no-save", "--num-workers", 0,
              "--log-format", "simple", "--log-interval", opts.validate_every, "--no-progress-bar",
              "--valid-subset", opts.valid_subset]
    env = dict(os.environ, OMP_NUM_THREADS=str(opts.threads), MKL_NUM_THREADS=str(opts.threads), PYTHONUNBUFFERED="1")
    pending, running = list(jobs), []
    with tqdm(total=len(jobs), desc="training runs", unit="run") as bar:
        while pending or running:
            while pending and len(running) < opts.parallel:
                job = pending.pop(0)
                job["log"] = opts.work / f"train_{job['task']}_{job['model']}_d{job['depth']}{job.get('tag', '')}.log"
                job["start"] = time.time()
                running.append((job, cli("fairseq-train", *common, *job["args"], log=job["log"], env=env, wait=False)))
            time.sleep(1)
            for job, proc in [r for r in running if r[1].poll() is not None]:
                running.remove((job, proc))
                if proc.returncode != 0:
                    raise SystemExit(f"fairseq-train failed for {job['task']} {job['model']} depth {job['depth']}:\n"
                                     f"{job['log'].read_text()[-3000:]}")
                job["train_s"] = round(time.time() - job.pop("start"), 1)
                read_curves(job, opts.batch_size, opts.valid_subset)
                bar.update()
                tqdm.write(f"{job['task']} {job['model']} depth {job['depth']}: held-out exact {job['seq_acc'][-1][1]:.1f}% "
                           f"after {job['seq_acc'][-1][0]:,} samples ({job['train_s']:.0f} s)")


def read_curves(job: dict, batch_size: int, subset: str = "valid") -> None:
    """Held-out exact-sequence and per-symbol accuracy against training samples seen."""
    text = job["log"].read_text(encoding="utf-8")
    for field in ("seq_acc", "tok_acc"):
        job[field] = [(updates * batch_size, acc) for updates, acc in valid_curve(text, subset, field=field)]
        if not job[field]:
            raise SystemExit(f"no validation lines with {field} in {job['log']}")


def print_table(results: dict) -> None:
    for task, runs in results["tasks"].items():
        samples = [s for s, _ in runs[0]["seq_acc"]]
        print(f"\n{task}: held-out exact-sequence accuracy (%) after N training samples "
              f"(per-symbol accuracy of the last point in brackets)")
        print(f"{'model':<6}{'depth':>6}{'params':>9}  " + "".join(f"{s:>8,}" for s in samples))
        for r in runs:
            accs = "".join(f"{a:>8.1f}" for _, a in r["seq_acc"])
            print(f"{r['model']:<6}{r['depth']:>6}{r['params']:>9,}  {accs}  ({r['tok_acc'][-1][1]:.1f})")


def main(argv=None):
    p = Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=REPO / "work" / "algo")
    p.add_argument("--tasks", nargs="+", choices=["addition", "memorisation"], default=["addition", "memorisation"])
    p.add_argument("--depths", nargs="+", type=int, default=[1, 2, 4])
    p.add_argument("--digits", type=int, default=2, help="addition: digits per number (paper: 15)")
    p.add_argument("--order", choices=["lsd", "msd"], default="lsd", help="addition: digit order")
    p.add_argument("--length", type=int, default=4, help="memorisation: symbols per sequence (paper: 20)")
    p.add_argument("--symbols", type=int, default=8, help="memorisation: vocabulary (paper: 64)")
    p.add_argument("--grid-hidden", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    for model, lr, init in (("grid", GRID_LR, GRID_OUTPUT_INIT), ("lstm", LSTM_LR, LSTM_OUTPUT_INIT)):
        p.add_argument(f"--{model}-lr", type=float, default=lr,
                       help=f"{model}: Adam learning rate for every task and depth (default: tuned per task and depth)")
        p.add_argument(f"--{model}-output-init", type=float, default=init,
                       help=f"{model}: output layer's init U(-S, S) (tuned: %(default)s; fairseq's 0.1)")
    p.add_argument("--lr", type=float, help="one learning rate for both models (overrides the tuned ones)")
    p.add_argument("--grid-depth-gate-bias", type=float, default=2.0,
                   help="the LSTM depth's initial input/output gate bias (0: the block without the fix)")
    p.add_argument("--tune", action="store_true",
                   help="sweep learning rate x output init per model on the 'tune' held-out subset")
    p.add_argument("--tune-lrs", nargs="+", type=float, default=list(TUNE_LRS), help="--tune: learning rates")
    p.add_argument("--tune-inits", nargs="+", type=float, default=list(TUNE_INITS), help="--tune: output inits")
    p.add_argument("--max-update", type=int, default=1000, help="updates per run (samples: x batch size)")
    p.add_argument("--validate-every", type=int, default=100)
    p.add_argument("--valid-size", type=int, default=500, help="held-out examples")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--parallel", type=int, default=2, help="training runs at a time")
    p.add_argument("--threads", type=int, default=1, help="torch threads per training run")
    opts = p.parse_args(argv)
    if opts.lr is not None:
        opts.grid_lr = opts.lstm_lr = opts.lr
    opts.valid_subset = "tune" if opts.tune else "valid"
    for name in ("depths", "digits", "length", "symbols", "grid_hidden", "batch_size", "max_update", "validate_every",
                 "valid_size", "parallel", "threads"):
        values = getattr(opts, name)
        if min(values if isinstance(values, list) else [values]) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive, got {values}")
    for task in opts.tasks:
        try:
            check_config(task, opts.digits, opts.length, opts.symbols, opts.order)
        except ValueError as err:
            p.error(str(err))
    if opts.max_update % opts.validate_every:
        p.error(f"--max-update ({opts.max_update}) must be a multiple of --validate-every ({opts.validate_every})")
    start = time.time()
    opts.work.mkdir(parents=True, exist_ok=True)
    jobs = tuning_jobs(plan(opts), opts) if opts.tune else plan(opts)
    run_all(jobs, opts)
    if opts.tune:
        return print_tuning(jobs)
    results = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
               "tasks": {t: [{k: v for k, v in j.items() if k not in ("log",)} for j in jobs if j["task"] == t]
                         for t in opts.tasks}}
    for runs in results["tasks"].values():
        for r in runs:
            r["args"] = [str(a) for a in r["args"]]
    plot = opts.work / "accuracy.png"
    results_path = opts.work / "results.json"
    results["wall_s"] = round(time.time() - start, 1)
    results_path.write_text(json.dumps(results, indent=2))
    cli("python", "-m", "eval.plot_algo_curves", results_path, "--out", plot)
    print_table(results)
    print(f"\nresults: {results_path}\nplot: {plot}\nwall time: {results['wall_s']:.0f} s")
    return results


if __name__ == "__main__":
    main()
