"""Model folders: export -> load round trip, validation errors, fairseq compatibility."""

import json
import shutil

import pytest
import torch
from fairseq import checkpoint_utils

from reencoder.cli import export as export_cli
from reencoder.cli import translate as translate_cli
from reencoder.model_folder import FILES, ModelFolderError, export_model_folder, read_model_folder
from reencoder.translate import Translator, load_model_folder
from tests.helpers import run_cli
from tests.translate_fixtures import MAX_POSITIONS, TRAIN_UPDATES, train_args

pytestmark = pytest.mark.usefixtures("one_thread")


def test_export_writes_a_complete_folder(tiny):
    assert sorted(p.name for p in tiny.folder.iterdir()) == sorted(FILES)
    config = json.loads((tiny.folder / "config.json").read_text(encoding="utf-8"))
    assert config["arch"] == "reencoder_tiny"
    assert (config["source_lang"], config["target_lang"]) == ("zh", "en")
    assert config["num_updates"] == TRAIN_UPDATES
    assert config["max_source_positions"] == MAX_POSITIONS
    assert config["normalization"]["t2s"] is False
    assert config["versions"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert set(config["sha256"]) == set(FILES) - {"config.json"}
    for name in ("spm.zh.model", "spm.en.model"):
        assert (tiny.folder / name).read_bytes() == (tiny.data / "spm" / name).read_bytes()
    for name in ("dict.zh.txt", "dict.en.txt"):
        assert (tiny.folder / name).read_bytes() == (tiny.data / "bin" / name).read_bytes()
    # optimizer state stripped, weights untouched
    exported = torch.load(tiny.folder / "model.pt", map_location="cpu")
    original = torch.load(tiny.checkpoint, map_location="cpu")
    assert "last_optimizer_state" in original and "last_optimizer_state" not in exported
    assert exported["model"].keys() == original["model"].keys()
    assert all(torch.equal(exported["model"][k], original["model"][k]) for k in original["model"])
    assert (tiny.folder / "model.pt").stat().st_size < tiny.checkpoint.stat().st_size
    # no leftovers of the atomic write next to the folder
    assert not [p for p in tiny.folder.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_model_pt_still_loads_with_fairseq_checkpoint_utils(tiny):
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(tiny.folder / "model.pt")], arg_overrides={"data": str(tiny.folder)})
    assert cfg.model.arch == "reencoder_tiny" and len(task.source_dictionary) == len(models[0].encoder.embed_tokens.weight)


def test_round_trip_same_translations_and_scores_as_the_checkpoint(tiny):
    """Export -> load gives exactly what the training checkpoint (with the data folder's
    dictionaries and spm models) gives."""
    lines = tiny.test_zh[:12] + ["", "你好！"]
    from_folder = Translator.from_folder(tiny.folder, beam=4)
    models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(tiny.checkpoint)], arg_overrides={"data": str(tiny.data / "bin")})
    direct = Translator([m.eval() for m in models], task, tiny.data / "spm", from_folder.config, beam=4)
    a, b = from_folder.translate_nbest(lines, 3), direct.translate_nbest(lines, 3)
    assert a == b
    assert len(a) == len(lines) and all(len(h) == 3 for h in a)
    assert a[12] == [("", 0.0)] * 3


BASELINES = {
    "lstm": ["--arch", "lstm", "--encoder-embed-dim", "16", "--decoder-embed-dim", "16", "--encoder-hidden-size", "16",
             "--decoder-hidden-size", "16", "--decoder-out-embed-dim", "16"],
    "transformer": ["--arch", "transformer", "--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "16",
                    "--decoder-embed-dim", "16", "--encoder-ffn-embed-dim", "32", "--decoder-ffn-embed-dim", "32",
                    "--encoder-attention-heads", "2", "--decoder-attention-heads", "2"],
}


