"""Corpus BLEU and chrF against all references, sacrebleu's paired bootstrap against a
baseline, and BLEU by source-length bucket.

Everything is sacrebleu's own code: :class:`sacrebleu.metrics.BLEU` (13a tokenization,
cased) and :class:`sacrebleu.metrics.CHRF` for the scores and signatures, and
:class:`sacrebleu.significance.PairedTest` with ``test_type="bs"`` (1000 resamples, seed
from ``SACREBLEU_SEED``, default 12345) for the p-values and the 95 % confidence intervals.
Source length is measured in **characters** of the raw Chinese source (whitespace not
counted), so the buckets do not depend on a word segmenter.  For references that are
Moses-tokenized and lowercased (TVsub's), ``detok_refs`` detokenizes them for these scores and
``tok_bleu`` adds the paper's BLEU on tokens (:mod:`eval.tokenized`), with its own bootstrap.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest

from data_prep.foundation import read_lines
from data_prep.references import RefStreams, load_reference_streams

from .errors import EvalError
from .tokenized import detokenize_references, tokenize_lower, tokenized_bleu

#: upper ends (inclusive) of the source-length buckets, in characters; the last bucket is open
DEFAULT_BUCKET_EDGES = (6, 8, 10, 13)
N_BOOTSTRAP = 1000
DEFAULT_SEED = "12345"


@dataclass
class SystemScore:
    """One system's scores; ``*_ci`` is the half-width of the 95 % bootstrap interval
    around ``*_mean``; ``p_*`` is the paired-bootstrap p-value against the baseline
    (``None`` for the baseline itself)."""

    name: str
    path: str
    bleu: float
    chrf: float
    bleu_mean: float
    bleu_ci: float
    chrf_mean: float
    chrf_ci: float
    p_bleu: Optional[float]
    p_chrf: Optional[float]
    bleu_detail: str
    buckets: dict[str, float] = field(default_factory=dict)
    #: how the system was trained (``reencoder-eval --training``: eval/training_info.py's JSON)
    training: Optional[dict] = None
    #: BLEU on Moses tokens, lowercased (``--tok-bleu``), its bootstrap mean, CI and p-value
    tok_bleu: Optional[float] = None
    tok_bleu_mean: Optional[float] = None
    tok_bleu_ci: Optional[float] = None
    p_tok_bleu: Optional[float] = None


@dataclass
class Evaluation:
    """The comparison of all systems on one multi-reference test set."""

    baseline: str
    references: list[str]
    n_lines: int
    n_refs: int
    bleu_signature: str
    chrf_signature: str
    bucket_unit: str
    bucket_sizes: dict[str, int]
    systems: list[SystemScore]
    #: the references were detokenized (sacremoses) for BLEU, chrF and the buckets
    refs_detokenized: bool = False
    #: sacrebleu's signature of the tokenized, lowercased BLEU (``--tok-bleu``)
    tok_bleu_signature: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)


def read_hypotheses(path: str | Path, n_lines: int, reference: str) -> list[str]:
    """Hypothesis lines of ``path``; :class:`EvalError` unless there are exactly
    ``n_lines`` (named against ``reference``). Nothing is truncated or padded."""
    hyps = read_lines(path, EvalError)
    if len(hyps) != n_lines:
        raise EvalError(f"{path}: {len(hyps)} lines but the references {reference} have {n_lines}; "
                        "hypotheses must be aligned one line per test line")
    return hyps


def bucket_labels(edges: Sequence[int]) -> list[str]:
    """``["1-6", "7-8", ..., "14+"]`` for edges ``(6, 8, ..., 13)``."""
    labels, low = [], 1
    for high in edges:
        labels.append(f"{low}-{high}" if high > low else f"{low}")
        low = high + 1
    return labels + [f"{low}+"]


def length_buckets(sources: Sequence[str], edges: Sequence[int]) -> list[str]:
    """The bucket label of each source sentence (length in non-space characters)."""
    labels = bucket_labels(edges)
    out = []
    for text in sources:
        length = sum(not ch.isspace() for ch in text)
        index = next((i for i, high in enumerate(edges) if length <= high), len(edges))
        out.append(labels[index])
    return out


def bleu_by_bucket(hyps: Sequence[str], refs: RefStreams, buckets: Sequence[str],
                   lowercase: bool = False) -> dict[str, float]:
    """Corpus BLEU of each bucket's subset of lines (buckets without lines left out)."""
    scores = {}
    for label in dict.fromkeys(sorted(set(buckets), key=lambda b: int(b.split("-")[0].rstrip("+")))):
        idx = [i for i, b in enumerate(buckets) if b == label]
        sub_refs = [[stream[i] for i in idx] for stream in refs]
        scores[label] = round(BLEU(lowercase=lowercase).corpus_score([hyps[i] for i in idx], sub_refs).score, 2)
    return scores


def _paired_bootstrap(named: list[tuple[str, list[str]]], refs: RefStreams, metrics: dict):
    """sacrebleu's paired bootstrap (baseline first) of ``metrics`` (name -> sacrebleu metric);
    returns (signatures, results)."""
    os.environ.setdefault("SACREBLEU_SEED", DEFAULT_SEED)
    test = PairedTest(named, metrics, refs, test_type="bs", n_samples=N_BOOTSTRAP)
    return test()


