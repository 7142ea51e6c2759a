"""The whole preparation: read -> clean -> split -> word-segment -> subwords -> binarize.

Output layout of ``prepare`` (all under ``out_dir``)::

    raw/       raw.zh raw.en                       pairs as read
    clean/     clean.zh clean.en report.json       normalised, filtered, de-duplicated
    split/     train.{zh,en} dev.zh dev.en.0..K dev.en test.zh test.en.0..K test.en
               references.json                     (K, refs per item; missing ref = empty line)
    tok/       train.{zh,en} dev.zh dev.en.k test.zh test.en.k   jieba / Moses, for the SMT baseline
    spm/       spm.{zh,en}.{model,vocab} dict.{zh,en}.txt
    encoded/   {train,valid,test}.{zh,en}          pieces; valid = dev, English = reference 0
    bin/       fairseq-preprocess output (dictionaries = spm/dict.*.txt)
    manifest.json                                  written last: the completion marker

The folder is built as ``OUT.tmp-PID-XXXX`` and renamed into place when complete.
"""
from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Sequence

from . import binarize, subwords
from .cleaning import DEFAULT_MAX_LEN, DEFAULT_MAX_RATIO, CleaningReport, clean, normalize
from .errors import DataError
from .foundation import write_lines
from .progress import step, track
from .readers import Pair, Reader
from .references import reference_columns, write_items
from .split import Item, Splits, make_splits
from .stages import LANGS, build_once, copy_models, model_files, spm_record, write_json, write_tok
from .textio import sha256_file

DEFAULT_DEV_SIZE = 500
DEFAULT_TEST_SIZE = 1000
DEFAULT_SEED = 1


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _write_pairs(folder: Path, stem: str, pairs: Sequence[Pair]) -> None:
    for index, lang in enumerate(LANGS):
        write_lines(folder / f"{stem}.{lang}", (_one_line(pair[index]) for pair in pairs))


def _as_list(sources: Reader | Sequence[Reader]) -> list[Reader]:
    return [sources] if isinstance(sources, Reader) else list(sources)


def _read_raw(sources: Sequence[Reader], tmp: Path) -> list[Pair]:
    """Every pair of the sources, also written to ``tmp/raw``."""
    step("reading " + ", ".join(source.kind for source in sources))
    pairs = list(track(chain.from_iterable(sources), "read"))
    if not pairs:
        raise DataError("the sources contain no sentence pairs")
    _write_pairs(tmp / "raw", "raw", pairs)
    return pairs


def _first_refs(items: Sequence[Item]) -> dict[str, list[str]]:
    """Sources and reference 0 of ``items``: the single-reference view fairseq needs."""
    return {"zh": [item.zh for item in items], "en": [item.refs[0] for item in items]}


def _subwords(split: Path, spm_dir: Path, encoded: Path,
              texts: dict[str, dict[str, list[str]]], vocab: dict[str, int]) -> dict:
    """Train one spm model per language on ``split/train.LANG``, encode every split of
    ``texts`` into ``encoded/`` and write the fairseq dictionaries ``spm/dict.LANG.txt``."""
    step("training sentencepiece models")
    spm_info = {}
    for lang in LANGS:
        model = subwords.train(split / f"train.{lang}", spm_dir / f"spm.{lang}", vocab[lang],
                               subwords.CHARACTER_COVERAGE[lang],
                               add_dummy_prefix=subwords.ADD_DUMMY_PREFIX[lang])
        pieces = {name: subwords.encode_lines(model, texts[name][lang], f"spm {name}.{lang}")
                  for name in texts}
        for name, lines in pieces.items():
            write_lines(encoded / f"{name}.{lang}", lines)
        entries = subwords.write_fairseq_dict(model, pieces["train"], spm_dir / f"dict.{lang}.txt")
        spm_info[lang] = spm_record(vocab[lang], model, entries)
    return spm_info


def prepare(sources: Reader | Sequence[Reader], out_dir: str | Path, *, seed: int = DEFAULT_SEED,
            dev_size: int = DEFAULT_DEV_SIZE, test_size: int = DEFAULT_TEST_SIZE,
            min_refs: int = 2, spm_vocab_zh: int = subwords.DEFAULT_VOCAB["zh"],
            spm_vocab_en: int = subwords.DEFAULT_VOCAB["en"], t2s: bool = False,
            max_len: int = DEFAULT_MAX_LEN, max_ratio: float = DEFAULT_MAX_RATIO,
            workers: int = 1, command: Sequence[str] | None = None,
            print_fn=print) -> Path:
    """Prepare training, dev and test data from ``sources`` into ``out_dir`` (see module doc).

    Does nothing (prints "up to date") if ``out_dir`` was built from the same sources and
    settings. Raises :class:`DataError` for bad input; ``out_dir`` is then left as it was.
    """
    sources = _as_list(sources)
    vocab = {"zh": spm_vocab_zh, "en": spm_vocab_en}
    settings = {"mode": "full", "seed": seed, "dev_size": dev_size, "test_size": test_size,
                "min_refs": min_refs, "spm_vocab": vocab,
                "spm_model_type": subwords.MODEL_TYPE,
                "character_coverage": subwords.CHARACTER_COVERAGE,
                "add_dummy_prefix": subwords.ADD_DUMMY_PREFIX, "t2s": t2s,
                "max_len": max_len, "max_ratio": max_ratio}

    def make(tmp: Path) -> tuple[dict, str]:
        raw = _read_raw(sources, tmp)
        kept, report = _cleaned(tmp, raw, t2s, max_len, max_ratio)
        step("splitting")
        splits = make_splits(kept, dev_size, test_size, seed, min_refs)
        train = {"zh": [zh for zh, _ in splits.train], "en": [en for _, en in splits.train]}
        refs_info = _write_splits(tmp, splits, train)
        spm_info = _subwords(tmp / "split", tmp / "spm", tmp / "encoded", {
            "train": train, "valid": _first_refs(splits.dev), "test": _first_refs(splits.test)}, vocab)
        step("binarizing")
        binarize.fairseq_preprocess(tmp / "bin", tmp / "spm" / "dict.zh.txt", tmp / "spm" / "dict.en.txt",
                                    trainpref=tmp / "encoded" / "train", validpref=tmp / "encoded" / "valid",
                                    testpref=tmp / "encoded" / "test", workers=workers)
        counts = {"raw": len(raw), "clean": len(kept), "cleaning": report.to_dict(),
                  "split": splits.stats, "references": refs_info, "spm": spm_info}
        return {"counts": counts}, (f"train {len(splits.train)} pairs, dev {len(splits.dev)} items, "
                                    f"test {len(splits.test)} items")

    return build_once(Path(out_dir), [source.describe() for source in sources], settings, command, print_fn, make)


