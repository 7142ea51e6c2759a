"""The model folders a server holds: each loaded once, translated through one call.

:func:`load_backend` tells the two kinds of folder apart: Thot's (``smt.cfg``, written by
``reencoder-baseline``) and everything else, read as a model folder of ``reencoder-export``
(any neural system: the Reencoders, fairseq's lstm and transformer).  A folder that fails to
load raises the same one-line error that ``reencoder-translate`` and ``reencoder-baseline
translate`` print (:class:`~reencoder.model_folder.ModelFolderError`,
:class:`~eval.errors.EvalError`).

A backend is used by one thread at a time: its :attr:`Backend.lock` is held by the batcher
around each beam search and by the heat-map requests.
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from data_prep.foundation import UserError

#: a folder named like this is called after its parent (runs/demo/reencoder/model -> reencoder)
GENERIC_FOLDER_NAMES = ("model",)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: the spm word-boundary mark that starts every target word's first piece
WORD_MARK = "\u2581"


class Backend:
    """A loaded model folder: ``name``, ``folder``, ``kind`` (its architecture), whether it has
    a grid to draw (``heatmap``), its default beam search (``decoding``) and :meth:`translate`."""

    heatmap = False

    def __init__(self, name: str, folder: Path, kind: str, decoding: Dict[str, float]):
        self.name, self.folder, self.kind, self.decoding = name, Path(folder), kind, decoding
        self.lock = threading.Lock()

    def search_key(self, beam: Optional[int], lenpen: Optional[float]):
        """The requests whose lines may share one beam search have equal keys."""
        return (beam, lenpen)

    def translate(self, lines: Sequence[str], beam: Optional[int] = None, lenpen: Optional[float] = None) -> List[str]:
        raise NotImplementedError

    def describe(self) -> Dict[str, object]:
        return {"kind": self.kind, "folder": str(self.folder), "heatmap": self.heatmap, **self.decoding}


class NeuralBackend(Backend):
    """A model folder of ``reencoder-export``, translated by the project's Translator."""

    def __init__(self, name: str, folder: Path):
        from reencoder.translate import load_model_folder

        self.translator = load_model_folder(folder, warn=lambda message: None)
        tr = self.translator
        super().__init__(name, folder, tr.config.get("arch", "?"), {"beam": tr.beam, "lenpen": tr.len_penalty})
        self.heatmap = hasattr(tr.models[0].decoder, "grid")

    def translate(self, lines, beam=None, lenpen=None):
        return self.translator.translate(lines, beam=beam, len_penalty=lenpen)

    def grid_heatmap(self, source: str, target: str) -> Dict[str, object]:
        """The Reencoder grid's heat map (:func:`reencoder.visualize.grid_heatmap`, the change
        each cell makes to the target-axis hidden vector, top layer) as JSON, with the target
        pieces grouped into words for the page."""
        from reencoder.visualize import grid_heatmap

        heat = grid_heatmap(self.translator, source, target)
        values = [[v if math.isfinite(v) else None for v in row] for row in heat.values.tolist()]
        return {"model": self.name, "quantity": heat.quantity, "depth": heat.depth,
                "src_labels": heat.src_labels, "tgt_labels": heat.tgt_labels, "values": values,
                "words": target_words(heat.tgt_labels[:-1])}


class ThotBackend(Backend):
    """A Thot phrase-based model folder of ``reencoder-baseline`` (its own tuned decoder: the
    request's beam and length penalty do not apply)."""

    def __init__(self, name: str, folder: Path):
        from ..phrase_based.model import PhraseBasedModel

        self.model = PhraseBasedModel(folder)
        self.model.translate(["你好"])  # jieba loads its dictionary on first use: at start, not in a request
        super().__init__(name, folder, "phrase_based (Thot)", {})

    def search_key(self, beam, lenpen):
        return None

    def translate(self, lines, beam=None, lenpen=None):
        return self.model.translate(lines)


def target_words(pieces: Sequence[str]) -> List[Dict[str, object]]:
    """Target pieces grouped into words, ``[{"text": ..., "columns": [j, ...]}]``: a new word
    starts at every piece that carries sentencepiece's word mark."""
    words: List[Dict[str, object]] = []
    for j, piece in enumerate(pieces):
        text = piece.replace(WORD_MARK, "")
        if piece.startswith(WORD_MARK) or not words:
            words.append({"text": text, "columns": [j]})
        else:
            words[-1]["text"] += text
            words[-1]["columns"].append(j)
    return [word for word in words if word["text"]] or words


def default_name(folder: Path) -> str:
    """A folder's name on the page: its own, or its parent's for a folder called ``model``."""
    folder = Path(folder).resolve()
    return folder.parent.name if folder.name in GENERIC_FOLDER_NAMES else folder.name


def parse_model_arg(spec: str) -> tuple[str, Path]:
    """``NAME=DIR`` or ``DIR`` (named by :func:`default_name`) -> ``(name, folder)``."""
    name, sep, rest = spec.partition("=")
    if sep and NAME_PATTERN.match(name) and not Path(spec).exists():
        return name, Path(rest)
    return default_name(Path(spec)), Path(spec)


def is_thot_folder(folder: Path) -> bool:
    from ..phrase_based.config import CONFIG_NAME

    return (Path(folder) / CONFIG_NAME).is_file()


def load_backend(name: str, folder: Path) -> Backend:
    """Load one folder (see the module doc); a failure is the CLIs' one-line error."""
    return ThotBackend(name, folder) if is_thot_folder(folder) else NeuralBackend(name, folder)


def load_backends(specs: Sequence[str], log=None) -> Dict[str, Backend]:
    """Every ``--model`` of the command line, loaded in order; names must differ (checked first)."""
    folders: Dict[str, Path] = {}
    for spec in specs:
        name, folder = parse_model_arg(spec)
        if not NAME_PATTERN.match(name):
            raise UserError(f"--model {spec}: the name {name!r} must be 1-64 letters, digits, '_', '.' or '-' "
                            "(give one as NAME=DIR)")
        if name in folders:
            raise UserError(f"--model {spec}: a second model named {name!r} (give another as NAME=DIR)")
        folders[name] = folder
    backends: Dict[str, Backend] = {}
    for name, folder in folders.items():
        backends[name] = load_backend(name, folder)
        if log is not None:
            log(f"loaded {name}: {backends[name].kind} from {folder}")
    return backends