@pytest.mark.parametrize("arch", sorted(BASELINES))
def test_fairseq_baselines_export_and_translate_like_their_checkpoint(tiny, tmp_path, arch):
    """fairseq's own lstm and transformer go through the same model folder and Translator as the
    Reencoder, and translate exactly as their training checkpoint does."""
    run_cli(train_args(tiny.data / "bin", tmp_path / "ckpt", updates=8, arch=BASELINES[arch]),
            env={"OMP_NUM_THREADS": "1"})
    folder = export_model_folder(tmp_path / "ckpt" / "checkpoint_last.pt", tiny.data, tmp_path / "model")
    assert read_model_folder(folder)["arch"] == arch
    lines = tiny.test_zh[:6] + [""]
    from_folder = Translator.from_folder(folder, beam=3)
    models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(tmp_path / "ckpt" / "checkpoint_last.pt")], arg_overrides={"data": str(tiny.data / "bin")})
    direct = Translator([m.eval() for m in models], task, tiny.data / "spm", from_folder.config, beam=3)
    a = from_folder.translate_nbest(lines, 2)
    assert a == direct.translate_nbest(lines, 2)
    assert len(a) == len(lines) and a[-1] == [("", 0.0)] * 2 and all(h[0][0] for h in a[:-1])


def test_export_refuses_a_checkpoint_of_another_task(tiny, tmp_path):
    state = torch.load(tiny.checkpoint, weights_only=False)
    state["cfg"]["task"]["_name"] = "language_modeling"
    torch.save(state, tmp_path / "lm.pt")
    with pytest.raises(ModelFolderError, match="'language_modeling' model, not a translation model"):
        export_model_folder(tmp_path / "lm.pt", tiny.data, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_raw_lines_are_encoded_exactly_like_the_training_data(tiny):
    """Translator's normalise + spm + dictionary == the data folder's binarized test set."""
    translator = load_model_folder(tiny.folder, beam=1)
    _models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(tiny.checkpoint)], arg_overrides={"data": str(tiny.data / "bin")})
    task.load_dataset("test")
    dataset = task.dataset("test")
    ids = translator.encode(tiny.test_zh)
    assert len(ids) == len(dataset)
    for k, tokens in enumerate(ids):
        assert tokens.tolist() == dataset[k]["source"].tolist()


