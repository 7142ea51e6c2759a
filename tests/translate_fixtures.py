"""A tiny real model folder for the translation, model-folder and heat-map tests.

Built once per test session (cached under pytest's base temp, guarded by a file lock, so
every test module importing :func:`tiny_model` shares it): 600 real Tatoeba pairs normalised
with data_prep's ``normalize``, tiny sentencepiece models (zh <= 800 pieces, en <= 300),
fairseq dictionaries and binaries the way data_prep writes them (fairseq-preprocess with
the spm dictionaries), a few updates of
``reencoder_tiny`` (max 64 source/target positions, so truncation is cheap to test), then
:func:`~reencoder.model_folder.export_model_folder`.  The model translates badly; the tests are about the plumbing.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path

from data_prep import subwords
from data_prep.cleaning import normalize
from reencoder.loading import PLUGIN_DIR
from reencoder.model_folder import export_model_folder
from tests.helpers import fairseq_preprocess, run_cli, tatoeba_pairs

MAX_POSITIONS = 32
TRAIN_UPDATES = 40
SPLITS = {"train": (0, 600), "valid": (600, 650), "test": (650, 700)}
VOCAB = {"zh": 800, "en": 300}
COVERAGE = {"zh": 0.98, "en": 1.0}


@dataclass
class TinyModel:
    data: Path  # prepared data folder (spm/, bin/, split/)
    checkpoint: Path  # fairseq-train's checkpoint_last.pt
    folder: Path  # exported model folder
    test_zh: list  # raw Chinese test lines


def _prepare(root: Path) -> None:
    pairs = [(normalize(zh), normalize(en)) for zh, en in tatoeba_pairs(3000, 700)]
    for lang_index, lang in enumerate(("zh", "en")):
        split_dir, enc_dir, spm_dir = root / "split", root / "encoded", root / "spm"
        for folder in (split_dir, enc_dir, spm_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for name, (start, end) in SPLITS.items():
            lines = "".join(pair[lang_index] + "\n" for pair in pairs[start:end])
            (split_dir / f"{name}.{lang}").write_text(lines, encoding="utf-8")
        model = subwords.train(split_dir / f"train.{lang}", spm_dir / f"spm.{lang}", VOCAB[lang], COVERAGE[lang],
                               add_dummy_prefix=subwords.ADD_DUMMY_PREFIX[lang])
        encoded = {}
        for name in SPLITS:
            raw = (split_dir / f"{name}.{lang}").read_text(encoding="utf-8").splitlines()
            encoded[name] = subwords.encode_lines(model, raw)
            (enc_dir / f"{name}.{lang}").write_text("".join(x + "\n" for x in encoded[name]), encoding="utf-8")
        subwords.write_fairseq_dict(model, encoded["train"], spm_dir / f"dict.{lang}.txt")
    fairseq_preprocess(["--source-lang", "zh", "--target-lang", "en", "--destdir", root / "bin",
                        "--srcdict", root / "spm" / "dict.zh.txt", "--tgtdict", root / "spm" / "dict.en.txt",
                        "--trainpref", root / "encoded" / "train", "--validpref", root / "encoded" / "valid",
                        "--testpref", root / "encoded" / "test", "--workers", "1"])


def train_args(data_bin: Path, save_dir: Path, updates: int = TRAIN_UPDATES, arch=("--arch", "reencoder_tiny")):
    return ["fairseq-train", data_bin, "--user-dir", PLUGIN_DIR, *arch, "--task", "translation",
            "--source-lang", "zh", "--target-lang", "en", "--cpu", "--seed", "1", "--optimizer", "adam",
            "--lr", "0.03", "--clip-norm", "1.0", "--max-tokens", "500", "--criterion", "cross_entropy",
            "--max-update", str(updates), "--max-source-positions", str(MAX_POSITIONS),
            "--max-target-positions", str(MAX_POSITIONS), "--save-dir", save_dir, "--no-epoch-checkpoints",
            "--disable-validation", "--log-format", "simple", "--log-interval", "5", "--no-progress-bar",
            "--num-workers", "0"]


def build_tiny_model(base: Path) -> TinyModel:
    root = base / "tiny_spm_model"
    done = root / "DONE"
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "tiny_spm_model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            _prepare(root)
            run_cli(train_args(root / "bin", root / "ckpt"), env={"OMP_NUM_THREADS": "1"})
            export_model_folder(root / "ckpt" / "checkpoint_last.pt", root, root / "model")
            done.write_text("ok\n")
    test_zh = (root / "split" / "test.zh").read_text(encoding="utf-8").splitlines()
    return TinyModel(root, root / "ckpt" / "checkpoint_last.pt", root / "model", test_zh)


def single_thread():
    """Generator for a module fixture: torch on one intra-op thread (the grid's many tiny
    matmuls run ~10x faster so on a loaded 2-core machine), restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
