"""A trained phrase-based model folder, loaded for translation with Thot's stack decoder."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable, Sequence

from machine.translation.thot import ThotSmtParameters, ThotWordAlignmentModelType
from machine.translation.thot.thot_utils import load_smt_decoder, load_smt_model, to_sentence, to_target_tokens
from tqdm import tqdm

from data_prep.cleaning import normalize
from data_prep.wordseg import detokenize_en
from data_prep.wordseg import zh_words as segment_zh

from .casing import Truecaser
from .config import CONFIG_NAME, read_info
from .oov import back_off, load_vocab

#: the most words Thot's stack decoder takes in one sentence (it refuses more: "the sentence to
#: translate is too long (MAX= 201 words)")
MAX_WORDS = 200


def pieces(segment: Sequence[str], max_words: int = MAX_WORDS) -> list[list[str]]:
    """``segment`` cut into consecutive pieces of at most ``max_words`` words (Thot translates
    each on its own; a TED talk has sentences of more than 200 words)."""
    return [list(segment[i:i + max_words]) for i in range(0, len(segment), max_words)]


class PhraseBasedModel:
    """Translate with a model folder written by :func:`eval.phrase_based.recipe.train`.

    Input is either raw Chinese (:meth:`translate`, segmented with jieba here) or already
    segmented token lists (:meth:`translate_tokens`); output is detokenized, cased English,
    one string per input, ``""`` for an empty input. Use as a context manager or call
    :meth:`close` to free Thot's memory.
    """

    def __init__(self, model_dir: str | Path):
        self.model_dir = Path(model_dir)
        self.info = read_info(self.model_dir)
        parameters = ThotSmtParameters.load(self.model_dir / CONFIG_NAME)
        aligner = ThotWordAlignmentModelType[self.info["aligner"]]
        self._model = load_smt_model(aligner, parameters)
        self._decoder = load_smt_decoder(self._model, parameters)
        self._truecaser = Truecaser.load(self.model_dir)
        self._vocab = load_vocab(self.model_dir)

    def translate_tokens(self, segments: Sequence[Sequence[str]], batch_size: int = 100,
                         progress: bool = False) -> list[str]:
        """Detokenized translations of segmented sentences (in order, none dropped; a sentence of
        more than :data:`MAX_WORDS` words is translated in :func:`pieces`, joined in order)."""
        words: list[list[str]] = [[] for _ in segments]
        # pieces of the backed-off words: the back-off can split a sentence into more words
        todo = [(i, piece) for i, seg in enumerate(segments) for piece in pieces(back_off(seg, self._vocab))]
        starts = range(0, len(todo), batch_size)
        for start in tqdm(starts, desc="decoding", unit=" batches", file=sys.stderr, leave=False,
                          disable=not progress):
            chunk = todo[start:start + batch_size]
            results = self._decoder.translate_batch([to_sentence(piece) for _, piece in chunk])
            for (i, _), result in zip(chunk, results):
                words[i] += self._truecaser.detruecase(to_target_tokens(result.target))
        return [detokenize_en(w) if w else "" for w in words]

    def translate(self, lines: Iterable[str]) -> list[str]:
        """Translations of raw Chinese sentences (normalised like the training data, then
        segmented with jieba)."""
        t2s = bool(self.info.get("t2s", False))
        return self.translate_tokens([segment_zh(normalize(line, t2s)) for line in lines])

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.clear()
            self._decoder = None
        if self._model is not None:
            self._model.clear()
            self._model = None

    def __enter__(self) -> "PhraseBasedModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
