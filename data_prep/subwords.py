"""SentencePiece models: training, encoding raw text, decoding pieces, fairseq dictionaries.

The translation CLI reuses :func:`encode` (raw Chinese -> pieces, with the same
:func:`~data_prep.cleaning.normalize` as the training data) and :func:`decode`
(English pieces -> plain text).
"""
from __future__ import annotations

import functools
import io
import os
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import sentencepiece as spm

from .cleaning import normalize
from .errors import DataError
from .foundation import atomic_write_bytes, atomic_write_text, read_lines
from .progress import track

#: Defaults for ~25k short sentence pairs (Tatoeba). Chinese needs coverage below 1.0 so
#: that very rare characters become <unk> rather than wasting pieces; English keeps all.
DEFAULT_VOCAB = {"zh": 4000, "en": 4000}
CHARACTER_COVERAGE = {"zh": 0.9995, "en": 1.0}
MODEL_TYPE = "unigram"
#: Chinese has no spaces between words: a dummy "▁" at the start of each sentence would only
#: cost one piece per sentence and split sentence-initial from inner occurrences.
ADD_DUMMY_PREFIX = {"zh": False, "en": True}


def train(input_path: str | Path, model_prefix: str | Path, vocab_size: int,
          character_coverage: float, model_type: str = MODEL_TYPE, threads: int = 2,
          add_dummy_prefix: bool = True) -> Path:
    """Train a SentencePiece model on the lines of ``input_path`` (:func:`train_lines`)."""
    lines = read_lines(input_path, DataError)
    return train_lines(lines, model_prefix, vocab_size, character_coverage, model_type,
                       threads, add_dummy_prefix, source=str(input_path))


def train_lines(lines: Sequence[str], model_prefix: str | Path, vocab_size: int,
                character_coverage: float, model_type: str = MODEL_TYPE, threads: int = 2,
                add_dummy_prefix: bool = True, source: str = "the training text") -> Path:
    """Train a SentencePiece model on ``lines``; write ``PREFIX.model``/``PREFIX.vocab``.

    Training is deterministic (no sentence sampling or shuffling: a large corpus is sampled
    by the caller, e.g. :class:`data_prep.sampling.Reservoir`), and the model is fed from
    memory so it records no file paths: the same text gives byte-identical files.
    ``vocab_size`` is an upper bound on small corpora (``hard_vocab_limit=false``). Both files
    are written atomically. Returns the ``.model`` path.
    """
    model = io.BytesIO()
    try:
        with open(os.devnull, "w") as devnull:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size,
                character_coverage=character_coverage, model_type=model_type,
                input_sentence_size=0, shuffle_input_sentence=False, hard_vocab_limit=False,
                add_dummy_prefix=add_dummy_prefix, num_threads=threads, logstream=devnull)
    except RuntimeError as exc:
        raise DataError(f"sentencepiece training on {source} failed: {exc}") from None
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = "".join(f"{processor.id_to_piece(i)}\t{processor.get_score(i):g}\n"
                    for i in range(processor.get_piece_size()))  # spm's own .vocab format
    model_path = Path(f"{model_prefix}.model")
    atomic_write_bytes(model_path, model.getvalue())
    atomic_write_text(Path(f"{model_prefix}.vocab"), vocab)
    return model_path


@functools.lru_cache(maxsize=8)
def _load(model_path: str, mtime_ns: int, size: int) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=model_path)


def load(model_path: str | Path) -> spm.SentencePieceProcessor:
    """A processor for ``model_path`` (cached while the file is unchanged)."""
    try:
        stat = Path(model_path).stat()
    except FileNotFoundError:
        raise DataError(f"{model_path}: no such sentencepiece model") from None
    return _load(str(model_path), stat.st_mtime_ns, stat.st_size)


def encode_lines(model_path: str | Path, lines: Sequence[str], desc: str = "encode") -> list[str]:
    """Encode already-normalised lines into space-separated pieces."""
    processor = load(model_path)
    return [" ".join(processor.encode(line, out_type=str)) for line in track(lines, desc)]


def encode(texts: Iterable[str], model_path: str | Path, t2s: bool = False) -> list[str]:
    """Normalise raw ``texts`` (:func:`~data_prep.cleaning.normalize`) and encode them."""
    return encode_lines(model_path, [normalize(text, t2s=t2s) for text in texts])


def decode(lines: Iterable[str], model_path: str | Path | None = None) -> list[str]:
    """Turn space-separated pieces (e.g. fairseq output) back into plain text.

    With a model the pieces are decoded by SentencePiece; without one, pieces are joined and
    ``▁`` becomes a space (the same for the pieces of a unigram/BPE model without byte
    fallback).
    """
    if model_path is None:
        return [" ".join("".join(line.split()).replace("\u2581", " ").split()) for line in lines]
    processor = load(model_path)
    return [processor.decode_pieces(line.split()) for line in lines]


def write_fairseq_dict(model_path: str | Path, encoded_lines: Iterable[str],
                       out_path: str | Path) -> int:
    """Write the fairseq dictionary of ``model_path`` with the piece frequencies of
    ``encoded_lines`` (:func:`write_fairseq_dict_counts`); returns the number of entries."""
    counts = Counter(piece for line in encoded_lines for piece in line.split())
    return write_fairseq_dict_counts(model_path, counts, out_path)


def write_fairseq_dict_counts(model_path: str | Path, counts: Mapping[str, int],
                              out_path: str | Path) -> int:
    """Write a fairseq dictionary with every piece of the model, in model id order.

    fairseq adds its own ``<s> <pad> </s> <unk>``, so the model's control and unknown
    symbols are left out; counts are the piece frequencies in ``counts`` (0 for a piece that
    training text never produces). Returns the number of entries.
    """
    processor = load(model_path)
    rows = [f"{processor.id_to_piece(i)} {counts[processor.id_to_piece(i)]}"
            for i in range(processor.get_piece_size())
            if not (processor.is_control(i) or processor.is_unknown(i))]
    atomic_write_text(out_path, "".join(f"{row}\n" for row in rows))
    return len(rows)
