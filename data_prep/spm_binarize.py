"""One pass from normalised text to everything fairseq reads: sentencepiece ids -> the pieces of
``encoded/SPLIT.LANG``, the binarized dataset ``bin/SPLIT.zh-en.LANG.{bin,idx}`` and the piece
counts of the dictionary.

Why not ``fairseq-preprocess``: it re-reads the pieces as text and looks every token up in a
Python loop, which on TVsub's 1.8M training pairs was most of the preparation's time (measured:
``recipes/RESULTS.md``, "TVsub data preparation"). Here the ids come straight from
sentencepiece's multi-threaded encoder and are mapped to fairseq's indices with one array
lookup; the files are written with fairseq's own index writer in fairseq's ``mmap`` format,
and are **byte-identical** to ``fairseq-preprocess --srcdict/--tgtdict`` output for the same
pieces and dictionaries (``tests/e2e/test_tvsub_data.py`` checks it), in a fraction of the time.

The fairseq dictionary (:func:`~data_prep.subwords.write_fairseq_dict_counts`) lists the
model's pieces in id order without its control and unknown symbols, after fairseq's own
``<s> <pad> </s> <unk>`` (indices 0-3): :class:`FairseqIndex` is that mapping.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterable

import numpy as np

from . import subwords
from .foundation import atomic_path, line_writer
from .progress import tqdm_bar

#: fairseq's Dictionary: <s>=0 <pad>=1 </s>=2 <unk>=3, then the dictionary file's entries
FAIRSEQ_EOS, FAIRSEQ_UNK, FAIRSEQ_SPECIALS = 2, 3, 4


class FairseqIndex:
    """Maps a sentencepiece model's ids to the indices of its fairseq dictionary."""

    def __init__(self, model_path: str | Path):
        processor = subwords.load(model_path)
        size = processor.get_piece_size()
        self.pieces = [processor.id_to_piece(i) for i in range(size)]
        kept = [i for i in range(size)
                if not (processor.is_control(i) or processor.is_unknown(i))]
        self.lookup = np.full(size, FAIRSEQ_UNK, dtype=np.int64)
        self.lookup[kept] = np.arange(FAIRSEQ_SPECIALS, FAIRSEQ_SPECIALS + len(kept))
        #: fairseq's len(dictionary), which picks the data type of the .bin file
        self.vocab_size = FAIRSEQ_SPECIALS + len(kept)
        self.unk_id = processor.unk_id()

    def pieces_text(self, processor, text: str, ids: list[int]) -> str:
        """The pieces of ``ids`` as sentencepiece writes them (``encode(out_type=str)``): an
        unknown piece keeps its surface text, so such (rare) lines are encoded again."""
        if self.unk_id in ids:
            return " ".join(processor.encode(text, out_type=str))
        return " ".join([self.pieces[i] for i in ids])


def _fairseq_rows(ids: list[list[int]], index: FairseqIndex) -> tuple[np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """``(spm ids of all lines, their fairseq indices with </s> after each line, line sizes)``."""
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64)
    tokens = np.insert(index.lookup[flat], np.cumsum(lengths), FAIRSEQ_EOS)
    return flat, tokens, lengths + 1


def encode_and_binarize(model: str | Path, lines: Iterable[str], encoded: str | Path,
                        bin_prefix: str | Path, total: int | None = None, desc: str = "spm",
                        threads: int = 2, chunk_lines: int = 50_000) -> np.ndarray:
    """Encode ``lines`` (normalised text) with ``model`` in chunks; write the pieces to
    ``encoded`` and fairseq's ``BIN_PREFIX.bin``/``.idx``; return the count of each spm id."""
    from fairseq.data.indexed_dataset import MMapIndexedDataset, best_fitting_int_dtype

    processor, index = subwords.load(model), FairseqIndex(model)
    dtype = best_fitting_int_dtype(index.vocab_size)
    counts, sizes = np.zeros(len(index.pieces), dtype=np.int64), []
    lines = iter(lines)
    with line_writer(encoded) as out, atomic_path(f"{bin_prefix}.bin") as data_path, \
            open(data_path, "wb") as data, tqdm_bar(desc, total) as bar:
        while chunk := list(itertools.islice(lines, chunk_lines)):
            ids = processor.encode(chunk, num_threads=threads)
            for text, line in zip(chunk, ids):
                out.write(index.pieces_text(processor, text, line))
            flat, tokens, line_sizes = _fairseq_rows(ids, index)
            counts += np.bincount(flat, minlength=len(counts))
            data.write(tokens.astype(dtype).tobytes(order="C"))
            sizes.append(line_sizes)
            bar.update(len(chunk))
    with atomic_path(f"{bin_prefix}.idx") as index_path:
        with MMapIndexedDataset.Index.writer(str(index_path), dtype) as writer:
            writer.write(np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64))
    return counts


def piece_counts(model: str | Path, id_counts: np.ndarray) -> dict[str, int]:
    """``{piece: count}`` from the per-id counts of :func:`encode_and_binarize`."""
    index = FairseqIndex(model)
    return {piece: int(count) for piece, count in zip(index.pieces, id_counts)}
