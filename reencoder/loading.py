"""Getting fairseq models, in one place: fresh from command-line arguments, or trained from a
checkpoint or a model folder.

* :func:`build_model` — a task and a freshly initialised model from ``fairseq-train``'s own
  command line (the plugin added as ``--user-dir``), exactly as ``fairseq-train`` builds it:
  for the tests, the benchmarks and the recipes' parameter counts; :func:`parse_training_args`
  is its argument parsing alone (flag checks).
* :func:`load_checkpoint_models` — the models of a checkpoint through fairseq's own loader
  (torch's safe unpickler under the plugin's allow-list, :mod:`reencoder.checkpoint_safety`);
  :func:`load_models` — those of a model folder (:mod:`reencoder.model_folder`).  A failure is
  one :class:`~reencoder.model_folder.ModelFolderError` line.

The Translator (:mod:`reencoder.translate`) builds on these; nothing here imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from .checkpoint_safety import failure_reason
from .model_folder import MODEL, ModelFolderError

#: the plugin folder fairseq's ``--user-dir`` takes
PLUGIN_DIR = str(Path(__file__).resolve().parent)


def parse_training_args(argv: Sequence):
    """``fairseq-train``'s parsing of ``argv`` (data folder, ``--task``, ``--arch``, ...) with
    the plugin loaded: the argparse Namespace (``SystemExit`` on a bad flag, as fairseq does)."""
    from fairseq import options

    return options.parse_args_and_arch(options.get_training_parser(),
                                       [*map(str, argv), "--user-dir", PLUGIN_DIR])


def build_model(argv: Sequence, seed: Optional[int] = None, device=None):
    """``(args, task, model)`` as ``fairseq-train argv`` builds them; the model is freshly
    initialised (from ``torch.manual_seed(seed)`` when a seed is given) and moved to ``device``."""
    import torch
    from fairseq import tasks

    args = parse_training_args(argv)
    if seed is not None:
        torch.manual_seed(seed)
    task = tasks.setup_task(args)
    model = task.build_model(args)
    return args, task, model if device is None else model.to(device)


def load_checkpoint_models(checkpoint, data, context: str = ""):
    """(models, task) of a fairseq checkpoint whose dictionaries are in ``data``, via fairseq's
    own checkpoint loader (safe unpickling, the plugin's allow-list), models in eval mode.  A
    failure is one :class:`ModelFolderError` line, ``CONTEXT: cannot load NAME (reason)``, or
    ``cannot load checkpoint PATH (reason)`` without a context; a file refused by the safe
    unpickler is said to be unsafe, naming what it pickles."""
    from fairseq import checkpoint_utils

    import reencoder  # noqa: F401  (registers the models and the allow-list)

    checkpoint = Path(checkpoint)
    try:
        models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
            [str(checkpoint)], arg_overrides={"data": str(data)}
        )
    except Exception as exc:
        what = f"{context}: cannot load {checkpoint.name}" if context else f"cannot load checkpoint {checkpoint}"
        raise ModelFolderError(f"{what} ({failure_reason(checkpoint, exc)})") from None
    for model in models:
        model.eval()
    return models, task


def load_models(path):
    """(models, task) of a model folder (see :func:`load_checkpoint_models`)."""
    path = Path(path)
    return load_checkpoint_models(path / MODEL, path, context=f"model folder {path}")
