"""Streaming preparation of a large corpus with fixed dev/test sets: ``reencoder-data --tvsub``.

The in-memory :func:`data_prep.pipeline.prepare` holds every pair in lists, which suits
Tatoeba (27k pairs) but not TVsub (2.15M). Here the training pairs flow from the gzip files
through :class:`~data_prep.cleaning.PairCleaner` (the same normalisation and rules, duplicates
remembered as 64-bit hashes) and the dev/test leak filter straight into ``split/train.*``;
every later step reads those files back in chunks. The output layout is that of ``prepare``
(``split/ tok/ spm/ encoded/ bin/ manifest.json``, plus ``clean/report.json``), without the
``raw/`` and ``clean/`` text copies (the gzip files are the raw text).

Choices for this corpus (short conversational lines, ~6 zh / ~8 en words):

* **Sentencepiece vocabulary 8,000 per side** (:data:`TVSUB_VOCAB`; Tatoeba's is 4,000): the
  training side is ~75x larger and far more varied (names, slang; 5.4k distinct Han
  characters), so more whole words pay for themselves; but the output softmax and embedding
  cost grow linearly with the vocabulary, which on a CPU is a large share of a small model's
  step, so it stays at 8k rather than the 16-32k of GPU systems. The Chinese model keeps
  99.95 % character coverage (the rarest characters become ``<unk>``).
* **Trained on a seeded reservoir sample of 300,000 cleaned training pairs**
  (:data:`DEFAULT_SPM_SAMPLE`, 17 % of the 1.77M kept pairs; the same sample for both
  languages): plenty of text for the piece statistics of an 8k vocabulary, while training
  time grows with the sample (times: ``recipes/RESULTS.md``, "TVsub data preparation"), so all
  lines would spend minutes of the preparation's budget. Every training line is then encoded
  with the model.
* ``tok/`` (jieba / Moses for the phrase-based baseline) is the slowest step; it runs on a
  pool of ``workers`` processes. ``tok_limit`` keeps only the first N training lines there
  (the baseline trains on a subsample, ``--max-train``, anyway); dev and test are always
  complete.

Wall time and peak memory of a full run: ``recipes/RESULTS.md``, "TVsub data preparation".
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator, Sequence

from . import fixed_sets, subwords, wordseg
from .chunked import map_chunks
from .cleaning import DEFAULT_MAX_LEN, DEFAULT_MAX_RATIO, CleaningReport, PairCleaner
from .errors import DataError
from .fixed_sets import FixedSet
from .foundation import line_writer, numbered_lines
from .progress import StepTimer, step, tqdm_bar, track
from .readers import Reader
from .sampling import Reservoir
from .split import HeldOut
from .spm_binarize import encode_and_binarize, piece_counts
from .stages import LANGS, build_once, spm_record, write_json
from .tvsub import TvsubReader

TVSUB_VOCAB = {"zh": 8000, "en": 8000}
DEFAULT_SPM_SAMPLE = 300_000
DEFAULT_WORKERS = 2
DEFAULT_SEED = 1
#: lines per chunk sent to a tok worker (a few MB of text)
TOK_CHUNK = 20_000


@dataclass
class TrainStream:
    """What the training pass produced: counts, the cleaning report and the spm sample."""

    read: int
    report: CleaningReport
    removed_for_overlap: int
    kept: int
    sample: list[tuple[str, str]]


def stream_train(reader: Reader, split: Path, cleaner: PairCleaner, held: HeldOut,
                 sample: Reservoir, total: int | None = None) -> TrainStream:
    """Clean ``reader``'s pairs one by one into ``split/train.{zh,en}``: pairs that a cleaning
    rule removes or that share a side with dev/test (``held``) are counted and dropped, the
    others written and offered to ``sample``."""
    overlap = 0
    with line_writer(split / "train.zh") as out_zh, line_writer(split / "train.en") as out_en:
        for raw_zh, raw_en in track(reader, "clean train", total):
            pair = cleaner(raw_zh, raw_en)
            if pair is None:
                continue
            if held.leaks(*pair):
                overlap += 1
                continue
            out_zh.write(pair[0])
            out_en.write(pair[1])
            sample.add(pair)
    report = cleaner.report
    return TrainStream(report.input, report, overlap, out_zh.count, sample.items)


def _lazy_lines(path: Path) -> Iterator[str]:
    """The lines of a split's UTF-8 file, read as they are used (the training split need not
    fit in memory)."""
    return (text for _, text in numbered_lines(path, DataError))


def tok_train(split: Path, tok: Path, lines: int, workers: int) -> int:
    """``tok/train.{zh,en}``: the first ``lines`` training pairs, jieba / Moses on ``workers``
    processes, streamed in order. Returns the number of lines written."""
    pairs = zip(_lazy_lines(split / "train.zh"), _lazy_lines(split / "train.en"))
    with line_writer(tok / "train.zh") as out_zh, line_writer(tok / "train.en") as out_en, \
            tqdm_bar("jieba/moses train", lines) as bar:
        for chunk in map_chunks(wordseg.segment_pairs, islice(pairs, lines), workers, TOK_CHUNK,
                                wordseg.warm_up):
            for zh, en in chunk:
                out_zh.write(zh)
                out_en.write(en)
            bar.update(len(chunk))
    return out_zh.count


def _encode_language(tmp: Path, model: Path, lang: str, n_train: int,
                     sets: Sequence[FixedSet], workers: int) -> tuple[int, int]:
    """Encode and binarize ``split/train.LANG`` and the fixed sets; write the fairseq
    dictionary (``spm/`` and ``bin/``). Returns ``(dictionary entries, training tokens)``."""
    train_lines = _lazy_lines(tmp / "split" / f"train.{lang}")
    ids = encode_and_binarize(model, train_lines, tmp / "encoded" / f"train.{lang}",
                              tmp / "bin" / f"train.zh-en.{lang}", n_train,
                              f"spm+bin train.{lang}", workers)
    entries = subwords.write_fairseq_dict_counts(model, piece_counts(model, ids),
                                                 tmp / "spm" / f"dict.{lang}.txt")
    shutil.copyfile(tmp / "spm" / f"dict.{lang}.txt", tmp / "bin" / f"dict.{lang}.txt")
    for fixed in sets:
        name, lines = fixed.fairseq_name, fixed.lines(lang)
        encode_and_binarize(model, lines, tmp / "encoded" / f"{name}.{lang}",
                            tmp / "bin" / f"{name}.zh-en.{lang}", len(lines),
                            f"spm+bin {name}.{lang}", workers)
    return entries, int(ids.sum())


def train_subwords(tmp: Path, train: TrainStream, sets: Sequence[FixedSet],
                   vocab: dict[str, int], workers: int) -> dict:
    """Per language: an spm model trained on the sample, then every training line and the
    dev/test sets encoded into ``encoded/`` and binarized into ``bin/``
    (:mod:`data_prep.spm_binarize`), with the fairseq dictionary ``dict.LANG.txt`` from the
    training piece counts. Returns the manifest's ``spm`` record."""
    info = {}
    for index, lang in enumerate(LANGS):
        step(f"sentencepiece {lang}: training on {len(train.sample)} sampled lines")
        model = subwords.train_lines(
            [pair[index] for pair in train.sample], tmp / "spm" / f"spm.{lang}", vocab[lang],
            subwords.CHARACTER_COVERAGE[lang], threads=workers,
            add_dummy_prefix=subwords.ADD_DUMMY_PREFIX[lang], source=f"the {lang} sample")
        step(f"sentencepiece {lang}: encoding and binarizing")
        entries, tokens = _encode_language(tmp, model, lang, train.kept, sets, workers)
        info[lang] = spm_record(vocab[lang], model, entries, sample_lines=len(train.sample),
                                train_tokens=tokens)
    return info


