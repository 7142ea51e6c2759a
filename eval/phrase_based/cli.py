"""``reencoder-baseline``: the Thot phrase-based baseline from the command line.

    reencoder-baseline train --data DATA --out MODEL_DIR       # train + tune on DATA/tok
    reencoder-baseline translate --model MODEL_DIR < in.zh > out.en   # raw Chinese in
    reencoder-baseline run --data DATA --out DIR               # train, translate test, score

``run`` (what ``make baseline`` calls) writes ``DIR/model/``, ``DIR/test.hyp``,
``DIR/timings.json`` and the evaluation (``DIR/eval/table.md``, ``results.json``,
``bleu.png``). User errors print one ``error: ...`` line and exit with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from data_prep.foundation import run_main

from ..errors import EvalError
from .config import DecoderSettings
from .recipe import ALIGNERS, train, translate_file


def _add_train_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="data_prep folder with tok/ and split/")
    parser.add_argument("--aligner", default="HMM", choices=ALIGNERS, help="word aligner (default: HMM)")
    parser.add_argument("--max-train", type=int, default=None, help="use only the first N training pairs")
    parser.add_argument("--max-dev", type=int, default=None, help="tune on only the first N dev items")
    parser.add_argument("--tune-evals", type=int, default=100,
                        help="max decoder runs of the simplex weight tuning (default: 100)")
    parser.add_argument("--nomon", type=int, default=0, help="decoder non-monotonicity (default: 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reencoder-baseline", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train and tune a model folder")
    _add_train_args(p_train)
    p_train.add_argument("--out", required=True, help="model folder to write")
    p_tr = sub.add_parser("translate", help="translate Chinese, one sentence per line")
    p_tr.add_argument("--model", required=True)
    p_tr.add_argument("--input", default=None, help="input file (default: stdin)")
    p_tr.add_argument("--output", default=None, help="output file (default: stdout)")
    p_tr.add_argument("--tokenized", action="store_true", help="input is already jieba-segmented")
    p_run = sub.add_parser("run", help="train, translate the test set, score it")
    _add_train_args(p_run)
    p_run.add_argument("--out", required=True, help="run folder")
    p_run.add_argument("--prefix", default="test", help="evaluation set (default: test)")
    return parser


def _train(args, model_dir: Path) -> dict:
    info = train(args.data, model_dir, args.aligner, DecoderSettings(non_monotonicity=args.nomon),
                 args.max_train, args.max_dev, args.tune_evals, progress=not args.quiet)
    print(f"trained {model_dir}: {info['train_pairs']} pairs, tuned on {info['tune_items']} dev items "
          f"(dev BLEU, tokenized: {info['dev_bleu_tokenized']}), {info['wall_times_s']['train_total']} s",
          file=sys.stderr)
    return info


def _translate_stdio(args) -> None:
    from data_prep.foundation import numbered_stream_lines, read_lines, write_lines

    from .model import PhraseBasedModel

    if args.input:
        lines = read_lines(args.input, EvalError)
    else:
        lines = [text for _, text in numbered_stream_lines(sys.stdin.buffer, "<stdin>", EvalError)]
    with PhraseBasedModel(args.model) as model:
        hyps = model.translate_tokens([l.split() for l in lines]) if args.tokenized else model.translate(lines)
    if args.output:
        write_lines(args.output, hyps)
    else:
        sys.stdout.write("".join(h + "\n" for h in hyps))


def _run(args) -> None:
    from ..cli import main as eval_main

    out = Path(args.out)
    info = _train(args, out / "model")
    source = Path(args.data) / "tok" / f"{args.prefix}.zh"
    decode_s = translate_file(out / "model", source, out / f"{args.prefix}.hyp", tokenized=True,
                              progress=not args.quiet)
    timings = {**info["wall_times_s"], "decoding": round(decode_s, 2)}
    started = time.perf_counter()
    status = eval_main(["--refs", str(Path(args.data) / "split"), "--prefix", args.prefix,
                        "--system", f"phrase_based={out / (args.prefix + '.hyp')}", "--out", str(out / "eval")])
    timings["scoring"] = round(time.perf_counter() - started, 2)
    (out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    print("wall times (s): " + ", ".join(f"{k}={v}" for k, v in timings.items()))
    if status:
        raise SystemExit(status)


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        _train(args, Path(args.out))
    elif args.command == "translate":
        _translate_stdio(args)
    else:
        _run(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``reencoder-baseline``: 0, or 2 after one ``error: ...`` line."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
