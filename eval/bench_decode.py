"""Decoding speed of ``reencoder-translate`` with the demo's model folders, side by side.

    python -m eval.bench_decode                      # runs/demo/{reencoder,lstm,transformer}/model
    python -m eval.bench_decode --models a=DIR b=DIR --input in.zh --lines 500

Every model translates the same input (the first ``--lines`` lines of ``--input``, by default the
demo's Tatoeba test set, which no model trained on) through the same CLI, as a user runs it:

* **headline**: the CLI's defaults (beam 5, batch 32, one thread), wall time of the whole
  process, start-up included (process start, imports, model load): sentences/s per model and
  each model's time against the first model's;
* **grid**: beam 1 and 5 × batch 1 and 64 × one and two threads: sentences/s and output words/s
  after start-up (the wall time of the same command on one line is subtracted).

Configurations are interleaved across models and each is timed at least ``--rounds`` times, more
until every row settles (best kept; :mod:`eval.rounds`), so a machine that slows down for a
while slows every model alike; every timed run prints a progress line.  A model's outputs must
be identical across rounds of one configuration (the benchmark stops otherwise): decoding is
deterministic.  Results: ``--out`` (JSON) and a table on stdout; figures and the CPU they came
from are in ``recipes/RESULTS.md``, "Performance".
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .bench import BIN, write_json
from .rounds import Rounds

DEFAULT_MODELS = ("reencoder=runs/demo/reencoder/model", "lstm=runs/demo/lstm/model",
                  "transformer=runs/demo/transformer/model")
HEADLINE = {"beam": 5, "batch": 32, "threads": 1}  # reencoder-translate's defaults
GRID = [{"beam": b, "batch": n, "threads": t} for t in (1, 2) for b in (1, 5) for n in (1, 64)]


def translate(model: Path, text: str, beam: int, batch: int, threads: int) -> Tuple[float, List[str]]:
    """Wall seconds of one ``reencoder-translate`` process over ``text``, and its output lines."""
    cmd = [str(BIN / "reencoder-translate"), "--model", str(model), "--beam", str(beam), "--batch-size", str(batch),
           "--buffer-size", str(max(64, batch)), "--cpu-threads", str(threads), "--quiet"]
    return timed_run(cmd, text)


def timed_run(cmd: Sequence[str], text: str) -> Tuple[float, List[str]]:
    """Wall seconds and output lines of the command ``cmd`` with ``text`` on its stdin."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, input=text, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return wall, proc.stdout.splitlines()


def key(cfg: Dict[str, int]) -> str:
    return f"beam {cfg['beam']}, batch {cfg['batch']}, {cfg['threads']} thread{'s' * (cfg['threads'] > 1)}"


