"""Back-off for Chinese words the model never saw: translate them character by character.

jieba often segments a test sentence into a multi-character word that is absent from the
training data although its parts are known (e.g. 老房子 where training has 老 and 房子).
Before decoding, such a word is re-segmented by greedy longest match over the training
vocabulary (unknown characters stay single); if no part is known the word is kept whole
(and passed through untranslated by the decoder).
The training vocabulary is saved in the model folder as ``source.vocab``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

VOCAB_NAME = "source.vocab"


def save_vocab(sentences: Iterable[Sequence[str]], model_dir: str | Path) -> set[str]:
    """Write the source words of the training data to ``model_dir/source.vocab``."""
    vocab = {word for sentence in sentences for word in sentence}
    (Path(model_dir) / VOCAB_NAME).write_text("".join(w + "\n" for w in sorted(vocab)), encoding="utf-8")
    return vocab


def load_vocab(model_dir: str | Path) -> set[str] | None:
    """The saved vocabulary, or ``None`` for a model folder without one (no back-off)."""
    path = Path(model_dir) / VOCAB_NAME
    if not path.is_file():
        return None
    return set(path.read_text(encoding="utf-8").split("\n")) - {""}


def back_off(tokens: Sequence[str], vocab: set[str] | None) -> list[str]:
    """``tokens`` with each unknown multi-character word re-segmented into known parts."""
    if vocab is None:
        return list(tokens)
    out: list[str] = []
    for token in tokens:
        parts = [token] if token in vocab or len(token) == 1 else _longest_match(token, vocab)
        out.extend(parts if any(p in vocab for p in parts) else [token])
    return out


def _longest_match(word: str, vocab: set[str]) -> list[str]:
    """Forward maximum matching of ``word`` against ``vocab`` (single characters as fallback)."""
    parts, start = [], 0
    while start < len(word):
        end = next((e for e in range(len(word), start + 1, -1) if word[start:e] in vocab), start + 1)
        parts.append(word[start:end])
        start = end
    return parts
