"""The model folder of the phrase-based baseline and its Thot configuration file.

Layout (the same as sil-machine's ``thot-new-model`` template)::

    MODEL/smt.cfg        Thot decoder settings and the tuned log-linear weights (-tmw)
    MODEL/lm/trg.lm*     the n-gram language model (counts, interpolation weights)
    MODEL/tm/src_trg*    phrase table and the two word-alignment models
    MODEL/baseline.json  how it was trained: data, aligner, settings, wall times, dev BLEU
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import EvalError

CONFIG_NAME = "smt.cfg"
INFO_NAME = "baseline.json"


@dataclass
class DecoderSettings:
    """Thot decoder knobs written to ``smt.cfg`` (see ``ThotSmtParameters``)."""

    max_options: int = 10        # -W  translation options per source phrase
    stack_size: int = 10         # -S  hypotheses per stack
    max_phrase_len: int = 7      # -A  longest source phrase
    non_monotonicity: int = 0    # -nomon  0 = monotone decoding
    heuristic: int = 6           # -h  LOCAL_TD
    em_iters: int = 5            # -olp ... em_iters: EM iterations of the aligners

    def config_text(self) -> str:
        return "\n".join([
            "# Thot phrase-based decoder (written by eval.phrase_based)",
            "-tm tm/src_trg",
            "-lm lm/trg.lm",
            f"-W {self.max_options}",
            f"-S {self.stack_size}",
            f"-A {self.max_phrase_len}",
            f"-nomon {self.non_monotonicity}",
            f"-h {self.heuristic}",
            "-be",
            f"-olp 0 0 1 {self.em_iters} 1 0",
            "",
        ])


def write_config(model_dir: Path, settings: DecoderSettings) -> Path:
    """Create ``model_dir`` with ``lm/``, ``tm/`` and a fresh ``smt.cfg``; return the cfg path."""
    (model_dir / "lm").mkdir(parents=True, exist_ok=True)
    (model_dir / "tm").mkdir(parents=True, exist_ok=True)
    path = model_dir / CONFIG_NAME
    path.write_text(settings.config_text(), encoding="utf-8")
    return path


def write_info(model_dir: Path, info: dict) -> None:
    (model_dir / INFO_NAME).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_info(model_dir: str | Path) -> dict:
    """The training record of a model folder; :class:`EvalError` if it is not one."""
    model_dir = Path(model_dir)
    for name in (CONFIG_NAME, INFO_NAME, "lm/trg.lm", "tm/src_trg.ttable"):
        if not (model_dir / name).is_file():
            raise EvalError(f"{model_dir}: not a trained phrase-based model ({name} missing); "
                            "run `reencoder-baseline train` first")
    return json.loads((model_dir / INFO_NAME).read_text(encoding="utf-8"))


def settings_dict(settings: DecoderSettings) -> dict:
    return asdict(settings)
