"""Steps that every preparation mode shares (:mod:`data_prep.pipeline` for corpora held in
memory, :mod:`data_prep.streaming` for large ones): the up-to-date check, JSON reports, the
word-level ``tok/`` files of evaluation sets and the record of a sentencepiece model."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from . import manifest, subwords, wordseg
from .foundation import atomic_write_text, write_lines
from .readers import Reader


def write_json(path: Path, content: dict) -> None:
    """``content`` as indented UTF-8 JSON, written atomically."""
    atomic_write_text(path, json.dumps(content, indent=2, ensure_ascii=False) + "\n")


def fingerprint_or_skip(out_dir: Path, sources: Sequence[Reader], settings: dict,
                        print_fn: Callable[[str], object]) -> tuple[list[dict], str] | None:
    """``(described sources, fingerprint)`` of a build, or ``None`` when ``out_dir`` already holds
    it (then says "up to date")."""
    described = [source.describe() for source in sources]
    expected = manifest.fingerprint(described, settings)
    if manifest.is_up_to_date(out_dir, expected):
        print_fn(f"up to date: {out_dir}")
        return None
    return described, expected


def write_tok(tok: Path, name: str, zh: Sequence[str], en_files: dict[str, Sequence[str]]) -> None:
    """``tok/NAME.zh`` (jieba words) and each English file of ``en_files`` (Moses tokens)."""
    write_lines(tok / f"{name}.zh", wordseg.segment_zh(zh, f"jieba {name}"))
    for filename, lines in en_files.items():
        write_lines(tok / filename, wordseg.tokenize_en(lines, f"moses {filename}"))


def spm_record(requested_vocab: int, model: Path, dict_entries: int, **extra) -> dict:
    """What the manifest says about one language's sentencepiece model."""
    return {"requested_vocab": requested_vocab, "pieces": subwords.load(model).get_piece_size(),
            "fairseq_dict_entries": dict_entries, **extra}