def add_tokenized_bleu(evaluation: Evaluation, named: list[tuple[str, list[str]]], refs: RefStreams) -> None:
    """The paper's BLEU of every system (``named``: baseline first, in ``evaluation``'s order):
    hypotheses Moses-tokenized and lowercased against ``refs`` as they are, with its paired
    bootstrap against the baseline."""
    tokens = [(name, tokenize_lower(hyps)) for name, hyps in named]
    signatures, results = _paired_bootstrap(tokens, refs, {"BLEU": tokenized_bleu()})
    key = next(iter(signatures))
    evaluation.tok_bleu_signature = str(signatures[key])
    for i, (score, (_, hyps)) in enumerate(zip(evaluation.systems, tokens)):
        res = results[key][i]
        score.tok_bleu, score.tok_bleu_mean = round(res.score, 2), round(float(res.mean), 2)
        score.tok_bleu_ci, score.p_tok_bleu = round(float(res.ci), 2), _p_value(res, i, hyps == tokens[0][1])


def evaluate(systems: dict[str, str | Path], refs_dir: str | Path, prefix: str = "test",
             baseline: Optional[str] = None, source: Optional[str | Path] = None,
             edges: Sequence[int] = DEFAULT_BUCKET_EDGES, detok_refs: bool = False,
             tok_bleu: bool = False, lowercase: bool = False) -> Evaluation:
    """Score ``systems`` (name -> hypothesis file) against ``refs_dir/{prefix}.en.*``.

    ``baseline`` (default: the first system) is the reference point of the paired
    bootstrap. ``source`` (default ``refs_dir/{prefix}.zh``) gives the length buckets.
    ``detok_refs``: the references are Moses tokens, detokenized for BLEU and chrF;
    ``tok_bleu``: also the tokenized, lowercased BLEU against the references as given;
    ``lowercase``: sacrebleu's BLEU (and the length buckets') case-insensitive (``-lc``), for
    lowercased references such as TVsub's; chrF stays case-sensitive, as sacrebleu's default.
    """
    if not systems:
        raise EvalError("no systems to evaluate (give at least one NAME=HYP_FILE)")
    baseline = baseline or next(iter(systems))
    if baseline not in systems:
        raise EvalError(f"baseline {baseline!r} is not among the systems ({', '.join(systems)})")
    refs = load_reference_streams(refs_dir, prefix)
    n_lines = len(refs[0])
    ref_name = str(Path(refs_dir) / f"{prefix}.en.0..{len(refs) - 1}")
    source = Path(source) if source is not None else Path(refs_dir) / f"{prefix}.zh"
    sources = read_lines(source, EvalError)
    if len(sources) != n_lines:
        raise EvalError(f"{source}: {len(sources)} lines but the references {ref_name} have {n_lines}")
    hyps = {name: read_hypotheses(path, n_lines, ref_name) for name, path in systems.items()}
    scored_refs = detokenize_references(refs) if detok_refs else refs

    order = [baseline] + [name for name in systems if name != baseline]
    signatures, results = _paired_bootstrap([(name, hyps[name]) for name in order], scored_refs,
                                            {"BLEU": BLEU(lowercase=lowercase), "chrF": CHRF()})
    bleu_key, chrf_key = list(signatures)
    buckets = length_buckets(sources, edges)
    scores = []
    for i, name in enumerate(order):
        bleu_res, chrf_res = results[bleu_key][i], results[chrf_key][i]
        detail = BLEU(lowercase=lowercase).corpus_score(hyps[name], scored_refs)
        scores.append(SystemScore(
            name=name, path=str(systems[name]),
            bleu=round(bleu_res.score, 2), chrf=round(chrf_res.score, 2),
            bleu_mean=round(float(bleu_res.mean), 2), bleu_ci=round(float(bleu_res.ci), 2),
            chrf_mean=round(float(chrf_res.mean), 2), chrf_ci=round(float(chrf_res.ci), 2),
            p_bleu=_p_value(bleu_res, i, hyps[name] == hyps[baseline]),
            p_chrf=_p_value(chrf_res, i, hyps[name] == hyps[baseline]),
            bleu_detail=str(detail), buckets=bleu_by_bucket(hyps[name], scored_refs, buckets, lowercase)))
    sizes = {label: buckets.count(label) for label in scores[0].buckets}
    evaluation = Evaluation(baseline=baseline, references=[str(p) for p in _ref_paths(refs_dir, prefix, len(refs))],
                            n_lines=n_lines, n_refs=len(refs), bleu_signature=str(signatures[bleu_key]),
                            chrf_signature=str(signatures[chrf_key]), bucket_unit="source characters",
                            bucket_sizes=sizes, systems=scores, refs_detokenized=detok_refs)
    if tok_bleu:
        add_tokenized_bleu(evaluation, [(name, hyps[name]) for name in order], refs)
    return evaluation


def _p_value(result, index: int, identical: bool) -> Optional[float]:
    """The paired-bootstrap p-value; ``None`` for the baseline, 1.0 for output identical to
    it. (sacrebleu counts resampled differences strictly greater than the observed one; for
    identical output every difference is 0 and it would report the minimum, 1/1001.)"""
    if index == 0:
        return None
    return 1.0 if identical else round(float(result.p_value), 4)


def _ref_paths(refs_dir: str | Path, prefix: str, k: int) -> list[Path]:
    return [Path(refs_dir) / f"{prefix}.en.{i}" for i in range(k)]
