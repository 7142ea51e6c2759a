"""Thot's simplex weight tuner, scoring each candidate weight vector by multi-reference BLEU.

sil-machine's :class:`SimplexModelWeightTuner` maximises single-reference BLEU of the
decoded tune set. The dev sets here have several references per sentence, so
:class:`MultiRefSimplexTuner` replaces only the BLEU computation: sacrebleu corpus BLEU on
the (already tokenized) text against all references, with the same penalty the library
puts on negative weights. The tune "target corpus" it receives is therefore a list of
reference lists (token lists) per sentence.
"""
from __future__ import annotations

from typing import Sequence

from machine.translation.thot.simplex_model_weight_tuner import SimplexModelWeightTuner
from sacrebleu.metrics import BLEU

#: weights the library lets go negative (indices into Thot's 8 log-linear weights)
_FREE_SIGN = {0, 2, 7}


def multi_ref_bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]]) -> float:
    """Corpus BLEU in [0, 1] of token lists against per-sentence lists of token lists."""
    width = max(len(refs) for refs in references)
    streams = [[" ".join(refs[k]) if k < len(refs) else None for refs in references] for k in range(width)]
    bleu = BLEU(tokenize="none", force=True)
    return bleu.corpus_score([" ".join(h) for h in hypotheses], streams).score / 100.0


class MultiRefSimplexTuner(SimplexModelWeightTuner):
    """Nelder-Mead over Thot's weights, objective = 1 - multi-reference BLEU (+ penalty)."""

    def _calculate_bleu(self, parameters, source_corpus, tune_target_corpus) -> float:
        translations = self._generate_translations(parameters, source_corpus)
        bleu = multi_ref_bleu(translations, tune_target_corpus)
        penalty = sum(-w * 1000 for i, w in enumerate(parameters.model_weights) if i not in _FREE_SIGN and w < 0)
        return (1.0 - bleu) + penalty
