"""Fixed dev and test sets shipped with a corpus (the external-split mode): nothing is drawn,
every segment is kept in order, and the official references go into the same files as the
drawn splits of :mod:`data_prep.split` (``split/dev.en.0``, ``split/test.en.0..K``,
``references.json``), so ``reencoder-eval`` and the phrase-based baseline read them unchanged.

Sources and references are normalised like all text (:func:`~data_prep.cleaning.normalize`)
but never filtered. fairseq's ``encoded/valid.en`` and ``encoded/test.en`` get each set's
*target*: the corpus's own English for that line in the style of the training English (for
TVsub, the shipped cased ``*.orignal.en`` Moses-detokenized, since the references are
lowercased and tokenized), so that the validation loss compares like with like; BLEU is
always computed against ``split/``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import wordseg
from .cleaning import normalize
from .foundation import write_lines
from .references import reference_columns, write_items
from .split import HeldOut, Item
from .stages import write_json
from .tvsub import EvalSet

_AGGRESSIVE_HYPHEN = re.compile(r" @-@ ")
#: data_prep's name of a set -> fairseq's
FAIRSEQ_NAMES = {"dev": "valid", "test": "test"}


@dataclass(frozen=True)
class FixedSet:
    """One fixed set: ``items`` (normalised source, official references) and ``target`` (one
    normalised English line per item for ``encoded/``)."""

    name: str
    items: list[Item]
    target: list[str]
    ref_systems: list[str]

    @property
    def fairseq_name(self) -> str:
        return FAIRSEQ_NAMES[self.name]

    def lines(self, lang: str) -> list[str]:
        """What fairseq gets on side ``lang``: the sources (zh) or the targets (en)."""
        return [item.zh for item in self.items] if lang == "zh" else list(self.target)


def from_eval_set(eval_set: EvalSet, t2s: bool = False) -> FixedSet:
    """A :class:`FixedSet` from a TVsub evaluation set; the target is its tokenized English,
    detokenized (Moses) and normalised."""
    items = [Item(normalize(zh, t2s=t2s), tuple(normalize(ref) for ref in refs))
             for zh, refs in zip(eval_set.zh, eval_set.refs)]
    target = [normalize(wordseg.detokenize_en(line.split())) for line in eval_set.en_tokenized]
    return FixedSet(eval_set.name, items, target, eval_set.ref_systems)


def held_out(sets: Sequence[FixedSet]) -> HeldOut:
    """Leak keys of every source, reference and target of ``sets``."""
    return HeldOut.of([item for fixed in sets for item in fixed.items],
                      extra_en=[line for fixed in sets for line in fixed.target])


def write_split(split: Path, sets: Sequence[FixedSet]) -> dict:
    """``split/NAME.zh``, ``NAME.en.0..K``, ``NAME.en`` and ``references.json``; returns the
    references' description (as in the drawn splits, plus the SGML system of each file)."""
    info = {}
    for fixed in sets:
        info[fixed.name] = {**write_items(split, fixed.name, fixed.items),
                            "reference_systems": fixed.ref_systems}
    write_json(split / "references.json", info)
    return info


def tokens_like_train(reference: str) -> str:
    """An official reference in the tokens of ``tok/train.en``: the references are already
    Moses-tokenized (``it 's``), but with aggressive hyphen splitting (``woo @-@ hoo``), which
    is undone. Tokenizing them again would not do: our tokenizer splits ``'s`` after a space
    (``it ' s``) and, in lowercased text, keeps sentence-internal periods attached."""
    return _AGGRESSIVE_HYPHEN.sub("-", reference)


def write_tok_sets(tok: Path, sets: Sequence[FixedSet]) -> None:
    """``tok/NAME.zh`` (jieba) and ``tok/NAME.en.k`` (:func:`tokens_like_train`) for the
    phrase-based baseline (always complete)."""
    for fixed in sets:
        write_lines(tok / f"{fixed.name}.zh",
                    wordseg.segment_zh([item.zh for item in fixed.items], f"jieba {fixed.name}"))
        for name, column in reference_columns(fixed.items, fixed.name).items():
            write_lines(tok / name, [tokens_like_train(ref) for ref in column])
