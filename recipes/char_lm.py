"""Recipe: the Grid LSTM paper's seed experiment (§5.1) — a 2D Grid LSTM character language
model against a stacked LSTM of the same depth and parameter count.

Steps, all through the public CLIs with ``--user-dir reencoder``:

1. text → character tokens (``data_prep/char_lm.py``), ``fairseq-preprocess --only-source``;
2. parameter matching: the stacked LSTM (fairseq's ``lstm_lm``, embedding = hidden = output
   size) gets the hidden size whose parameter count is closest to the grid's (both printed);
3. ``fairseq-train --task language_modeling`` for both models, the same data, batches,
   optimiser and number of updates, each at its own learning rate and output-layer init
   (chosen on the validation split); by default the two runs go in parallel, one thread each
   (on a 2-core CPU this beats two threads per run, one after the other);
4. ``fairseq-eval-lm`` on the test split: bits per character = fairseq's base-2 loss per token,
   with one token per character and the end-of-line token counted as the newline character;
5. ``python -m eval.plot_lm_curves``: validation bpc over updates for both models.

Usage: ``python recipes/char_lm.py [--corpus ted|enwik8] [--work work/char_lm] [--max-update N]``
(``make char-lm``).  Results: ``WORK/CORPUS/results.json`` and ``valid_bpc.png``, with the
training and evaluation logs; the binarized data in ``WORK/data/CORPUS``.  Checkpoints of an
earlier run are removed first: every run trains from scratch.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lm_compare import PLUGIN, REPO, cli, count_params, lstm_args, matched_lstm_hidden  # this folder

from data_prep import char_lm as char_lm_data
from eval.fairseq_log import parameter_count, valid_curve

# chosen on the validation split (recipes/RESULTS.md, "Character-level LM")
GRID_LR, GRID_OUTPUT_INIT = 0.01, 0.4
LSTM_LR, LSTM_OUTPUT_INIT = 0.01, 0.4
EVAL_LOSS = re.compile(r"Loss \(base 2\): ([\d.]+)")


def valid_bpc(log: str) -> float:
    """The last validation bits per character of a training log (fairseq logs base-2 loss)."""
    return valid_curve(log)[-1][1]


def prepare(opts) -> Path:
    data_dir = opts.work / "data" / opts.corpus
    bin_dir = data_dir / "bin"
    if (bin_dir / "test.bin").exists() and not opts.force:
        print(f"data: {bin_dir} (exists)")
        return bin_dir
    if opts.corpus == "ted":
        splits = char_lm_data.ted_splits(opts.shared)
    else:
        splits = char_lm_data.enwik8_splits()
    counts = char_lm_data.write_splits(splits, data_dir)
    print("data: characters (newlines included):", counts)
    cli("fairseq-preprocess", "--only-source", "--trainpref", data_dir / "train.txt", "--validpref", data_dir / "valid.txt",
        "--testpref", data_dir / "test.txt", "--destdir", bin_dir, "--workers", "1")
    return bin_dir


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", choices=["ted", "enwik8"], default="ted")
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--work", type=Path, default=REPO / "work" / "char_lm")
    p.add_argument("--grid-hidden", type=int, default=128)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--grid-flags", default="", help="extra grid_lstm_lm flags, e.g. '--grid-tied-depth'")
    p.add_argument("--tokens-per-sample", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    for model, lr, init in (("grid", GRID_LR, GRID_OUTPUT_INIT), ("lstm", LSTM_LR, LSTM_OUTPUT_INIT)):
        p.add_argument(f"--{model}-lr", type=float, default=lr, help=f"{model}: Adam learning rate (tuned: %(default)s)")
        p.add_argument(f"--{model}-output-init", type=float, default=init,
                       help=f"{model}: output layer's init U(-S, S) (tuned: %(default)s; fairseq's 0.1)")
    p.add_argument("--lr", type=float, help="one learning rate for both models (overrides the tuned ones)")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--max-update", type=int, default=150)
    p.add_argument("--budget-min", type=float, default=None,
                   help="equal wall-clock instead of equal updates: each model trains this many minutes "
                        "(fairseq's --stop-time-hours; --max-update still caps it)")
    p.add_argument("--validate-every", type=int, default=25)
    p.add_argument("--threads", type=int, default=1, help="torch threads per training run")
    p.add_argument("--sequential", action="store_true", help="train one model after the other")
    p.add_argument("--cpu", action="store_true", default=True)
    p.add_argument("--gpu", dest="cpu", action="store_false", help="let fairseq use CUDA")
    p.add_argument("--force", action="store_true", help="rebuild the data")
    opts = p.parse_args(argv)
    if opts.lr is not None:
        opts.grid_lr = opts.lstm_lr = opts.lr
    start = time.time()
    bin_dir = prepare(opts)
    run_dir = opts.work / opts.corpus

    grid = ["--arch", "grid_lstm_lm", "--grid-hidden-size", str(opts.grid_hidden), "--grid-depth", str(opts.depth),
            "--decoder-embed-dim", str(opts.grid_hidden), *opts.grid_flags.split()]
    task_args = [bin_dir, "--task", "language_modeling"]
    n_grid = count_params(task_args, grid)
    hidden = matched_lstm_hidden(task_args, n_grid, opts.depth)
    lstm = lstm_args(hidden, opts.depth)
    n_lstm = count_params(task_args, lstm)
    print(f"parameters: grid_lstm_lm (n={opts.grid_hidden}, depth {opts.depth}) {n_grid:,}; "
          f"lstm_lm (hidden {hidden}, {opts.depth} layers) {n_lstm:,} ({100 * (n_lstm / n_grid - 1):+.1f}%)", flush=True)

    common = [
        bin_dir, "--user-dir", PLUGIN, "--task", "language_modeling", "--sample-break-mode", "none",
        "--tokens-per-sample", opts.tokens_per_sample, "--batch-size", opts.batch_size, "--seed", 1,
        "--dropout", opts.dropout, "--optimizer", "adam", "--clip-norm", 1.0,
        "--criterion", "cross_entropy", "--max-update", opts.max_update,
        *(["--stop-time-hours", opts.budget_min / 60] if opts.budget_min else []),
        "--validate-interval-updates", opts.validate_every, "--no-epoch-checkpoints", "--num-workers", 0,
        "--log-format", "simple", "--log-interval", 10, "--no-progress-bar", *(["--cpu"] if opts.cpu else []),
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(opts.threads), MKL_NUM_THREADS=str(opts.threads), PYTHONUNBUFFERED="1")
    models = {"grid_lstm_lm": [*grid, "--lr", opts.grid_lr, "--decoder-output-init", opts.grid_output_init],
              "lstm_lm": [*lstm, "--lr", opts.lstm_lr, "--decoder-output-init", opts.lstm_output_init]}
    procs = {}
    for name, arch in models.items():
        log, save_dir = run_dir / f"train_{name}.log", run_dir / f"ckpt_{name}"
        shutil.rmtree(save_dir, ignore_errors=True)  # a fresh run, never a resumed one
        save_dir.mkdir(parents=True)
        proc = cli("fairseq-train", *common, *arch, "--save-dir", save_dir, log=log, env=env, wait=False)
        if opts.sequential:
            proc.wait()
        procs[name] = (proc, log)
    for name, (proc, log) in procs.items():
        if proc.wait() != 0:
            raise SystemExit(f"training {name} failed:\n{log.read_text()[-3000:]}")
    train_s = time.time() - start

    results = {"corpus": opts.corpus, "max_update": opts.max_update, "budget_min": opts.budget_min, "models": {}}
    for name in models:
        out = cli("fairseq-eval-lm", bin_dir, "--user-dir", PLUGIN, "--path", run_dir / f"ckpt_{name}" / "checkpoint_last.pt",
                  "--gen-subset", "test", "--task", "language_modeling", "--sample-break-mode", "none",
                  "--tokens-per-sample", opts.tokens_per_sample, "--batch-size", opts.batch_size,
                  *(["--cpu"] if opts.cpu else []), log=run_dir / f"eval_{name}.log", env=env)
        logged = parameter_count((run_dir / f"train_{name}.log").read_text())
        results["models"][name] = {
            "params": n_grid if name == "grid_lstm_lm" else n_lstm,
            "params_logged": logged,
            "test_bpc": float(EVAL_LOSS.findall(out)[-1]),
            "args": [str(a) for a in models[name]],
            "valid_bpc": valid_bpc((run_dir / f"train_{name}.log").read_text()),
            "updates": valid_curve((run_dir / f"train_{name}.log").read_text())[-1][0],
        }
    plot = run_dir / "valid_bpc.png"
    subprocess.run([sys.executable, "-m", "eval.plot_lm_curves", "--out", plot,
                    *(f"{name}={run_dir / f'train_{name}.log'}" for name in models)], check=True)
    results["wall_s"] = round(time.time() - start, 1)
    results["train_wall_s"] = round(train_s, 1)
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'model':<14}{'params':>10}{'updates':>9}{'valid bpc':>10}{'test bpc':>10}")
    for name, r in results["models"].items():
        print(f"{name:<14}{r['params']:>10,}{r['updates']:>9}{r['valid_bpc']:>10.3f}{r['test_bpc']:>10.3f}")
    print(f"plot: {plot}\nwall time: {results['wall_s']:.0f} s")
    return results


if __name__ == "__main__":
    main()
