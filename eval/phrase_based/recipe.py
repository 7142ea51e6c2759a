"""The baseline recipe: train + tune on a data_prep folder, then translate a test set."""
from __future__ import annotations

import platform
import time
from itertools import islice
from pathlib import Path
from typing import Optional

from machine.translation.thot import ThotWordAlignmentModelType

from data_prep import manifest
from data_prep.foundation import numbered_lines, read_lines, write_lines
from data_prep.references import load_reference_streams

from ..errors import EvalError
from .casing import Truecaser
from .config import DecoderSettings, settings_dict, write_config, write_info
from .model import PhraseBasedModel
from .oov import back_off, save_vocab
from .progress import PhaseClock
from .trainer import DevTunedTrainer

#: word aligners the recipe supports (sil-machine's trainer handles these end to end)
ALIGNERS = ("HMM", "FAST_ALIGN", "IBM1", "IBM2")


def _tokens(path: Path, limit: Optional[int] = None) -> list[list[str]]:
    """The token lists of the first ``limit`` lines of ``path`` (all by default): a large
    corpus's ``tok/train`` is not read past what the baseline trains on."""
    return [text.split() for _, text in islice(numbered_lines(path, EvalError), limit)]


def load_tok_data(data_dir: str | Path, max_train: Optional[int] = None, max_dev: Optional[int] = None):
    """``(train_src, train_trg, dev_src, dev_refs)`` token lists from ``DATA/tok``."""
    tok = Path(data_dir) / "tok"
    if not tok.is_dir():
        raise EvalError(f"{tok}: no such directory (run `make data` to prepare {data_dir})")
    train_src, train_trg = _tokens(tok / "train.zh", max_train), _tokens(tok / "train.en", max_train)
    if len(train_src) != len(train_trg):
        raise EvalError(f"{tok / 'train.zh'} has {len(train_src)} lines but {tok / 'train.en'} has {len(train_trg)}")
    dev_src = _tokens(tok / "dev.zh")
    streams = load_reference_streams(tok, "dev")
    if len(streams[0]) != len(dev_src):
        raise EvalError(f"{tok / 'dev.zh'} has {len(dev_src)} lines but {tok / 'dev.en.0'} has {len(streams[0])}")
    dev_refs = [[ref.split() for ref in refs if ref is not None] for refs in zip(*streams)]
    return train_src, train_trg, dev_src[:max_dev], dev_refs[:max_dev]


def train(data_dir: str | Path, model_dir: str | Path, aligner: str = "HMM",
          settings: Optional[DecoderSettings] = None, max_train: Optional[int] = None,
          max_dev: Optional[int] = None, max_tune_evals: int = 100, progress: bool = True) -> dict:
    """Train and tune a model into ``model_dir``; return its training record (also saved
    as ``baseline.json``: sizes, settings, dev BLEU, wall time per phase)."""
    if aligner.upper() not in ALIGNERS:
        raise EvalError(f"unknown aligner {aligner!r} (choose from {', '.join(ALIGNERS)})")
    aligner = aligner.upper()
    settings = settings or DecoderSettings()
    model_dir = Path(model_dir)
    started = time.perf_counter()
    train_src, train_trg, dev_src, dev_refs = load_tok_data(data_dir, max_train, max_dev)
    config = write_config(model_dir, settings)
    vocab = save_vocab(train_src, model_dir)
    dev_src = [back_off(src, vocab) for src in dev_src]  # tune on what decoding will see
    truecaser = Truecaser.train(train_trg, model_dir)
    train_trg = [truecaser.truecase(t) for t in train_trg]
    dev_refs = [[truecaser.truecase(r) for r in refs] for refs in dev_refs]
    clock = PhaseClock("phrase-based", enabled=progress)
    with DevTunedTrainer(ThotWordAlignmentModelType[aligner], train_src, train_trg, dev_src, dev_refs,
                         config, max_tune_evals) as trainer:
        if trainer.train_count == 0:
            raise EvalError(f"{Path(data_dir) / 'tok'}: no usable training pairs")
        try:
            trainer.train(progress=clock)
            trainer.save()
        finally:
            times = clock.close()
        info = {
            "aligner": aligner, "truecase": True, "data": str(Path(data_dir).resolve()),
            "t2s": manifest.t2s(data_dir),
            "train_pairs": trainer.train_count, "tune_items": trainer.tune_count,
            "settings": settings_dict(settings), "max_tune_evals": max_tune_evals,
            "dev_bleu_tokenized": round(100 * trainer.stats.metrics.get("bleu", 0.0), 2),
            "lm_perplexity_dev": round(trainer.stats.metrics.get("perplexity", 0.0), 2),
            "weights": list(trainer.parameters.model_weights),
            "wall_times_s": {**times, "train_total": round(time.perf_counter() - started, 2)},
            "host": platform.node(),
        }
    write_info(model_dir, info)
    return info


def translate_file(model_dir: str | Path, source: str | Path, output: str | Path,
                   tokenized: bool = True, progress: bool = False) -> float:
    """Translate ``source`` (segmented if ``tokenized``, else raw Chinese) into ``output``,
    one line per input line; return the decoding wall time in seconds."""
    lines = read_lines(source, EvalError)
    started = time.perf_counter()
    with PhraseBasedModel(model_dir) as model:
        if tokenized:
            hyps = model.translate_tokens([line.split() for line in lines], progress=progress)
        else:
            hyps = model.translate(lines)
    write_lines(output, hyps)
    return time.perf_counter() - started
