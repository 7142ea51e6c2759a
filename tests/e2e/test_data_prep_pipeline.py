"""data_prep end to end on a real Tatoeba subset: layout, manifest, re-runs, eval-only sets,
subword helpers, and the bad inputs that must fail cleanly (one line, no output folder)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_prep import cli, manifest, subwords, wordseg
from data_prep.errors import DataError
from data_prep.pipeline import prepare
from data_prep.readers import TatoebaReader
from data_prep.references import load_items
from tests.e2e.conftest import SMALL, TATOEBA_LINES
from tests.helpers import expect_exit_2, lines


@pytest.fixture(scope="module")
def subset_tsv(tatoeba_tsv) -> Path:
    return tatoeba_tsv


@pytest.fixture(scope="module")
def prepared(tatoeba_prepared) -> Path:
    return tatoeba_prepared


def test_layout_matches_the_contract(prepared):
    out = prepared
    for name in ("raw/raw.zh", "raw/raw.en", "clean/clean.zh", "clean/clean.en",
                 "clean/report.json", "split/train.zh", "split/train.en", "split/dev.zh",
                 "split/dev.en", "split/dev.en.0", "split/dev.en.1", "split/test.zh",
                 "split/test.en", "split/test.en.0", "split/test.en.1",
                 "split/references.json", "spm/spm.zh.model", "spm/spm.zh.vocab",
                 "spm/spm.en.model", "spm/spm.en.vocab", "tok/train.zh", "tok/train.en",
                 "tok/dev.zh", "tok/dev.en.0", "tok/test.zh", "bin/dict.zh.txt",
                 "bin/dict.en.txt", "manifest.json"):
        assert (out / name).is_file(), name
    for split in ("train", "valid", "test"):
        for lang in ("zh", "en"):
            assert (out / "encoded" / f"{split}.{lang}").is_file()
            for ext in ("bin", "idx"):
                assert (out / "bin" / f"{split}.zh-en.{lang}.{ext}").stat().st_size > 0
    assert not list(out.parent.glob("tatoeba.tmp-*"))


def test_counts_agree_across_stages(prepared):
    out = prepared
    meta = json.loads((out / "manifest.json").read_text())
    counts = meta["counts"]
    assert counts["raw"] == TATOEBA_LINES == len(lines(out / "raw/raw.zh"))
    assert counts["clean"] == len(lines(out / "clean/clean.en"))
    report = json.loads((out / "clean/report.json").read_text())
    assert report["input"] == report["kept"] + sum(report["removed"].values())
    n_train = counts["split"]["train_pairs"]
    for name in ("split/train.zh", "split/train.en", "encoded/train.zh", "tok/train.zh",
                 "tok/train.en"):
        assert len(lines(out / name)) == n_train, name
    assert len(lines(out / "encoded/test.en")) == len(lines(out / "split/test.zh")) == 60
    assert len(lines(out / "encoded/valid.zh")) == len(lines(out / "tok/dev.zh")) == 30
    assert meta["settings"]["seed"] == 1 and meta["sources"][0]["kind"] == "tatoeba"
    assert meta["versions"]["sentencepiece"] and meta["arguments"][0] == "reencoder-data"


def test_split_files_are_multi_reference_and_leak_free(prepared):
    split = prepared / "split"
    refs = json.loads((split / "references.json").read_text())
    for name in ("dev", "test"):
        items = load_items(split, name)
        assert all(len(item) >= 2 for item in items)
        assert len(list(split.glob(f"{name}.en.*"))) == refs[name]["K"] + 1
        assert lines(split / f"{name}.en") == lines(split / f"{name}.en.0")
        assert sum(refs[name]["refs_per_item"].values()) == len(items)
    held_zh = set(lines(split / "dev.zh") + lines(split / "test.zh"))
    held_en = {ref for name in ("dev", "test") for item in load_items(split, name)
               for ref in item}
    assert not held_zh & set(lines(split / "train.zh"))
    assert not held_en & set(lines(split / "train.en"))


def test_subword_and_word_stages(prepared):
    out = prepared
    zh_model, en_model = out / "spm/spm.zh.model", out / "spm/spm.en.model"
    train_zh = lines(out / "split/train.zh")
    assert lines(out / "encoded/train.zh")[:50] == subwords.encode(train_zh[:50], zh_model)
    # raw, full-width input is normalised exactly like the training text
    assert subwords.encode(["我很好！"], zh_model) == subwords.encode(["我很好!"], zh_model)
    train_en = lines(out / "split/train.en")
    encoded_en = lines(out / "encoded/train.en")
    assert subwords.decode(encoded_en[:200], en_model) == train_en[:200]
    assert subwords.decode(encoded_en[:200]) == train_en[:200]
    # every spm piece but <unk>/<s>/</s> has a fairseq id, in spm order
    processor = subwords.load(str(en_model))
    dict_en = [row.split(" ")[0] for row in lines(out / "bin/dict.en.txt")]
    assert dict_en == [processor.id_to_piece(i) for i in range(3, processor.get_piece_size())]
    tok_en, tok_zh = lines(out / "tok/train.en"), lines(out / "tok/train.zh")
    assert "Stop !" in tok_en and "I'm" not in " ".join(tok_en)  # Moses: "I 'm"
    assert tok_en[-100:] == wordseg.tokenize_en(train_en[-100:])
    assert tok_zh[-100:] == wordseg.segment_zh(train_zh[-100:])
    assert [line.replace(" ", "") for line in tok_zh] == [z.replace(" ", "") for z in train_zh]
    words = [word for line in tok_zh for word in line.split()]
    assert sum(len(word) >= 2 for word in words) > len(words) / 5  # words, not characters


def test_spm_training_is_byte_reproducible(prepared, tmp_path):
    first = subwords.train(prepared / "split/train.en", tmp_path / "a", 500, 1.0)
    second = subwords.train(prepared / "split/train.en", tmp_path / "b", 500, 1.0)
    assert first.read_bytes() == second.read_bytes()
    assert (tmp_path / "a.vocab").read_text() == (tmp_path / "b.vocab").read_text()
    assert len((tmp_path / "a.vocab").read_text().splitlines()) == 500


def test_rerun_is_a_no_op(prepared, subset_tsv, capsys):
    stamp = (prepared / "manifest.json").stat().st_mtime_ns
    assert cli.main(["--tatoeba", str(subset_tsv), "--out", str(prepared), *SMALL]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (prepared / "manifest.json").stat().st_mtime_ns == stamp
    changed = manifest.fingerprint([TatoebaReader(subset_tsv).describe()], {"seed": 2})
    assert not manifest.is_up_to_date(prepared, changed)


def test_eval_only_iwslt_with_existing_models(prepared, shared_data, tmp_path):
    out = tmp_path / "ted-tst2010"
    args = ["--eval-only", "--iwslt-dir", shared_data / "iwslt15-ted-zh-en", "--iwslt-sets",
            "tst2010", "--spm-dir", prepared / "spm", "--dict-dir", prepared / "bin",
            "--out", out, "--quiet"]
    assert cli.main([str(a) for a in args]) == 0
    assert len(lines(out / "split/test.zh")) == len(lines(out / "split/test.en.0")) == 1570
    assert len(lines(out / "encoded/test.zh")) == 1570
    assert (out / "bin/test.zh-en.zh.bin").stat().st_size > 0
    assert (out / "bin/dict.en.txt").read_text() == (prepared / "bin/dict.en.txt").read_text()
    for name in ("spm.en.model", "spm.zh.model", "spm.zh.vocab"):
        assert (out / "spm" / name).read_bytes() == (prepared / "spm" / name).read_bytes()
    assert not (out / "bin/train.zh-en.zh.bin").exists()


# ---------------------------------------------------------------- bad input -------------

def assert_failed_cleanly(capsys, out: Path, *fragments: str):
    """Exit status 2, one stderr line 'error: ...' naming the fragments, no output left."""
    captured = capsys.readouterr()
    message = captured.err.strip()
    assert message.startswith("error: ") and "\n" not in message, captured.err
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "Traceback" not in captured.err
    assert not out.exists()
    assert not list(out.parent.glob(f"{out.name}.tmp-*"))


def test_bad_mismatched_line_counts(tmp_path, capsys):
    (tmp_path / "c.zh").write_text("你好\n再见\n谢谢\n", encoding="utf-8")
    (tmp_path / "c.en").write_text("hello\nbye\n", encoding="utf-8")
    out = tmp_path / "out"
    expect_exit_2(["--parallel", tmp_path / "c.zh", tmp_path / "c.en", "--out", out, "--quiet"])
    assert_failed_cleanly(capsys, out, f"{tmp_path / 'c.zh'} has 3 lines",
                          f"{tmp_path / 'c.en'} has 2")


def test_bad_invalid_utf8(tmp_path, capsys, shared_data):
    data = (shared_data / "tatoeba-cmn-eng" / "cmn-eng.tsv").read_bytes().split(b"\n")[:20]
    data[6] += b"\xe3\x80"  # a truncated multi-byte character at the end of line 7
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"\n".join(data) + b"\n")
    out = tmp_path / "out"
    expect_exit_2(["--tatoeba", bad, "--out", out, "--quiet"])
    assert_failed_cleanly(capsys, out, f"{bad}:7: invalid UTF-8")


def test_bad_tsv_columns(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("Hi.\t嗨。\tCC-BY\nRun.\t跑。\n", encoding="utf-8")
    out = tmp_path / "out"
    expect_exit_2(["--tatoeba", bad, "--out", out, "--quiet"])
    assert_failed_cleanly(capsys, out, f"{bad}:2:", "expected 3 tab-separated columns")


def test_bad_empty_after_cleaning(tmp_path, capsys):
    (tmp_path / "c.zh").write_text("\nHello\n好好好好好好\n", encoding="utf-8")
    (tmp_path / "c.en").write_text("empty zh\nHello\nGood.\n", encoding="utf-8")
    out = tmp_path / "out"
    expect_exit_2(["--parallel", tmp_path / "c.zh", tmp_path / "c.en", "--max-ratio", "3",
                   "--out", out, "--quiet"])
    assert_failed_cleanly(capsys, out, "no sentence pairs left after cleaning",
                          "'empty': 1", "'untranslated': 1", "'length_ratio': 1")


def test_bad_missing_file(tmp_path, capsys):
    out = tmp_path / "out"
    expect_exit_2(["--tatoeba", tmp_path / "nope.tsv", "--out", out, "--quiet"])
    assert_failed_cleanly(capsys, out, f"{tmp_path / 'nope.tsv'}: no such file")
    expect_exit_2(["--eval-only", "--parallel", tmp_path / "nope.zh", tmp_path / "nope.en",
                   "--spm-dir", tmp_path, "--dict-dir", tmp_path, "--out", out, "--quiet"])
    assert_failed_cleanly(capsys, out, "spm.zh.model: no such file")


def test_late_failure_removes_temp_folder_and_keeps_old_output(tmp_path, monkeypatch,
                                                               subset_tsv):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # a previous (complete) build
    (out / "old.txt").write_text("previous build")

    def broken_train(*args, **kwargs):
        assert list(tmp_path.glob("out.tmp-*/split/train.zh"))  # stages before were written
        raise DataError("sentencepiece exploded")

    monkeypatch.setattr(subwords, "train", broken_train)
    with pytest.raises(DataError, match="exploded"):
        prepare([TatoebaReader(subset_tsv)], out, dev_size=30, test_size=60)
    assert (out / "old.txt").read_text() == "previous build"
    assert not list(tmp_path.glob("out.tmp-*"))


def test_refuses_to_replace_a_foreign_folder(tmp_path, subset_tsv, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    expect_exit_2(["--tatoeba", subset_tsv, "--out", out, "--quiet"])
    assert "is not a data_prep output" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"
    assert not list(tmp_path.glob("mine.tmp-*"))


def test_python_api_sees_the_cli_build_as_up_to_date(prepared, subset_tsv):
    """prepare() with the CLI's settings returns the folder without rebuilding it."""
    printed = []
    stamp = (prepared / "manifest.json").stat().st_mtime_ns
    result = prepare(TatoebaReader(subset_tsv), prepared, dev_size=30, test_size=60,
                     spm_vocab_zh=1500, spm_vocab_en=1000, print_fn=printed.append)
    assert result == prepared and printed == [f"up to date: {prepared}"]
    assert (prepared / "manifest.json").stat().st_mtime_ns == stamp
