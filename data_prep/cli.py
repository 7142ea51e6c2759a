"""``reencoder-data``: turn Chinese-English corpora into fairseq-ready, leak-free data.

Examples::

    reencoder-data --tatoeba ../shared/data/tatoeba-cmn-eng/cmn-eng.tsv --out work/data/tatoeba
    reencoder-data --tatoeba-download --out work/data/tatoeba
    reencoder-data --hf Helsinki-NLP/news_commentary:en-zh --min-refs 1 --out work/data/nc
    reencoder-data --parallel corpus.zh corpus.en --out work/data/mine
    reencoder-data --eval-only --iwslt-dir ../shared/data/iwslt15-ted-zh-en \\
        --iwslt-sets tst2010 --spm-dir work/data/tatoeba/spm --dict-dir work/data/tatoeba/bin \\
        --out work/data/ted-tst2010

Errors in the input print one line ``error: ...`` and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import pipeline, progress, subwords
from .cleaning import DEFAULT_MAX_LEN, DEFAULT_MAX_RATIO
from .foundation import run_main
from .readers import IwsltReader, ParallelReader, Reader, TatoebaReader
from .remote import DEFAULT_CACHE, HFReader, download_tatoeba


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reencoder-data", description=__doc__.split("\n\n")[0].replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_argument_group("sources (combine freely; read in this order)")
    src.add_argument("--tatoeba", metavar="PATH", type=Path,
                     help="Tatoeba/Anki cmn-eng TSV (English<TAB>Chinese<TAB>attribution)")
    src.add_argument("--tatoeba-download", action="store_true",
                     help="download the Tatoeba cmn-eng file (cached under --cache-dir)")
    src.add_argument("--iwslt-dir", metavar="DIR", type=Path, help="IWSLT TED release folder")
    src.add_argument("--iwslt-sets", metavar="SETS", default="tst2010",
                     help="comma-separated IWSLT sets, e.g. tst2010,tst2011 (default %(default)s)")
    src.add_argument("--iwslt-format", choices=("auto", "xml", "plain"), default="auto")
    src.add_argument("--hf", metavar="ID[:CONFIG]", action="append", default=[],
                     help="HuggingFace datasets id, e.g. Helsinki-NLP/opus-100:en-zh (repeatable)")
    src.add_argument("--hf-split", default="train")
    src.add_argument("--hf-limit", type=int, default=None, help="read at most N rows per --hf")
    src.add_argument("--parallel", nargs=2, metavar=("ZH_FILE", "EN_FILE"), action="append",
                     type=Path, default=[], help="aligned plain-text files (repeatable)")
    src.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                     help="download cache (default %(default)s)")

    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, help="output folder")
    out.add_argument("--seed", type=int, default=pipeline.DEFAULT_SEED,
                     help="seed of the dev/test draw (default %(default)s)")
    out.add_argument("--dev-size", type=int, default=pipeline.DEFAULT_DEV_SIZE,
                     help="dev items (default %(default)s)")
    out.add_argument("--test-size", type=int, default=pipeline.DEFAULT_TEST_SIZE,
                     help="test items (default %(default)s)")
    out.add_argument("--min-refs", type=int, default=2,
                     help="references needed for a dev/test item (default %(default)s)")
    for lang in ("zh", "en"):
        out.add_argument(f"--spm-vocab-{lang}", type=int, default=subwords.DEFAULT_VOCAB[lang],
                         help=f"{lang} sentencepiece pieces (default %(default)s)")
    out.add_argument("--t2s", action="store_true", help="convert Traditional to Simplified")
    out.add_argument("--max-len", type=int, default=DEFAULT_MAX_LEN,
                     help="drop pairs with a side longer than this (Chinese characters / "
                          "English words; default %(default)s)")
    out.add_argument("--max-ratio", type=float, default=DEFAULT_MAX_RATIO,
                     help="drop pairs whose length ratio exceeds this (default %(default)s)")
    out.add_argument("--workers", type=int, default=1, help="fairseq-preprocess workers")
    out.add_argument("--quiet", action="store_true", help="no progress bars")

    ev = parser.add_argument_group("evaluation-only sets (existing spm model and dictionaries)")
    ev.add_argument("--eval-only", action="store_true",
                    help="prepare a test set only, keeping every segment in order")
    ev.add_argument("--spm-dir", type=Path, help="folder with spm.zh.model and spm.en.model")
    ev.add_argument("--dict-dir", type=Path, help="folder with dict.zh.txt and dict.en.txt")
    return parser


def build_sources(args: argparse.Namespace) -> list[Reader]:
    """The readers named on the command line, in a fixed order."""
    sources: list[Reader] = []
    if args.tatoeba:
        sources.append(TatoebaReader(args.tatoeba))
    if args.tatoeba_download:
        sources.append(download_tatoeba(args.cache_dir))
    if args.iwslt_dir:
        for name in filter(None, (s.strip() for s in args.iwslt_sets.split(","))):
            sources.append(IwsltReader(args.iwslt_dir, name, args.iwslt_format))
    for spec in args.hf:
        sources.append(HFReader.from_spec(spec, split=args.hf_split, cache_dir=args.cache_dir,
                                          limit=args.hf_limit))
    for zh_path, en_path in args.parallel:
        sources.append(ParallelReader(zh_path, en_path))
    return sources


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    progress.set_enabled(not args.quiet)
    command = ["reencoder-data", *argv]
    sources = build_sources(args)
    if not sources:
        parser.error("give at least one source (--tatoeba, --tatoeba-download, "
                     "--iwslt-dir, --hf or --parallel)")
    if args.eval_only:
        if not (args.spm_dir and args.dict_dir):
            parser.error("--eval-only needs --spm-dir and --dict-dir")
        pipeline.prepare_eval(sources, args.out, args.spm_dir, args.dict_dir, t2s=args.t2s,
                              workers=args.workers, command=command)
    else:
        pipeline.prepare(sources, args.out, seed=args.seed, dev_size=args.dev_size,
                         test_size=args.test_size, min_refs=args.min_refs,
                         spm_vocab_zh=args.spm_vocab_zh, spm_vocab_en=args.spm_vocab_en,
                         t2s=args.t2s, max_len=args.max_len, max_ratio=args.max_ratio,
                         workers=args.workers, command=command)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``reencoder-data``; returns 0, or exits 2 with ``error: ...``
    (:func:`data_prep.foundation.run_main`)."""
    status = run_main(_main, argv)
    if status:
        sys.exit(status)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