def measure(models: Dict[str, Path], lines: Sequence[str], rounds: int, grid: bool = True,
            max_rounds: Optional[int] = None) -> dict:
    """Best wall times per (configuration, model), interleaved, over at least ``rounds`` rounds
    and more, up to ``max_rounds``, until every row settles (:mod:`.rounds`); start-up per thread
    count from one-line runs (``grid=False``: the headline configuration only)."""
    text = "\n".join(lines) + "\n"
    configs = [HEADLINE, *GRID] if grid else [HEADLINE]
    timing = Rounds(rounds, max_rounds, what="bench_decode")
    outputs: Dict[Tuple[str, str], List[str]] = {}
    per_round = len(models) * (len(configs) + 2)
    done = 0
    for r in timing:
        for cfg in configs:
            for name, folder in models.items():
                wall, out = translate(folder, text, **cfg)
                done += 1
                timing.add((key(cfg), name), wall)
                seen = outputs.setdefault((name, key(cfg)), out)
                if seen != out:
                    raise RuntimeError(f"{name}: {key(cfg)} gave different translations from an earlier run")
                print(f"[{done - r * per_round}/{per_round}] round {r + 1}: {name}, {key(cfg)}: "
                      f"{len(lines) / wall:.1f} sentences/s ({wall:.1f} s)", flush=True)
        for threads in (1, 2):
            for name, folder in models.items():
                wall, _ = translate(folder, lines[0] + "\n", 5, 1, threads)
                done += 1
                timing.add(("start-up", name, threads), wall)
                print(f"[{done - r * per_round}/{per_round}] round {r + 1}: {name}, start-up with {threads} thread(s): "
                      f"{wall:.2f} s", flush=True)
    best = {k: timing.best(k) for k in timing.times}
    startup = {(k[1], k[2]): v for k, v in best.items() if k[0] == "start-up"}
    words = {k: sum(len(line.split()) for line in out) for k, out in outputs.items()}
    rows = {}
    for cfg in configs:
        for name in models:
            wall = best[key(cfg), name]
            after = max(wall - startup[name, cfg["threads"]], 1e-9)
            rows.setdefault(key(cfg), {})[name] = {
                "wall_s": wall, "sent_per_s": len(lines) / wall, "sent_per_s_after_startup": len(lines) / after,
                "words_per_s_after_startup": words[name, key(cfg)] / after}
    return {"lines": len(lines), "rounds": timing.done, "rounds_summary": timing.summary(), **timing.report(),
            "headline": key(HEADLINE), "configs": rows,
            "startup_s": {f"{n}, {t} thread(s)": s for (n, t), s in startup.items()}}


def print_report(res: dict, models: Sequence[str]) -> None:
    first = models[0]
    head = res["configs"][res["headline"]]
    print(f"\n{res['lines']} lines, {res['headline']} (reencoder-translate's defaults), start-up included, "
          f"{res['rounds_summary']}:")
    for name in models:
        print(f"  {name:12s} {head[name]['sent_per_s']:6.1f} sentences/s ({head[name]['wall_s']:.1f} s, "
              f"{head[first]['wall_s'] / head[name]['wall_s']:.2f}x {first}'s speed)")
    print("\nafter start-up: sentences/s | output words/s")
    print(f"  {'configuration':30s}" + "".join(f"{n:>22s}" for n in models))
    for cfg, row in res["configs"].items():
        if cfg == res["headline"]:
            continue
        print(f"  {cfg:30s}" + "".join(f"{row[n]['sent_per_s_after_startup']:>11.1f} |"
                                        f"{row[n]['words_per_s_after_startup']:>8.0f}  " for n in models))
    print("\nstart-up (s): " + ", ".join(f"{k} {v:.2f}" for k, v in res["startup_s"].items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), metavar="NAME=DIR",
                    help="model folders (reencoder-export), the first is the reference of the ratios")
    ap.add_argument("--input", default="work/data/tatoeba/split/test.zh", help="raw Chinese, one sentence a line")
    ap.add_argument("--lines", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2, help="rounds at least (eval/rounds.py: more until every row settles)")
    ap.add_argument("--max-rounds", type=int, help="rounds at most (default: twice --rounds)")
    ap.add_argument("--headline-only", action="store_true", help="only the CLI's default configuration")
    ap.add_argument("--out", default="runs/bench/decode.json")
    args = ap.parse_args(argv)
    models = dict(m.split("=", 1) for m in args.models)
    missing = [d for d in models.values() if not (Path(d) / "config.json").exists()]
    if missing or not Path(args.input).exists():
        print(f"error: no model folder at {missing[0]} (run `make demo`)" if missing else
              f"error: no input file {args.input} (run `make data`)", file=sys.stderr)
        return 2
    lines = Path(args.input).read_text(encoding="utf-8").splitlines()[: args.lines]
    res = measure({n: Path(d) for n, d in models.items()}, lines, args.rounds, grid=not args.headline_only,
                  max_rounds=args.max_rounds)
    write_json(Path(args.out), res)
    print_report(res, list(models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
