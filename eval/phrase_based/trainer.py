"""Training the Thot phrase-based system with the dev set as the tuning set.

sil-machine's :class:`ThotSmtModelTrainer.train` carves its tuning set out of the training
corpus (10 %, at most 1000 pairs) and then trains the tuning pairs into the model. Here the
training corpus is used whole and the data_prep dev set, with all its references, tunes the
language-model interpolation and the log-linear weights; dev is not added to the model, so
the baseline sees the same training data as the neural systems. The steps are the library's
own (its protected methods, sil-machine 1.9): n-gram LM, word alignment in both directions,
symmetrisation, phrase extraction, LM weight tuning, simplex tuning of the decoder weights.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from machine.corpora import ParallelTextCorpus, ParallelTextRow
from machine.translation import MAX_SEGMENT_LENGTH
from machine.translation.thot import ThotSmtModelTrainer, ThotWordAlignmentModelType
from machine.translation.thot.thot_train_progress_reporter import ThotTrainProgressReporter

from .tuner import MultiRefSimplexTuner

Tokens = Sequence[str]


def parallel_corpus(source: Sequence[Tokens], target: Sequence[Tokens]) -> tuple[ParallelTextCorpus, int]:
    """An in-memory corpus of the pairs Thot can train on (both sides non-empty, at most
    ``MAX_SEGMENT_LENGTH`` tokens), and how many pairs that is."""
    rows = [ParallelTextRow("train", [i], [i], list(src), list(trg))
            for i, (src, trg) in enumerate(zip(source, target))
            if src and trg and len(src) <= MAX_SEGMENT_LENGTH and len(trg) <= MAX_SEGMENT_LENGTH]
    return ParallelTextCorpus.from_parallel_rows(rows), len(rows)


class DevTunedTrainer(ThotSmtModelTrainer):
    """A :class:`ThotSmtModelTrainer` that tunes on a given multi-reference dev set.

    ``tune_refs[i]`` is the list of tokenized references of ``tune_source[i]``. Call
    :meth:`train` then :meth:`save` (writes ``lm/``, ``tm/`` and the weights into the
    config file ``config``).
    """

    def __init__(self, aligner: ThotWordAlignmentModelType, train_source: Sequence[Tokens],
                 train_target: Sequence[Tokens], tune_source: Sequence[Tokens],
                 tune_refs: Sequence[Sequence[Tokens]], config: Path, max_tune_evals: int = 100):
        corpus, self.train_count = parallel_corpus(train_source, train_target)
        super().__init__(aligner, corpus, config)
        self._model_weight_tuner = MultiRefSimplexTuner(self._word_alignment_model_type,
                                                        max_function_evaluations=max_tune_evals)
        pairs = [(list(src), [list(r) for r in refs if r]) for src, refs in zip(tune_source, tune_refs)]
        pairs = [(src, refs) for src, refs in pairs if src and refs and len(src) <= MAX_SEGMENT_LENGTH]
        self._tune_source = [src for src, _ in pairs]
        self._tune_refs = [refs for _, refs in pairs]

    @property
    def tune_count(self) -> int:
        return len(self._tune_source)

    def train(self, progress=None, check_canceled=None) -> None:
        reporter = ThotTrainProgressReporter(progress, check_canceled)
        self._train_lm_dir.mkdir()
        lm_prefix = self._train_lm_dir / self._lm_file_prefix
        self._train_tm_dir.mkdir()
        tm_prefix = self._train_tm_dir / self._tm_file_prefix

        with reporter.start_next_phase():
            self._train_language_model(lm_prefix, 3, self._corpus)
        self._train_translation_model(tm_prefix, self._corpus, self.train_count, reporter)

        self._tune_tm_dir.mkdir()
        tune_tm_prefix = self._tune_tm_dir / self._tm_file_prefix
        for path in self._train_tm_dir.glob(self._tm_file_prefix + "*"):
            (self._tune_tm_dir / path.name).write_bytes(path.read_bytes())
        with reporter.start_next_phase():
            # perplexity of the first reference of each dev item
            self._tune_language_model(lm_prefix, [refs[0] for refs in self._tune_refs], 3)
        with reporter.start_next_phase() as phase_progress:
            self._tune_translation_model(tune_tm_prefix, lm_prefix, self._tune_source, self._tune_refs,
                                         phase_progress)
        self.stats.train_corpus_size = self.train_count
