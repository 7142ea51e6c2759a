"""``reencoder-eval``: score any number of systems against a multi-reference test set.

Example::

    reencoder-eval --refs work/data/tatoeba/split --prefix test --baseline phrase_based \\
        --system phrase_based=runs/pb/test.hyp --system lstm=runs/lstm/test.hyp --out runs/eval

prints the table with sacrebleu's signatures and writes ``table.md``, ``results.json`` and
``bleu.png`` into ``--out``. User errors print one ``error: ...`` line and exit with 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from data_prep.foundation import run_main

from .errors import EvalError
from .report import markdown_table, write_reports
from .scoring import DEFAULT_BUCKET_EDGES, evaluate


def parse_systems(specs: list[str], flag: str = "--system", what: str = "HYP_FILE") -> dict[str, str]:
    """``["name=path", ...]`` -> ordered ``{name: path}``; duplicates and bad specs are errors."""
    systems: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise EvalError(f"{flag} {spec!r}: expected NAME={what}")
        if name in systems:
            raise EvalError(f"{flag} {name!r} given twice")
        systems[name] = path
    return systems


def attach_training(evaluation, specs: list[str]) -> None:
    """``--training NAME=JSON``: each named system's training facts, read from its JSON."""
    by_name = {s.name: s for s in evaluation.systems}
    for name, path in parse_systems(specs, "--training", "TRAINING_JSON").items():
        if name not in by_name:
            raise EvalError(f"--training {name!r}: no --system of that name")
        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise EvalError(f"{path}: cannot read ({e.strerror})") from None
        except ValueError as e:
            raise EvalError(f"{path}: not JSON ({e})") from None
        if not isinstance(info, dict):
            raise EvalError(f"{path}: expected a JSON object of training facts")
        by_name[name].training = info


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reencoder-eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--refs", required=True, help="data_prep split/ folder with PREFIX.en.0 .. PREFIX.en.K")
    parser.add_argument("--prefix", default="test", help="reference set name (default: test)")
    parser.add_argument("--system", action="append", default=[], metavar="NAME=HYP_FILE",
                        help="a system's detokenized hypotheses, one line per test line (repeatable)")
    parser.add_argument("--baseline", default=None, help="system the others are tested against (default: first)")
    parser.add_argument("--source", default=None, help="source file for length buckets (default: REFS/PREFIX.zh)")
    parser.add_argument("--buckets", default=",".join(map(str, DEFAULT_BUCKET_EDGES)),
                        help="upper ends of the source-length buckets in characters (default: %(default)s)")
    parser.add_argument("--training", action="append", default=[], metavar="NAME=TRAINING_JSON",
                        help="how system NAME was trained (python -m eval.training_info's JSON): wall-clock "
                             "time, updates, threads, parameters and command go into the table (repeatable)")
    parser.add_argument("--detok-refs", action="store_true",
                        help="the references are Moses-tokenized (TVsub's): detokenize them (sacremoses) "
                             "for BLEU, chrF and the length buckets")
    parser.add_argument("--tok-bleu", action="store_true",
                        help="also the TVsub paper's BLEU: hypotheses Moses-tokenized (@-@ hyphens) and "
                             "lowercased against the references as given, sacrebleu --tokenize none -lc, "
                             "with its own paired bootstrap")
    parser.add_argument("--lc", action="store_true",
                        help="sacrebleu's BLEU case-insensitive (-lc), e.g. against TVsub's lowercased references "
                             "(chrF stays case-sensitive)")
    parser.add_argument("--out", required=True, help="folder for table.md, results.json, bleu.png")
    return parser


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        edges = tuple(int(x) for x in args.buckets.split(","))
    except ValueError:
        raise EvalError(f"--buckets {args.buckets!r}: expected increasing integers like 6,8,10,13") from None
    if list(edges) != sorted(set(edges)) or edges[0] < 1:
        raise EvalError(f"--buckets {args.buckets!r}: expected increasing positive integers")
    evaluation = evaluate(parse_systems(args.system), args.refs, args.prefix, args.baseline, args.source, edges,
                          detok_refs=args.detok_refs, tok_bleu=args.tok_bleu, lowercase=args.lc)
    attach_training(evaluation, args.training)
    from .plots import plot_bleu  # matplotlib is slow to import; only needed on success

    paths = write_reports(evaluation, args.out)
    png = plot_bleu(evaluation, paths["table"].parent / "bleu.png")
    print(markdown_table(evaluation))
    for s in evaluation.systems:
        print(f"{s.name}: {s.bleu_detail}" + ("" if s.tok_bleu is None else f"; BLEU (tok, lc) {s.tok_bleu:.2f}"))
    print(f"wrote {paths['table']}, {paths['json']}, {png}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``reencoder-eval``: 0, or 2 after one ``error: ...`` line."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
