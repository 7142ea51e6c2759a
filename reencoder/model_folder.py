"""Self-contained model folders: everything needed to translate raw text, in one directory.

A model folder holds::

    model.pt       the fairseq checkpoint (optimizer state stripped by default); still loadable
                   by fairseq's checkpoint_utils and ``fairseq-generate --path``
    dict.zh.txt    fairseq source dictionary  (from DATA/bin)
    dict.en.txt    fairseq target dictionary  (from DATA/bin)
    spm.zh.model   sentencepiece model of the source side  (from DATA/spm)
    spm.en.model   sentencepiece model of the target side  (from DATA/spm)
    config.json    arch, model arguments, languages, max positions, normalisation (t2s),
                   the default beam search (``decoding``: beam, lenpen; may be empty),
                   package versions, SHA-256 of every file

:func:`export_model_folder` writes it atomically (a sibling temporary folder renamed into
place, so a reader never sees half a folder); :func:`read_model_folder` validates it.  Its
models are loaded by :func:`reencoder.loading.load_models`, and
:func:`reencoder.translate.load_model_folder` returns a ready Translator.
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from data_prep import manifest
from data_prep.foundation import UserError
from data_prep.staging import staged_folder
from data_prep.textio import sha256_file

from .checkpoint_safety import CheckpointError, first_line, load_checkpoint_safely

FORMAT_VERSION = 1
LANGS = ("zh", "en")
MODEL = "model.pt"
CONFIG = "config.json"
#: Every file of a model folder, in the order they are checked.
FILES = (MODEL, "dict.zh.txt", "dict.en.txt", "spm.zh.model", "spm.en.model", CONFIG)
PACKAGES = ("reencoder", "torch", "ve-fairseq", "sentencepiece", "opencc-python-reimplemented")


class ModelFolderError(UserError):
    """A missing or broken model folder (or export input); the message is one line for users."""


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a model argument (drop what JSON cannot hold)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _data_file(data_dir: Path, candidates) -> Path:
    for rel in candidates:
        if (data_dir / rel).is_file():
            return data_dir / rel
    raise ModelFolderError(f"data folder {data_dir} has no {candidates[0]}")


def _load_checkpoint(checkpoint: Path) -> dict:
    try:
        state = load_checkpoint_safely(checkpoint)
    except CheckpointError as exc:
        raise ModelFolderError(str(exc)) from None
    if state.get("cfg") is None:
        raise ModelFolderError(f"{checkpoint} is not a fairseq checkpoint (no cfg)")
    return state


def _model_args(state: dict):
    """The model arguments of a translation checkpoint of any architecture fairseq knows (the
    Reencoders, and fairseq's own ``lstm``, ``transformer``...: every system of the demo's table
    translates raw text the same way)."""
    from fairseq.models import ARCH_MODEL_REGISTRY

    import reencoder  # noqa: F401  (registers the Reencoder architectures)

    model_cfg = state["cfg"].get("model")
    if model_cfg is None or not hasattr(model_cfg, "arch"):
        raise ModelFolderError("checkpoint has no model arguments (cfg.model)")
    task = (state["cfg"].get("task") or {}).get("_name")
    if task != "translation":
        raise ModelFolderError(f"checkpoint is a {task!r} model, not a translation model (fairseq --task translation)")
    if model_cfg.arch not in ARCH_MODEL_REGISTRY:
        raise ModelFolderError(f"checkpoint's architecture {model_cfg.arch!r} is not one fairseq knows here")
    return model_cfg


def _count_dict(path: Path) -> int:
    from fairseq.data import Dictionary

    return len(Dictionary.load(str(path)))


def export_model_folder(
    checkpoint,
    data_dir,
    out_dir,
    *,
    strip_optimizer: bool = True,
    t2s: Optional[bool] = None,
    decoding: Optional[Dict[str, Any]] = None,
) -> Path:
    """Write a model folder ``out_dir`` from a fairseq checkpoint and a prepared data folder.

    Args:
        checkpoint: a ``checkpoint_*.pt`` of ``fairseq-train --user-dir reencoder --task translation``
            (a Reencoder, or any other fairseq translation architecture such as ``lstm``).
        data_dir: a folder prepared by ``reencoder-data`` (``spm/spm.{zh,en}.model``,
            ``bin/dict.{zh,en}.txt``; ``spm/dict.*`` is accepted when ``bin/`` has none).
        out_dir: the model folder to write (replaced atomically if it exists).
        strip_optimizer: drop the optimizer state (about 2/3 of a checkpoint with Adam).
        t2s: Traditional->Simplified conversion of inputs; ``None`` takes the data folder's
            ``manifest.json`` setting (False without one), so inputs are normalised like the
            training data.
        decoding: the beam search a user of the folder gets by default, e.g. the one chosen on
            dev (``{"beam": 5, "lenpen": 0.6}``; :func:`folder_decoding` reads it back).
    Returns:
        ``out_dir``.
    """
    checkpoint, data_dir, out_dir = Path(checkpoint), Path(data_dir), Path(out_dir)
    if not data_dir.is_dir():
        raise ModelFolderError(f"data folder {data_dir} does not exist")
    sources = {}
    for lang in LANGS:
        sources[f"spm.{lang}.model"] = _data_file(data_dir, [f"spm/spm.{lang}.model", f"spm.{lang}.model"])
        sources[f"dict.{lang}.txt"] = _data_file(
            data_dir, [f"bin/dict.{lang}.txt", f"spm/dict.{lang}.txt", f"dict.{lang}.txt"]
        )
    state = _load_checkpoint(checkpoint)
    args = _model_args(state)
    task_cfg = state["cfg"].get("task") or {}
    src_lang, tgt_lang = task_cfg.get("source_lang"), task_cfg.get("target_lang")
    if (src_lang, tgt_lang) != LANGS:
        raise ModelFolderError(f"checkpoint translates {src_lang}->{tgt_lang}, expected zh->en")
    # the dictionaries must be the ones the model was trained with: compare sizes
    for lang, key in (("zh", "encoder.embed_tokens.weight"), ("en", "decoder.embed_tokens.weight")):
        rows, entries = state["model"][key].shape[0], _count_dict(sources[f"dict.{lang}.txt"])
        if rows != entries:
            raise ModelFolderError(
                f"{sources[f'dict.{lang}.txt']} has {entries} entries but the model's {lang} "
                f"embedding has {rows}: the checkpoint was not trained on {data_dir}"
            )
    if t2s is None:
        t2s = manifest.t2s(data_dir)
    if strip_optimizer:
        state.pop("last_optimizer_state", None)
    history = state.get("optimizer_history") or [{}]
    config = {
        "format": FORMAT_VERSION,
        "arch": args.arch,
        "model_args": {k: _plain(v) for k, v in sorted(vars(args).items()) if not k.startswith("_")},
        "source_lang": src_lang,
        "target_lang": tgt_lang,
        "max_source_positions": getattr(args, "max_source_positions", None),
        "max_target_positions": getattr(args, "max_target_positions", None),
        "num_updates": history[-1].get("num_updates"),
        "normalization": {"function": "data_prep.cleaning.normalize", "nfkc": True, "t2s": bool(t2s)},
        "optimizer_state": not strip_optimizer,
        "decoding": dict(decoding or {}),
        "exported_from": {"checkpoint": str(checkpoint.resolve()), "data": str(data_dir.resolve())},
        "versions": manifest.package_versions(PACKAGES),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    with staged_folder(out_dir, marker=CONFIG, what="a model folder", error=ModelFolderError) as tmp:
        torch.save(state, tmp / MODEL)
        for name, src in sources.items():
            shutil.copyfile(src, tmp / name)
        config["sha256"] = {name: sha256_file(tmp / name) for name in FILES if name != CONFIG}
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out_dir


def read_model_folder(path) -> Dict[str, Any]:
    """Check that ``path`` is a complete model folder; return its ``config.json``."""
    path = Path(path)
    if not path.exists():
        raise ModelFolderError(f"model folder {path} does not exist")
    if not path.is_dir():
        raise ModelFolderError(f"model folder {path} is not a directory")
    for name in FILES:
        if not (path / name).is_file():
            raise ModelFolderError(f"model folder {path} has no {name}")
    try:
        config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFolderError(f"model folder {path}: unreadable {CONFIG} ({first_line(exc)})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_VERSION:
        raise ModelFolderError(f"model folder {path}: {CONFIG} is not a format-{FORMAT_VERSION} model config")
    return config


def folder_decoding(config: Dict[str, Any]) -> Dict[str, Any]:
    """The default beam search stored in a model folder's config, as Translator options
    (``beam``, ``len_penalty``; empty for folders exported without one)."""
    decoding = config.get("decoding") or {}
    names = {"beam": "beam", "lenpen": "len_penalty"}
    return {names[key]: decoding[key] for key in names if key in decoding}
