"""Steps that every preparation mode shares (:mod:`data_prep.pipeline` for corpora held in
memory, :mod:`data_prep.streaming` for large ones, :mod:`data_prep.vocab_transfer` for a prepared
corpus in another's vocabulary): the frame of a build (up-to-date check, staged folder,
manifest), JSON reports, the word-level ``tok/`` files of evaluation sets, the record of a
sentencepiece model, and the existing sentencepiece models and dictionaries an output is
encoded with."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Sequence

from . import manifest, subwords, wordseg
from .errors import DataError
from .foundation import atomic_write_text, write_lines
from .staging import staged_folder

LANGS = ("zh", "en")


def write_json(path: Path, content: dict) -> None:
    """``content`` as indented UTF-8 JSON, written atomically."""
    atomic_write_text(path, json.dumps(content, indent=2, ensure_ascii=False) + "\n")


def build_once(out_dir: Path, described: list[dict], settings: dict, command: Sequence[str] | None,
               print_fn: Callable[[str], object], make: Callable[[Path], tuple[dict, str]]) -> Path:
    """The frame of every preparation mode: nothing when ``out_dir`` already holds the build of
    the ``described`` sources with ``settings`` (it says "up to date"); else ``make(tmp)`` fills a
    staged folder (:func:`~data_prep.staging.staged_folder`: ``out_dir`` stays as it was if
    anything fails) and returns the manifest's own entries (``counts``, ...) and a summary; the
    manifest is written last, the folder renamed into place and ``wrote OUT: SUMMARY`` said.
    ``command``: the arguments the manifest records (None: not a command line)."""
    expected = manifest.fingerprint(described, settings)
    if manifest.is_up_to_date(out_dir, expected):
        print_fn(f"up to date: {out_dir}")
        return out_dir
    with staged_folder(out_dir) as tmp:
        entries, summary = make(tmp)
        manifest.write(tmp, {"fingerprint": expected, "sources": described, "settings": settings, **entries,
                             "arguments": list(command) if command is not None else None})
    print_fn(f"wrote {out_dir}: {summary}")
    return out_dir


def model_files(spm_dir: Path, dict_dir: Path) -> list[Path]:
    """``spm.{zh,en}.model`` of ``spm_dir`` and ``dict.{zh,en}.txt`` of ``dict_dir``; a
    :class:`DataError` naming the first one missing."""
    needed = [Path(spm_dir) / f"spm.{lang}.model" for lang in LANGS]
    needed += [Path(dict_dir) / f"dict.{lang}.txt" for lang in LANGS]
    for path in needed:
        if not path.is_file():
            raise DataError(f"{path}: no such file (--spm-dir/--dict-dir must point at a "
                            "prepared output's spm/ and bin/ folders)")
    return needed


def copy_models(needed: Sequence[Path], spm_dir: Path, dest: Path) -> None:
    """The files of :func:`model_files` (and the ``.vocab`` files beside the models) into
    ``dest``, the output's ``spm/`` folder."""
    dest.mkdir(parents=True)
    vocabs = [path for lang in LANGS if (path := spm_dir / f"spm.{lang}.vocab").is_file()]
    for path in [*needed, *vocabs]:
        shutil.copy2(path, dest / path.name)


def write_tok(tok: Path, name: str, zh: Sequence[str], en_files: dict[str, Sequence[str]]) -> None:
    """``tok/NAME.zh`` (jieba words) and each English file of ``en_files`` (Moses tokens)."""
    write_lines(tok / f"{name}.zh", wordseg.segment_zh(zh, f"jieba {name}"))
    for filename, lines in en_files.items():
        write_lines(tok / filename, wordseg.tokenize_en(lines, f"moses {filename}"))


def spm_record(requested_vocab: int, model: Path, dict_entries: int, **extra) -> dict:
    """What the manifest says about one language's sentencepiece model."""
    return {"requested_vocab": requested_vocab, "pieces": subwords.load(model).get_piece_size(),
            "fairseq_dict_entries": dict_entries, **extra}