def _cleaned(tmp: Path, raw: Sequence[Pair], t2s: bool, max_len: int,
             max_ratio: float) -> tuple[list[Pair], CleaningReport]:
    """The pairs kept by the cleaning rules and the report, both written to ``tmp/clean``."""
    step("cleaning")
    kept, report = clean(raw, t2s=t2s, max_len=max_len, max_ratio=max_ratio)
    _write_pairs(tmp / "clean", "clean", kept)
    write_json(tmp / "clean" / "report.json", report.to_dict())
    if not kept:
        raise DataError(f"no sentence pairs left after cleaning "
                        f"(removed per rule: {report.removed})")
    return kept, report


def _write_splits(tmp: Path, splits: Splits, train: dict[str, list[str]]) -> dict:
    """``tmp/split`` (train pairs, dev and test items with their references) and ``tmp/tok``
    (their word segmentation for the phrase-based baseline; ``train``: the training text per
    language); returns the references' record."""
    split = tmp / "split"
    _write_pairs(split, "train", splits.train)
    refs_info = {name: write_items(split, name, items)
                 for name, items in (("dev", splits.dev), ("test", splits.test))}
    write_json(split / "references.json", refs_info)
    step("word segmentation for the phrase-based baseline")
    write_tok(tmp / "tok", "train", train["zh"], {"train.en": train["en"]})
    for name, items in (("dev", splits.dev), ("test", splits.test)):
        write_tok(tmp / "tok", name, [item.zh for item in items], reference_columns(items, name))
    return refs_info


def prepare_eval(sources: Reader | Sequence[Reader], out_dir: str | Path, spm_dir: str | Path,
                 dict_dir: str | Path, *, t2s: bool = False, workers: int = 1,
                 command: Sequence[str] | None = None, print_fn=print) -> Path:
    """Prepare an evaluation-only test set with an existing spm model and dictionaries.

    Writes ``split/test.zh test.en.0 test.en``, ``tok/test.*``, ``spm/`` (copies of the
    models and dictionaries used), ``encoded/test.*``, ``bin/test.*`` and the manifest.
    Every segment is kept, in order (only :func:`normalize` is applied), so the output stays
    aligned with the official set; one reference per item.
    """
    spm_dir, dict_dir = Path(spm_dir), Path(dict_dir)
    sources = _as_list(sources)
    needed = model_files(spm_dir, dict_dir)
    settings = {"mode": "eval-only", "t2s": t2s,
                "models": {path.name: sha256_file(path) for path in needed}}

    def make(tmp: Path) -> tuple[dict, str]:
        raw = _read_raw(sources, tmp)
        pairs = [(normalize(zh, t2s=t2s), normalize(en)) for zh, en in track(raw, "normalize")]
        _write_pairs(tmp / "clean", "clean", pairs)
        report = CleaningReport(input=len(raw), kept=len(pairs),
                                normalized_changed=sum(p != r for p, r in zip(pairs, raw)),
                                settings={"t2s": t2s, "rules": "none (eval-only keeps all)"})
        write_json(tmp / "clean" / "report.json", report.to_dict())
        items = [Item(zh, (en,)) for zh, en in pairs]
        refs_info = {"test": write_items(tmp / "split", "test", items)}
        write_json(tmp / "split" / "references.json", refs_info)
        write_tok(tmp / "tok", "test", [zh for zh, _ in pairs], reference_columns(items, "test"))
        copy_models(needed, spm_dir, tmp / "spm")
        for index, lang in enumerate(LANGS):
            lines = subwords.encode_lines(spm_dir / f"spm.{lang}.model",
                                          [pair[index] for pair in pairs], f"spm test.{lang}")
            write_lines(tmp / "encoded" / f"test.{lang}", lines)
        binarize.fairseq_preprocess(tmp / "bin", dict_dir / "dict.zh.txt",
                                    dict_dir / "dict.en.txt", testpref=tmp / "encoded" / "test",
                                    workers=workers)
        counts = {"raw": len(raw), "test_items": len(items), "cleaning": report.to_dict(),
                  "references": refs_info}
        return {"counts": counts}, f"test {len(items)} items (eval-only)"

    return build_once(Path(out_dir), [source.describe() for source in sources], settings, command, print_fn, make)
