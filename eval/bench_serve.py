"""Load benchmark of ``reencoder-serve``: N concurrent clients for T seconds, beside one batch
through the command-line tools.

    python -m eval.bench_serve                                   # the demo's four model folders
    python -m eval.bench_serve --model lstm=DIR --model reencoder=DIR --clients 4 --seconds 60

For each server setup (``--setups``: ``batched``, the server's defaults, and ``unbatched``, one
line per beam search) a fresh server is started on the model folders; ``--clients`` threads
then send the Tatoeba test sentences (``--input``, one sentence per request, every loaded model
translating it, each model's own beam search), each client starting again as soon as its answer
comes, for ``--seconds``.  Reported: sentences/s (answered requests over the wall time from the
first request to the last answer), p50/p99 latency, errors (any answer but 200, or no answer),
the mean sentences per beam search (``/health``), and the server's peak RSS (``VmHWM``).

Beside it, the baseline: the first ``--baseline-lines`` of the same sentences through one
``reencoder-translate`` process per neural model (``reencoder-baseline translate`` for Thot's),
in one batch (its default batching), each with its folder's beam search; sentences/s after
start-up (the wall time of the same command on one line subtracted), and for all models, one
after the other, the rate at which every model has translated a sentence.  Results: ``--out``
(JSON) and a markdown table on stdout (and ``--table``); the figures are in recipes/RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Sequence

from .bench import BIN, write_json
from .bench_decode import timed_run
from .serve.backends import is_thot_folder, parse_model_arg
from .serve.client import call, launch, peak_rss_mb, stop

DEFAULT_MODELS = ("runs/demo/reencoder/model", "runs/demo/lstm/model", "runs/demo/transformer/model",
                  "runs/demo/phrase_based/model")
SETUPS = {
    "batched": ("server, batched (10 ms window, <= 32 lines a search)", []),
    "unbatched": ("server, one line a search", ["--max-batch-lines", "1", "--batch-window-ms", "0"]),
}


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def load(url: str, sentences: Sequence[str], clients: int, seconds: float) -> dict:
    """``clients`` threads sending one sentence a request for ``seconds``."""
    counter, lock = itertools.count(), threading.Lock()
    latencies: List[float] = []
    errors: List[str] = []
    deadline = time.monotonic() + seconds

    def client():
        while time.monotonic() < deadline:
            with lock:
                sentence = sentences[next(counter) % len(sentences)]
            start = time.perf_counter()
            try:
                status, answer = call(url, "/translate", {"text": sentence}, timeout=300)
            except Exception as exc:  # noqa: BLE001  (an error to count, not to stop on)
                status, answer = None, {"error": repr(exc)}
            with lock:
                if status == 200:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors.append(f"{status}: {answer.get('error')}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {"clients": clients, "seconds": round(wall, 1), "sentences": len(latencies),
            "sent_per_s": len(latencies) / wall, "p50_ms": 1000 * percentile(latencies, 50),
            "p99_ms": 1000 * percentile(latencies, 99), "errors": len(errors), "error_examples": errors[:5]}


def bench_server(models: Sequence[str], extra: Sequence[str], sentences, clients: int, seconds: float) -> dict:
    proc, url = launch([arg for spec in models for arg in ("--model", spec)] + list(extra))
    try:
        call(url, "/translate", {"text": sentences[0]})  # warm-up: first beam search of every model
        before = call(url, "/health")[1]
        result = load(url, sentences, clients, seconds)
        after = call(url, "/health")[1]
        result["peak_rss_mb"] = peak_rss_mb(proc.pid)
    finally:
        status, err = stop(proc)
    if status != 0:
        raise RuntimeError(f"reencoder-serve exited {status}: {err[-2000:]}")
    result["sentences_per_search"] = {name: (after["lines"][name] - before["lines"][name]) /
                                      max(1, after["batches"][name] - before["batches"][name]) for name in after["lines"]}
    return result


def one_batch(folder: Path, text: str) -> tuple[float, List[str]]:
    """Wall seconds and output lines of one command-line translation of ``text``."""
    cmd = ([str(BIN / "reencoder-baseline"), "translate", "--model", str(folder)] if is_thot_folder(folder) else
           [str(BIN / "reencoder-translate"), "--model", str(folder), "--quiet"])
    return timed_run(cmd, text)


def bench_cli(models: Dict[str, Path], lines: Sequence[str]) -> dict:
    rows = {}
    for name, folder in models.items():
        startup, _ = one_batch(folder, lines[0] + "\n")
        wall, out = one_batch(folder, "".join(line + "\n" for line in lines))
        if len(out) != len(lines):
            raise RuntimeError(f"{name}: {len(out)} output lines for {len(lines)} input lines")
        rows[name] = {"wall_s": wall, "startup_s": startup, "sent_per_s": len(lines) / max(wall - startup, 1e-9)}
    all_models = 1 / sum(1 / row["sent_per_s"] for row in rows.values())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"lines": len(lines), "models": rows, "all_models_sent_per_s": all_models, "peak_rss_mb": peak}


def table(res: dict) -> str:
    rows = ["| setup | clients | seconds | sentences | sentences/s | p50 ms | p99 ms | errors | sentences per search "
            "| peak RSS (MiB) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for key, r in res["server"].items():
        per = ", ".join(f"{n} {v:.1f}" for n, v in r["sentences_per_search"].items())
        rows.append(f"| {SETUPS[key][0]} | {r['clients']} | {r['seconds']:.0f} | {r['sentences']} | {r['sent_per_s']:.2f} | "
                    f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']} | {per} | {r['peak_rss_mb']:.0f} |")
    cli = res["cli"]
    per = ", ".join(f"{n} {r['sent_per_s']:.1f}" for n, r in cli["models"].items())
    rows.append(f"| command line, one batch per model, one model after another ({per} sentences/s each) | - | "
                f"{sum(r['wall_s'] for r in cli['models'].values()):.0f} | {cli['lines']} | {cli['all_models_sent_per_s']:.2f} | "
                f"- | - | 0 | - | {cli['peak_rss_mb']:.0f} (largest process) |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", metavar="[NAME=]DIR", help="model folder (default: the demo's four)")
    ap.add_argument("--input", default="work/data/tatoeba/split/test.zh", help="raw Chinese, one sentence a line")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--setups", default="batched,unbatched", help=f"comma-separated, of {', '.join(SETUPS)}")
    ap.add_argument("--baseline-lines", type=int, default=300)
    ap.add_argument("--out", default="runs/serve/bench.json")
    ap.add_argument("--table", help="also write the markdown table here")
    args = ap.parse_args(argv)
    specs = args.model or list(DEFAULT_MODELS)
    models = dict(parse_model_arg(spec) for spec in specs)
    missing = [str(d) for d in models.values() if not d.exists()]
    setups = args.setups.split(",")
    if missing or not Path(args.input).exists() or not set(setups) <= set(SETUPS):
        print(f"error: no model folder {missing[0]} (run make demo)" if missing else
              f"error: no input file {args.input} (run make data)" if not Path(args.input).exists() else
              f"error: --setups {args.setups}: choose from {', '.join(SETUPS)}", file=sys.stderr)
        return 2
    sentences = [line for line in Path(args.input).read_text(encoding="utf-8").splitlines() if line.strip()]
    named = [f"{name}={folder}" for name, folder in models.items()]
    res = {"models": {name: str(folder) for name, folder in models.items()}, "input": args.input,
           "cli": bench_cli(models, sentences[: args.baseline_lines]), "server": {}}
    for key in setups:
        print(f"{SETUPS[key][0]}: {args.clients} clients for {args.seconds:g} s", file=sys.stderr, flush=True)
        res["server"][key] = bench_server(named, SETUPS[key][1], sentences, args.clients, args.seconds)
    write_json(Path(args.out), res)
    text = table(res)
    print(text)
    if args.table:
        Path(args.table).write_text(text + "\n", encoding="utf-8")
    return 1 if any(r["errors"] for r in res["server"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
