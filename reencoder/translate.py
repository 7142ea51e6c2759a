"""Raw Chinese in, detokenized English out: the translation API behind ``reencoder-translate``.

    >>> from reencoder.translate import Translator
    >>> tr = Translator.from_folder("runs/base/model", beam=5)
    >>> tr.translate(["我们走吧。", ""])
    ['Let's go.', '']

For each line: :func:`data_prep.cleaning.normalize` (NFKC, control characters removed,
whitespace collapsed, optional Traditional->Simplified: the *same* function as the training
data), sentencepiece encoding (:mod:`data_prep.subwords`), dictionary ids, batched beam search
with fairseq's ``SequenceGenerator`` (lines sorted by length into batches, results put back in
input order), sentencepiece decoding.

Guarantees, whatever the input:

* exactly one result per input line, in input order; never merged, never dropped;
* an empty line (or one that normalises to nothing: whitespace, control characters) gives an
  empty translation, without running the model;
* a line longer than the model's max source positions is **truncated** to it (the first
  ``max_source_positions - 1`` pieces, plus end-of-sentence) with a warning on stderr;
* outputs hold no line breaks (``\\n``, ``\\r``, U+2028, U+2029, U+0085, ... become spaces)
  and no leading/trailing whitespace; ``<unk>`` pieces are left out of the text.

Scores are fairseq's: the sum of the hypothesis' token log-probabilities (natural log, end of
sentence included) divided by its length (``len_penalty`` 1.0).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from fairseq.data import data_utils
from fairseq.sequence_generator import SequenceGenerator

from data_prep import subwords
from data_prep.cleaning import normalize

from .loading import load_models
from .model_folder import folder_decoding, read_model_folder

Hypothesis = Tuple[str, float]

DEFAULT_BEAM = 5
DEFAULT_BATCH_SIZE = 32
#: Output length limit: max_len_a * source pieces + max_len_b (English pieces per Chinese
#: piece is about 1.6 on Tatoeba), capped by the model's max target positions.
DEFAULT_MAX_LEN_A = 2.0
DEFAULT_MAX_LEN_B = 10


def one_line(text: str) -> str:
    """``text`` with every line boundary Python knows (``str.splitlines``) turned into a space."""
    return " ".join(text.splitlines()).strip()


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


class Translator:
    """Translates raw Chinese lines with the models of a model folder (see module doc).

    Build it with :meth:`from_folder` (or :func:`load_model_folder`).
    """

    def __init__(
        self,
        models,
        task,
        folder: Path,
        config: Dict,
        *,
        beam: int = DEFAULT_BEAM,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_len_a: float = DEFAULT_MAX_LEN_A,
        max_len_b: int = DEFAULT_MAX_LEN_B,
        len_penalty: float = 1.0,
        t2s: Optional[bool] = None,
        warn: Callable[[str], None] = _stderr_warning,
    ):
        if beam < 1:
            raise ValueError(f"beam must be at least 1, got {beam}")
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.models = list(models)
        self.task = task
        self.folder = Path(folder)
        self.config = config
        self.src_dict, self.tgt_dict = task.source_dictionary, task.target_dictionary
        self.spm_src = str(self.folder / "spm.zh.model")
        self.spm_tgt = str(self.folder / "spm.en.model")
        self.beam = beam
        self.batch_size = batch_size
        self.max_len_a, self.max_len_b = max_len_a, max_len_b
        self.len_penalty = len_penalty
        norm = config.get("normalization", {})
        self.t2s = bool(norm.get("t2s", False)) if t2s is None else t2s
        self.warn = warn
        # tokens per source sentence, end-of-sentence included
        self.max_source_tokens = min(m.encoder.max_positions() for m in self.models)
        self._generators: Dict[Tuple[int, float], SequenceGenerator] = {}

    @classmethod
    def from_folder(cls, path, **options) -> "Translator":
        """A translator for a model folder (``beam``, ``batch_size``, ``max_len_a``... as options)."""
        return load_model_folder(path, **options)

    # -- steps -----------------------------------------------------------------------------

    def normalize(self, line: str) -> str:
        """The model's view of a raw line: one line, normalised like the training data."""
        line = line.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
        return normalize(one_line(line), t2s=self.t2s)

    def encode(self, lines: Sequence[str], first_line_number: int = 1) -> List[Optional[torch.Tensor]]:
        """Token ids (with end-of-sentence) of raw lines; ``None`` for lines with nothing to
        translate.  Over-long lines are truncated, with a warning naming their line number."""
        texts = [self.normalize(line) for line in lines]
        todo = [k for k, text in enumerate(texts) if text]
        pieces = subwords.encode_lines(self.spm_src, [texts[k] for k in todo]) if todo else []
        out: List[Optional[torch.Tensor]] = [None] * len(lines)
        limit = self.max_source_tokens - 1
        for k, line_pieces in zip(todo, pieces):
            toks = line_pieces.split(" ")
            if len(toks) > limit:
                self.warn(
                    f"input line {first_line_number + k}: {len(toks)} source pieces, truncated to the "
                    f"model's max source positions ({limit} pieces + end of sentence)"
                )
                toks = toks[:limit]
            ids = [self.src_dict.index(tok) for tok in toks] + [self.src_dict.eos()]
            out[k] = torch.tensor(ids, dtype=torch.long)
        return out

    def decode(self, tokens: torch.Tensor) -> str:
        """Detokenized English of a hypothesis' target ids."""
        ignore = {self.tgt_dict.unk()}
        pieces = self.tgt_dict.string(tokens, extra_symbols_to_ignore=ignore)
        text = subwords.decode([pieces], self.spm_tgt)[0] if pieces.strip() else ""
        return one_line(text)

    def generator(self, beam: int, len_penalty: Optional[float] = None) -> SequenceGenerator:
        """fairseq's beam search of size ``beam`` (length penalty: the Translator's unless given),
        built once per (beam, length penalty)."""
        key = (beam, self.len_penalty if len_penalty is None else len_penalty)
        if key not in self._generators:
            self._generators[key] = SequenceGenerator(
                self.models,
                self.tgt_dict,
                beam_size=beam,
                max_len_a=self.max_len_a,
                max_len_b=self.max_len_b,
                len_penalty=key[1],
            )
        return self._generators[key]

    def _batches(self, tokens: List[Optional[torch.Tensor]]) -> Iterable[List[int]]:
        """Indices of non-empty lines, longest first, in groups of ``batch_size``."""
        order = sorted((k for k, t in enumerate(tokens) if t is not None), key=lambda k: -tokens[k].numel())
        for start in range(0, len(order), self.batch_size):
            yield order[start : start + self.batch_size]

    # -- API -------------------------------------------------------------------------------

    @torch.inference_mode()
    def translate_nbest(self, lines: Sequence[str], n: int = 1, first_line_number: int = 1, *,
                        beam: Optional[int] = None, len_penalty: Optional[float] = None) -> List[List[Hypothesis]]:
        """The ``n`` best ``(text, score)`` per line, best first: exactly ``n`` per line (empty
        lines get ``("", 0.0)``; fewer finished hypotheses are padded with ``("", -inf)``).
        ``beam`` and ``len_penalty`` override the Translator's own for this call."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if beam is not None and beam < 1:
            raise ValueError(f"beam must be at least 1, got {beam}")
        lines = list(lines)
        beam = max(self.beam if beam is None else beam, n)
        tokens = self.encode(lines, first_line_number)
        results: List[List[Hypothesis]] = [[("", 0.0)] * n for _ in lines]
        pad, eos = self.src_dict.pad(), self.src_dict.eos()
        for batch in self._batches(tokens):
            src = [tokens[k] for k in batch]
            sample = {
                "id": torch.tensor(batch),
                "net_input": {
                    "src_tokens": data_utils.collate_tokens(src, pad, eos, left_pad=True),
                    "src_lengths": torch.tensor([t.numel() for t in src]),
                },
            }
            hypos = self.generator(beam, len_penalty).generate(self.models, sample)
            for k, sent_hypos in zip(batch, hypos):
                best = [(self.decode(h["tokens"]), float(h["score"])) for h in sent_hypos[:n]]
                best += [("", -math.inf)] * (n - len(best))
                results[k] = best
        return results

    def translate(self, lines: Sequence[str], first_line_number: int = 1, **search) -> List[str]:
        """One detokenized English line per raw input line (see the module's guarantees);
        ``search``: ``beam``, ``len_penalty`` for this call (:meth:`translate_nbest`)."""
        return [hyps[0][0] for hyps in self.translate_nbest(lines, 1, first_line_number, **search)]


def load_model_folder(path, **translator_options) -> Translator:
    """Validate a model folder and return a :class:`Translator` for it.

    ``translator_options`` go to the Translator (``beam``, ``batch_size``, ``max_len_a``...); the
    beam size and length penalty not given there are the folder's own, where it stores them
    (:func:`reencoder.model_folder.folder_decoding`).
    """
    config = read_model_folder(path)
    models, task = load_models(path)
    return Translator(models, task, Path(path), config, **{**folder_decoding(config), **translator_options})


def chunks(lines: Iterable[str], size: int) -> Iterable[List[str]]:
    """Consecutive lists of ``size`` lines (the last may be shorter); reads lazily.

    If reading fails (e.g. invalid UTF-8), the lines read before the failure are yielded
    first and the error is raised afterwards, so every good line before it gets its output.
    """
    chunk: List[str] = []
    try:
        for line in lines:
            chunk.append(line)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except Exception:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk
