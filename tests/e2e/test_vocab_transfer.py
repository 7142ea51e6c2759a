"""``reencoder-data --from-prepared``: a prepared slice of the real Tatoeba file in the vocabulary of
a prepared slice of the real TVsub corpus (the data of recipes/tvsub_adapt.sh), its bad inputs, and
a fine-tuning run (``--finetune-from-model``) started from an averaged TVsub checkpoint on it."""
from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
import torch
from fairseq.data import Dictionary, data_utils

from data_prep import cli, subwords
from tests.helpers import BIN, REPO, expect_exit_2, lines, run_cli


def args_for(source: Path, vocab: Path, out: Path) -> list[str]:
    return ["--from-prepared", str(source), "--spm-dir", str(vocab / "spm"), "--dict-dir", str(vocab / "bin"),
            "--out", str(out), "--quiet"]


@pytest.fixture(scope="module")
def transferred(tatoeba_prepared, prepared, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("transfer") / "tatoeba_in_tvsub"
    assert cli.main(args_for(tatoeba_prepared, prepared, out)) == 0
    return out


def test_the_same_items_in_the_other_corpus_vocabulary(transferred, tatoeba_prepared, prepared):
    for name in ("split/train.zh", "split/train.en", "split/dev.en.1", "split/test.en.0", "split/references.json"):
        assert (transferred / name).read_bytes() == (tatoeba_prepared / name).read_bytes(), name
    for lang in ("zh", "en"):
        assert (transferred / "bin" / f"dict.{lang}.txt").read_bytes() == (prepared / "bin" / f"dict.{lang}.txt").read_bytes()
        assert (transferred / "spm" / f"spm.{lang}.model").read_bytes() == (prepared / "spm" / f"spm.{lang}.model").read_bytes()
    # TVsub's pieces of the Tatoeba text (valid: the dev set's first reference), not Tatoeba's
    for subset, stem, lang in (("train", "train", "zh"), ("train", "train", "en"), ("valid", "dev", "en")):
        expected = subwords.encode_lines(prepared / "spm" / f"spm.{lang}.model",
                                         lines(tatoeba_prepared / "split" / f"{stem}.{lang}"))
        assert lines(transferred / "encoded" / f"{subset}.{lang}") == expected
    assert lines(transferred / "encoded" / "train.en") != lines(tatoeba_prepared / "encoded" / "train.en")
    # binarized with TVsub's ids: fairseq reads the pieces back with TVsub's dictionary
    dictionary = Dictionary.load(str(prepared / "bin" / "dict.en.txt"))
    dataset = data_utils.load_indexed_dataset(str(transferred / "bin" / "train.zh-en.en"), dictionary)
    encoded = lines(transferred / "encoded" / "train.en")
    assert len(dataset) == len(encoded)
    assert [dictionary.string(dataset[i]) for i in (0, 7, len(dataset) - 1)] == [encoded[i] for i in (0, 7, -1)]


def test_the_manifest_counts_the_pieces_outside_the_dictionary(transferred, prepared):
    counts = json.loads((transferred / "manifest.json").read_text(encoding="utf-8"))["counts"]
    symbols = {line.rsplit(" ", 1)[0] for line in lines(prepared / "bin" / "dict.zh.txt")}
    pieces = [piece for line in lines(transferred / "encoded" / "train.zh") for piece in line.split()]
    assert counts["train"]["zh"] == {"lines": len(lines(transferred / "split" / "train.zh")), "pieces": len(pieces),
                                     "unknown_pieces": sum(piece not in symbols for piece in pieces)}
    assert counts["test"]["en"]["lines"] == 60 and counts["valid"]["zh"]["lines"] == 30


def test_a_rerun_does_nothing(transferred, tatoeba_prepared, prepared, capsys):
    before = (transferred / "manifest.json").stat().st_mtime_ns
    capsys.readouterr()
    assert cli.main(args_for(tatoeba_prepared, prepared, transferred)) == 0
    assert "up to date" in capsys.readouterr().out
    assert (transferred / "manifest.json").stat().st_mtime_ns == before


def test_bad_inputs_name_the_file_and_leave_nothing(tatoeba_prepared, prepared, tmp_path, capsys):
    out = tmp_path / "out"
    not_prepared = tmp_path / "plain"
    not_prepared.mkdir()
    expect_exit_2(args_for(not_prepared, prepared, out))
    assert f"{not_prepared / 'manifest.json'}: missing or unreadable" in capsys.readouterr().err
    no_dicts = ["--from-prepared", tatoeba_prepared, "--spm-dir", prepared / "spm", "--dict-dir", tmp_path,
                "--out", out, "--quiet"]
    expect_exit_2(no_dicts)
    assert f"{tmp_path / 'dict.zh.txt'}: no such file" in capsys.readouterr().err
    expect_exit_2([*args_for(tatoeba_prepared, prepared, out), "--eval-only"])
    assert "cannot be combined" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]  # no output, no temporary folder


def train_nmt(runs: Path, name: str, data: Path, flags: str) -> None:
    script = (f"source recipes/lib.sh; BIN={shlex.quote(str(BIN))}; RUNS={shlex.quote(str(runs))}; "
              f"OMP_NUM_THREADS=1 train_nmt {name} {shlex.quote(str(data / 'bin'))} {flags} --arch reencoder_tiny "
              "--optimizer adam --max-tokens 400 --max-valid-steps 2 --no-progress-bar")
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_fine_tuning_starts_from_the_averaged_weights_with_a_fresh_run(transferred, prepared, tmp_path):
    train_nmt(tmp_path, "tvsub", prepared, "12 --lr 0.01 --save-interval-updates 4 --keep-interval-updates 2")
    ckpt = tmp_path / "tvsub" / "ckpt"
    run_cli(["reencoder-average", "--save-dir", ckpt, "--last", "3", "--final", "--out", ckpt / "avg.pt"])
    average = torch.load(ckpt / "avg.pt", weights_only=False)
    assert "previous_training_time" not in average["extra_state"]  # the first run's clock stays behind
    # a learning rate of ~0: the fine-tuned weights are the averaged ones, the update count starts at 0
    train_nmt(tmp_path, "adapted", transferred, f"2 --lr 1e-12 --finetune-from-model {shlex.quote(str(ckpt / 'avg.pt'))}")
    adapted = torch.load(tmp_path / "adapted" / "ckpt" / "checkpoint_last.pt", weights_only=False)
    assert json.loads((tmp_path / "adapted" / "training.json").read_text(encoding="utf-8"))["updates"] == 2
    for key, value in average["model"].items():
        torch.testing.assert_close(adapted["model"][key], value, rtol=0, atol=1e-6, msg=key)
