"""A prepared folder's data in another folder's vocabulary: the data to fine-tune a model on.

A model trained on one corpus (say TVsub) reads and writes only its own sentencepiece pieces
and dictionary ids.  To go on training it on another prepared corpus (say Tatoeba: domain
adaptation, ``recipes/tvsub_adapt.sh``), that corpus must be encoded with the model's
sentencepiece models and binarized with its dictionaries.  :func:`prepare_transfer` does that
for a complete ``reencoder-data`` output::

    split/ tok/     copies of PREPARED's (the same training pairs, dev and test items, references)
    spm/            copies of the given sentencepiece models and dictionaries
    encoded/        train, valid (dev), test: PREPARED's split/ text (train.LANG, dev.zh with
                    dev.en, its first reference, test likewise) encoded with the given models
    bin/            fairseq-preprocess output with the given dictionaries
    manifest.json   written last; counts include the pieces each dictionary does not hold

Built in ``OUT.tmp-PID-XXXX`` and renamed into place when complete; a re-run with the same
inputs does nothing.
"""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Sequence

from . import binarize, manifest, subwords
from .errors import DataError
from .foundation import read_lines, write_lines
from .progress import step
from .stages import LANGS, build_once, copy_models, model_files
from .textio import sha256_file


def _dictionary(path: Path) -> set[str]:
    """The symbols of a fairseq dictionary file (one ``SYMBOL COUNT`` per line)."""
    return {line.rsplit(" ", 1)[0] for line in read_lines(path, DataError) if line}


#: subset of the encoded/ and bin/ folders -> file stem of its text in split/
SPLIT_STEMS = {"train": "train", "valid": "dev", "test": "test"}


def _check_prepared(prepared: Path) -> dict:
    """``prepared``'s manifest; a :class:`DataError` unless it is a complete output with the
    split/ files this module reads."""
    info = manifest.read(prepared)
    if info is None:
        raise DataError(f"{prepared / manifest.MANIFEST}: missing or unreadable "
                        "(--from-prepared needs a complete reencoder-data output)")
    for stem in SPLIT_STEMS.values():
        for lang in LANGS:
            path = prepared / "split" / f"{stem}.{lang}"
            if not path.is_file():
                raise DataError(f"{path}: no such file (--from-prepared needs a complete "
                                "reencoder-data output)")
    return info


def _encode(split: Path, spm_dir: Path, encoded: Path, dictionaries: dict) -> dict:
    """Every subset's text in ``split`` encoded with ``spm_dir``'s models into ``encoded``;
    returns per subset and language the lines, pieces and pieces outside ``dictionaries[lang]``."""
    counts: dict[str, dict] = {}
    for name, stem in SPLIT_STEMS.items():
        counts[name] = {}
        for lang in LANGS:
            text = read_lines(split / f"{stem}.{lang}", DataError)
            lines = subwords.encode_lines(spm_dir / f"spm.{lang}.model", text, f"spm {name}.{lang}")
            write_lines(encoded / f"{name}.{lang}", lines)
            known = Counter(piece in dictionaries[lang] for line in lines for piece in line.split())
            counts[name][lang] = {"lines": len(lines), "pieces": sum(known.values()),
                                  "unknown_pieces": known[False]}
    return counts


def prepare_transfer(prepared: str | Path, out_dir: str | Path, spm_dir: str | Path,
                     dict_dir: str | Path, *, workers: int = 1,
                     command: Sequence[str] | None = None, print_fn=print) -> Path:
    """``prepared``'s data encoded with ``spm_dir``'s models and ``dict_dir``'s dictionaries
    into ``out_dir`` (see the module doc). Raises :class:`DataError` for bad input, leaving
    ``out_dir`` as it was; does nothing (prints "up to date") when it is already built."""
    prepared, out_dir = Path(prepared), Path(out_dir)
    spm_dir, dict_dir = Path(spm_dir), Path(dict_dir)
    info = _check_prepared(prepared)
    needed = model_files(spm_dir, dict_dir)
    settings = {"mode": "vocab-transfer", "t2s": manifest.t2s(prepared),
                "models": {path.name: sha256_file(path) for path in needed}}
    described = [{"kind": "prepared", "path": str(prepared), "fingerprint": info.get("fingerprint")}]

    def make(tmp: Path) -> tuple[dict, str]:
        step(f"copying {prepared}'s split/ and tok/")
        for folder in ("split", "tok"):
            if (prepared / folder).is_dir():
                shutil.copytree(prepared / folder, tmp / folder)
        copy_models(needed, spm_dir, tmp / "spm")
        dictionaries = {lang: _dictionary(dict_dir / f"dict.{lang}.txt") for lang in LANGS}
        counts = _encode(tmp / "split", spm_dir, tmp / "encoded", dictionaries)
        binarize.fairseq_preprocess(tmp / "bin", dict_dir / "dict.zh.txt", dict_dir / "dict.en.txt",
                                    trainpref=tmp / "encoded" / "train",
                                    validpref=tmp / "encoded" / "valid",
                                    testpref=tmp / "encoded" / "test", workers=workers)
        train = counts["train"]
        return {"counts": counts}, (
            f"train {train['zh']['lines']} pairs in {spm_dir}'s vocabulary "
            f"(unknown pieces: zh {train['zh']['unknown_pieces']} of {train['zh']['pieces']}, "
            f"en {train['en']['unknown_pieces']} of {train['en']['pieces']})")

    return build_once(out_dir, described, settings, command, print_fn, make)