def test_missing_spm_model_is_a_clear_error(tiny, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(tiny.folder, broken)
    (broken / "spm.zh.model").unlink()
    with pytest.raises(ModelFolderError, match=r"^model folder .*broken has no spm\.zh\.model$"):
        load_model_folder(broken)
    assert translate_cli.main(["--model", str(broken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: model folder {broken} has no spm.zh.model"]


@pytest.mark.parametrize("problem", ["missing", "not_a_dir", "bad_config"])
def test_other_broken_folders(tiny, tmp_path, problem):
    path = tmp_path / "m"
    if problem == "not_a_dir":
        path.write_text("x")
        expected = "is not a directory"
    elif problem == "bad_config":
        shutil.copytree(tiny.folder, path)
        (path / "config.json").write_text("{not json")
        expected = "unreadable config.json"
    else:
        expected = "does not exist"
    with pytest.raises(ModelFolderError, match=expected):
        read_model_folder(path)


def test_export_errors_name_what_is_missing(tiny, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny.data / "bin", data / "bin")
    with pytest.raises(ModelFolderError, match=r"has no spm/spm\.zh\.model"):
        export_model_folder(tiny.checkpoint, data, tmp_path / "out")
    with pytest.raises(ModelFolderError, match="does not exist"):
        export_model_folder(tmp_path / "nope.pt", tiny.data, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_replaces_an_existing_folder_atomically(tiny, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "notes.txt").write_text("not a model folder")
    with pytest.raises(ModelFolderError, match="exists and is not a model folder"):
        export_model_folder(tiny.checkpoint, tiny.data, out)
    assert (out / "notes.txt").exists()
    (out / "config.json").write_text("{}")  # an (old) model folder is replaced
    export_model_folder(tiny.checkpoint, tiny.data, out, strip_optimizer=False, t2s=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    config = read_model_folder(out)
    assert config["normalization"]["t2s"] is True and config["optimizer_state"] is True
    assert "last_optimizer_state" in torch.load(out / "model.pt", map_location="cpu")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_export_console_entry_point(tiny, tmp_path, capsys):
    out = tmp_path / "exported"
    assert export_cli.main(["--checkpoint", str(tiny.checkpoint), "--data", str(tiny.data), "--out", str(out),
                            "--t2s"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote model folder {out}"
    assert read_model_folder(out)["normalization"]["t2s"] is True
    assert export_cli.main(["--checkpoint", str(tmp_path / "none.pt"), "--data", str(tiny.data),
                            "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == f"error: checkpoint {tmp_path / 'none.pt'} does not exist"


def test_the_folders_beam_search_is_the_translation_default(tiny, tmp_path):
    """``reencoder-export --beam --lenpen`` store a default beam search (the recipes: the one chosen
    on dev) that ``reencoder-translate`` uses unless told otherwise; a folder without one decodes at
    beam 5, length penalty 1.0."""
    out = tmp_path / "tuned"
    assert export_cli.main(["--checkpoint", str(tiny.checkpoint), "--data", str(tiny.data), "--out", str(out),
                            "--beam", "3", "--lenpen", "0.6"]) == 0
    assert read_model_folder(out)["decoding"] == {"beam": 3, "lenpen": 0.6}
    assert read_model_folder(tiny.folder)["decoding"] == {}
    api = load_model_folder(out)  # the Python API takes the folder's too
    assert (api.beam, api.len_penalty) == (3, 0.6)
    src = tmp_path / "in.zh"
    src.write_text("\n".join(tiny.test_zh[:6]) + "\n", encoding="utf-8")

    def scored(folder, *flags):
        dst = tmp_path / "out.txt"
        assert translate_cli.main(["--model", str(folder), "--input", str(src), "--output", str(dst), "--scores",
                                   *flags]) == 0
        return dst.read_text(encoding="utf-8").splitlines()

    assert scored(out) == scored(tiny.folder, "--beam", "3", "--lenpen", "0.6")
    assert scored(out) != scored(tiny.folder, "--beam", "3", "--lenpen", "1.0")  # scores are length-normalised
    assert scored(out, "--beam", "5", "--lenpen", "1.0") == scored(tiny.folder)


def test_truncated_checkpoint_is_one_line_everywhere(tiny, tmp_path, capsys):
    """A checkpoint cut short (a copy interrupted, a full disk) is named in one line by export,
    averaging and translation; nothing is written."""
    from reencoder.cli import average as average_cli

    data = tiny.checkpoint.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    assert export_cli.main(["--checkpoint", str(cut), "--data", str(tiny.data), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: cannot read checkpoint {cut}: "), err
    assert average_cli.main(["--inputs", str(tiny.checkpoint), str(cut), "--out", str(tmp_path / "avg.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: cannot read checkpoint {cut}: "), err
    assert not (tmp_path / "m").exists() and not list(tmp_path.glob("avg.pt*"))

    folder = tmp_path / "folder"
    shutil.copytree(tiny.folder, folder)
    (folder / "model.pt").write_bytes(data[:1000])
    assert translate_cli.main(["--model", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: model folder {folder}: cannot load model.pt ("), err


class Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_unsafe_checkpoint_is_refused_as_unsafe_in_one_line(tiny, tmp_path, capsys, monkeypatch):
    """A checkpoint that pickles a callable is refused by export, translation (through fairseq's
    loader) and source reliance, each in one line naming the global, never advising to load it
    unsafely; nothing runs."""
    from reencoder.cli import source_reliance as reliance_cli

    monkeypatch.chdir(tmp_path)
    state = torch.load(tiny.checkpoint, weights_only=True)
    state["extra_state"]["evil"] = Payload()
    evil = tmp_path / "evil.pt"
    torch.save(state, evil)
    folder = tmp_path / "folder"
    shutil.copytree(tiny.folder, folder)
    shutil.copyfile(evil, folder / "model.pt")
    runs = [(export_cli.main, ["--checkpoint", str(evil), "--data", str(tiny.data), "--out", str(tmp_path / "m")]),
            (translate_cli.main, ["--model", str(folder)]),
            (reliance_cli.main, ["--checkpoint", str(evil), "--data", str(tiny.data / "bin")])]
    for main, args in runs:
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "refused as unsafe: it pickles posix.system" in err[0], err
        assert "weights_only" not in err[0]
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "m").exists()
