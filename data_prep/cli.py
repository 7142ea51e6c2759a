"""``reencoder-data``: turn Chinese-English corpora into fairseq-ready, leak-free data.

Examples::

    reencoder-data --tatoeba ../shared/data/tatoeba-cmn-eng/cmn-eng.tsv --out work/data/tatoeba
    reencoder-data --tatoeba-download --out work/data/tatoeba
    reencoder-data --hf Helsinki-NLP/news_commentary:en-zh --min-refs 1 --out work/data/nc
    reencoder-data --parallel corpus.zh corpus.en --out work/data/mine
    reencoder-data --tvsub ../shared/data/tvsub-zh-en --out work/data/tvsub
    reencoder-data --eval-only --iwslt-dir ../shared/data/iwslt15-ted-zh-en \\
        --iwslt-sets tst2010 --spm-dir work/data/tatoeba/spm --dict-dir work/data/tatoeba/bin \\
        --out work/data/ted-tst2010
    reencoder-data --from-prepared work/data/tatoeba --spm-dir work/data/tvsub/spm \\
        --dict-dir work/data/tvsub/bin --out work/data/tatoeba_in_tvsub

Errors in the input print one line ``error: ...`` and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import pipeline, progress, streaming, subwords, vocab_transfer
from .cleaning import DEFAULT_MAX_LEN, DEFAULT_MAX_RATIO
from .foundation import positive_int, run_main
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
        out.add_argument(f"--spm-vocab-{lang}", type=int, default=None,
                         help=f"{lang} sentencepiece pieces (default "
                              f"{subwords.DEFAULT_VOCAB[lang]}; {streaming.TVSUB_VOCAB[lang]} "
                              "with --tvsub)")
    out.add_argument("--t2s", action="store_true", help="convert Traditional to Simplified")
    out.add_argument("--max-len", type=int, default=DEFAULT_MAX_LEN,
                     help="drop pairs with a side longer than this (Chinese characters / "
                          "English words; default %(default)s)")
    out.add_argument("--max-ratio", type=float, default=DEFAULT_MAX_RATIO,
                     help="drop pairs whose length ratio exceeds this (default %(default)s)")
    out.add_argument("--workers", type=positive_int, default=None,
                     help="fairseq-preprocess workers (default 1; with --tvsub "
                          f"{streaming.DEFAULT_WORKERS}, also for jieba/Moses and sentencepiece)")
    out.add_argument("--quiet", action="store_true", help="no progress bars")

    tv = parser.add_argument_group(
        "TVsub (streamed; the corpus's own dev/test sets and references; no other source)")
    tv.add_argument("--tvsub", metavar="DIR", type=Path,
                    help="TVsub folder with train.{zh,en}.gz, {dev,test}.orignal.{zh,en}, "
                         "dev_trg.sgm and test_trg.sgm")
    tv.add_argument("--tvsub-limit", metavar="N", type=positive_int, default=None,
                    help="read only the first N training pairs (tests, quick checks)")
    tv.add_argument("--tok-limit", metavar="N", type=positive_int, default=None,
                    help="jieba/Moses only the first N training pairs into tok/ "
                         "(default: all; dev and test always complete)")
    tv.add_argument("--spm-sample", metavar="N", type=positive_int,
                    default=streaming.DEFAULT_SPM_SAMPLE,
                    help="train sentencepiece on a seeded random sample of N training pairs "
                         "(default %(default)s)")

    ev = parser.add_argument_group("existing spm models and dictionaries (evaluation-only sets, "
                                   "or a prepared corpus in another corpus's vocabulary)")
    ev.add_argument("--eval-only", action="store_true",
                    help="prepare a test set only, keeping every segment in order")
    ev.add_argument("--from-prepared", metavar="DIR", type=Path,
                    help="a reencoder-data output whose train/dev/test are encoded with "
                         "--spm-dir and binarized with --dict-dir (no other source): data to "
                         "fine-tune a model trained on that vocabulary's corpus")
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


def _vocab(args: argparse.Namespace, defaults: dict[str, int]) -> dict[str, int]:
    return {f"spm_vocab_{lang}": getattr(args, f"spm_vocab_{lang}") or defaults[lang]
            for lang in ("zh", "en")}


def _tvsub(parser: argparse.ArgumentParser, args: argparse.Namespace, command: list[str]):
    others = (args.tatoeba, args.tatoeba_download, args.iwslt_dir, args.hf, args.parallel,
              args.from_prepared)
    if any(others) or args.eval_only:
        parser.error("--tvsub cannot be combined with other sources or --eval-only")
    streaming.prepare_tvsub(args.tvsub, args.out, limit=args.tvsub_limit,
                            tok_limit=args.tok_limit, spm_sample=args.spm_sample,
                            **_vocab(args, streaming.TVSUB_VOCAB), t2s=args.t2s,
                            max_len=args.max_len, max_ratio=args.max_ratio, seed=args.seed,
                            workers=args.workers or streaming.DEFAULT_WORKERS, command=command)


def _from_prepared(parser: argparse.ArgumentParser, args: argparse.Namespace,
                   command: list[str]) -> None:
    if build_sources(args) or args.eval_only:
        parser.error("--from-prepared cannot be combined with sources or --eval-only")
    if not (args.spm_dir and args.dict_dir):
        parser.error("--from-prepared needs --spm-dir and --dict-dir")
    vocab_transfer.prepare_transfer(args.from_prepared, args.out, args.spm_dir, args.dict_dir,
                                    workers=args.workers or 1, command=command)


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    progress.set_enabled(not args.quiet)
    command = ["reencoder-data", *argv]
    if args.tvsub:
        _tvsub(parser, args, command)
        return 0
    if args.from_prepared:
        _from_prepared(parser, args, command)
        return 0
    sources = build_sources(args)
    if not sources:
        parser.error("give at least one source (--tatoeba, --tatoeba-download, "
                     "--iwslt-dir, --hf, --parallel or --tvsub)")
    if args.eval_only:
        if not (args.spm_dir and args.dict_dir):
            parser.error("--eval-only needs --spm-dir and --dict-dir")
        pipeline.prepare_eval(sources, args.out, args.spm_dir, args.dict_dir, t2s=args.t2s,
                              workers=args.workers or 1, command=command)
    else:
        pipeline.prepare(sources, args.out, seed=args.seed, dev_size=args.dev_size,
                         test_size=args.test_size, min_refs=args.min_refs,
                         **_vocab(args, subwords.DEFAULT_VOCAB), t2s=args.t2s,
                         max_len=args.max_len, max_ratio=args.max_ratio,
                         workers=args.workers or 1, command=command)
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