def _settings(reader: TvsubReader, tok_limit, spm_sample, vocab, t2s, max_len, max_ratio,
              seed) -> dict:
    return {"mode": "tvsub-streaming", "limit": reader.limit, "tok_limit": tok_limit,
            "spm_sample": spm_sample, "seed": seed, "spm_vocab": vocab,
            "spm_model_type": subwords.MODEL_TYPE,
            "character_coverage": subwords.CHARACTER_COVERAGE,
            "add_dummy_prefix": subwords.ADD_DUMMY_PREFIX, "t2s": t2s,
            "max_len": max_len, "max_ratio": max_ratio, "dev_test": "fixed (shipped sets)",
            "valid_test_target": "the set's shipped English, Moses-detokenized"}


def prepare_tvsub(directory: str | Path, out_dir: str | Path, *, limit: int | None = None,
                  tok_limit: int | None = None, spm_sample: int = DEFAULT_SPM_SAMPLE,
                  spm_vocab_zh: int = TVSUB_VOCAB["zh"], spm_vocab_en: int = TVSUB_VOCAB["en"],
                  t2s: bool = False, max_len: int = DEFAULT_MAX_LEN,
                  max_ratio: float = DEFAULT_MAX_RATIO, seed: int = DEFAULT_SEED,
                  workers: int = DEFAULT_WORKERS, command: Sequence[str] | None = None,
                  print_fn=print) -> Path:
    """Prepare the TVsub folder ``directory`` into ``out_dir`` (see the module docstring).

    ``limit`` reads only the first N training pairs. Does nothing (prints "up to date") if
    ``out_dir`` was built from the same files and settings; a failure or an interrupt leaves
    ``out_dir`` as it was (:func:`~data_prep.staging.staged_folder`).
    """
    reader = TvsubReader(directory, limit)
    vocab = {"zh": spm_vocab_zh, "en": spm_vocab_en}
    settings = _settings(reader, tok_limit, spm_sample, vocab, t2s, max_len, max_ratio, seed)

    def make(tmp: Path) -> tuple[dict, str]:
        timer = StepTimer()
        with timer("dev_test", "reading the fixed dev and test sets"):
            sets = [fixed_sets.from_eval_set(reader.eval_set(name), t2s)
                    for name in ("dev", "test")]
            refs_info = fixed_sets.write_split(tmp / "split", sets)
            fixed_sets.write_tok_sets(tmp / "tok", sets)
        with timer("clean_train", f"cleaning the training pairs of {reader.directory}"):
            # no reference to the cleaner is kept: its set of hashes is freed on return
            train = stream_train(reader, tmp / "split",
                                 PairCleaner(t2s=t2s, max_len=max_len, max_ratio=max_ratio),
                                 fixed_sets.held_out(sets), Reservoir(spm_sample, seed), limit)
        write_json(tmp / "clean" / "report.json", train.report.to_dict())
        if not train.kept:
            raise DataError(f"no training pairs left after cleaning (read {train.read}, "
                            f"removed per rule: {train.report.removed}, "
                            f"{train.removed_for_overlap} for dev/test overlap)")
        with timer("spm_encode_binarize", "sentencepiece, encoding and binarizing"):
            spm_info = train_subwords(tmp, train, sets, vocab, workers)
        train.sample.clear()  # not needed any more: the tok workers fork without it
        with timer("tok_train", "word segmentation of train for the phrase-based baseline"):
            tok_lines = tok_train(tmp / "split", tmp / "tok",
                                  min(train.kept, tok_limit or train.kept), workers)
        entries = {"counts": _counts(train, sets, refs_info, tok_lines, spm_info), "wall_times_s": timer.total()}
        return entries, (f"train {train.kept} pairs (of {train.read} read), "
                         f"dev {len(sets[0].items)} items, test {len(sets[1].items)} items")

    return build_once(Path(out_dir), [reader.describe()], settings, command, print_fn, make)


def _counts(train: TrainStream, sets: Sequence[FixedSet], refs_info: dict, tok_lines: int,
            spm_info: dict) -> dict:
    """The manifest's ``counts``: the same keys as :func:`data_prep.pipeline.prepare`'s."""
    split = {"train_pairs": train.kept, "train_removed_for_overlap": train.removed_for_overlap,
             **{f"{fixed.name}_items": len(fixed.items) for fixed in sets},
             **{f"{fixed.name}_refs_histogram": refs_info[fixed.name]["refs_per_item"]
                for fixed in sets}}
    return {"raw": train.read, "clean": train.report.kept, "cleaning": train.report.to_dict(),
            "split": split, "references": refs_info,
            "tok": {"train_lines": tok_lines, "dev_items": len(sets[0].items),
                    "test_items": len(sets[1].items)},
            "spm": spm_info}
