"""Moses-style truecasing (sacremoses) around the SMT system.

The phrase table and the LM are trained on truecased English: each word takes its most
frequent casing from non-sentence-initial positions, so "The" at the start of a sentence
and "the" inside it are one word. The decoder's output is detruecased (first word
capitalised) before detokenization, so the hypotheses are plain cased English.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sacremoses import MosesDetruecaser, MosesTruecaser

MODEL_NAME = "truecase.model"


class Truecaser:
    """Wraps a trained :class:`sacremoses.MosesTruecaser` (saved as ``truecase.model``)."""

    def __init__(self, model: MosesTruecaser):
        self._model = model
        self._detruecaser = MosesDetruecaser()

    @classmethod
    def train(cls, sentences: Sequence[Sequence[str]], model_dir: str | Path) -> "Truecaser":
        """Learn casing statistics from tokenized sentences and save them in ``model_dir``."""
        model = MosesTruecaser()
        model.train([list(s) for s in sentences], save_to=str(Path(model_dir) / MODEL_NAME))
        return cls(model)

    @classmethod
    def load(cls, model_dir: str | Path) -> "Truecaser":
        return cls(MosesTruecaser(load_from=str(Path(model_dir) / MODEL_NAME)))

    def truecase(self, tokens: Sequence[str]) -> list[str]:
        return self._model.truecase(" ".join(tokens)) if tokens else []

    def detruecase(self, tokens: Sequence[str]) -> list[str]:
        return self._detruecaser.detruecase(" ".join(tokens)) if tokens else []
