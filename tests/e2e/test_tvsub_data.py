"""``reencoder-data --tvsub`` end to end on a slice of the real TVsub corpus (conftest.py's
``prepared``: the first 20,000 training pairs, the full dev and test sets): layout, counts, the
three aligned test references, leak-free training data, re-runs, ``--tok-limit``, and
interrupted runs."""
from __future__ import annotations

import json

import pytest

from data_prep import binarize, cli, streaming, subwords
from data_prep.references import load_reference_streams
from data_prep.split import leak_key
from tests.e2e.conftest import TVSUB_LIMIT as LIMIT
from tests.helpers import lines


def test_layout_is_the_one_downstream_code_reads(prepared):
    for name in ("split/train.zh", "split/train.en", "split/dev.zh", "split/dev.en",
                 "split/dev.en.0", "split/test.zh", "split/test.en", "split/test.en.0",
                 "split/test.en.1", "split/test.en.2", "split/references.json",
                 "tok/train.zh", "tok/train.en", "tok/dev.zh", "tok/dev.en.0", "tok/test.zh",
                 "tok/test.en.0", "tok/test.en.1", "tok/test.en.2", "spm/spm.zh.model",
                 "spm/spm.en.vocab", "spm/dict.zh.txt", "bin/dict.zh.txt", "bin/dict.en.txt",
                 "clean/report.json", "manifest.json"):
        assert (prepared / name).is_file(), name
    assert not (prepared / "split/dev.en.1").exists() and not (prepared / "split/test.en.3").exists()
    for split in ("train", "valid", "test"):
        for lang in ("zh", "en"):
            for ext in ("bin", "idx"):
                assert (prepared / "bin" / f"{split}.zh-en.{lang}.{ext}").stat().st_size > 0
    assert not list(prepared.parent.glob("tvsub.tmp-*"))


def test_manifest_counts_agree_with_the_files(prepared):
    meta = json.loads((prepared / "manifest.json").read_text())
    counts, report = meta["counts"], meta["counts"]["cleaning"]
    assert counts["raw"] == report["input"] == LIMIT
    assert report["input"] == report["kept"] + sum(report["removed"].values())
    assert report["removed"]["duplicate"] > 500  # subtitles repeat ("Thank you.", "What?")
    split = counts["split"]
    assert split["train_removed_for_overlap"] > 100
    n_train = split["train_pairs"]
    assert n_train == counts["clean"] - split["train_removed_for_overlap"] > 15_000
    for name in ("split/train.zh", "split/train.en", "encoded/train.zh", "encoded/train.en",
                 "tok/train.zh", "tok/train.en"):
        assert len(lines(prepared / name)) == n_train, name
    assert counts["tok"]["train_lines"] == n_train
    assert counts["spm"]["zh"]["sample_lines"] == n_train  # all of them: under the sample size
    assert meta["settings"]["spm_vocab"] == streaming.TVSUB_VOCAB
    assert meta["sources"][0]["limit"] == LIMIT and meta["arguments"][0] == "reencoder-data"
    assert {"clean_train", "spm_encode_binarize", "tok_train", "total"} <= set(meta["wall_times_s"])


def test_three_test_references_are_aligned_with_the_source(prepared):
    split = prepared / "split"
    test_zh = lines(split / "test.zh")
    streams = load_reference_streams(split, "test")
    assert len(test_zh) == 1154 and [len(s) for s in streams] == [1154] * 3
    assert test_zh[2] == "罗斯,谢谢"
    assert [s[2] for s in streams] == ["ross , thank you .", "thanks , ross .", "thanks , ross ."]
    assert [s[1153] for s in streams] == ["sorry for your loss .", "i 'm sorry for your loss .",
                                          "i 'm sorry for your loss ."]
    assert lines(split / "test.en") == lines(split / "test.en.0")
    refs = json.loads((split / "references.json").read_text())
    assert refs["test"]["K"] == 2 and refs["test"]["refs_per_item"] == {"3": 1154}
    assert refs["test"]["reference_systems"] == ["reference_1", "reference_2", "reference_3"]
    assert refs["dev"]["K"] == 0 and len(load_reference_streams(split, "dev")[0]) == 1086
    # fairseq's valid/test targets: the shipped English, cased and detokenized like train.en
    assert lines(prepared / "encoded/valid.zh")[0].replace(" ", "").replace("\u2581", "") \
        == lines(split / "dev.zh")[0].replace(" ", "")
    processor = subwords.load(prepared / "spm/spm.en.model")
    valid_en = [processor.decode(line.split()) for line in lines(prepared / "encoded/valid.en")]
    assert len(valid_en) == 1086 and valid_en[2] == "hello, Mrs. Ross. woo-hoo!"
    assert len(lines(prepared / "tok/test.en.2")) == len(lines(prepared / "tok/test.zh")) == 1154
    # tok/ references tokenized like tok/train.en ("it 's", "woo-hoo" rather than "woo @-@ hoo")
    assert lines(prepared / "tok/test.en.0")[1] == "no problems . it 's all taken care of ."
    assert lines(prepared / "tok/dev.en.0")[2] == "hello , mrs. ross . woo-hoo !"


def test_training_pairs_contain_no_dev_or_test_sentence(prepared):
    split = prepared / "split"
    held_zh = {leak_key(zh) for name in ("dev", "test") for zh in lines(split / f"{name}.zh")}
    held_en = {leak_key(ref) for name in ("dev", "test")
               for stream in load_reference_streams(split, name) for ref in stream if ref}
    assert {leak_key(zh) for zh in lines(split / "train.zh")}.isdisjoint(held_zh)
    assert {leak_key(en) for en in lines(split / "train.en")}.isdisjoint(held_en)
    assert "thankyou" in held_en  # the check is not vacuous


def test_binarized_data_loads_in_fairseq(prepared):
    from fairseq.data import Dictionary, data_utils

    meta = json.loads((prepared / "manifest.json").read_text())
    dictionary = Dictionary.load(str(prepared / "bin/dict.en.txt"))
    train = data_utils.load_indexed_dataset(str(prepared / "bin/train.zh-en.en"), dictionary)
    assert len(train) == meta["counts"]["split"]["train_pairs"]
    first = lines(prepared / "encoded/train.en")[0]
    assert dictionary.string(train[0]) == first
    valid = data_utils.load_indexed_dataset(str(prepared / "bin/valid.zh-en.zh"), dictionary)
    assert len(valid) == 1086


def test_binarized_data_is_what_fairseq_preprocess_writes(prepared, tmp_path):
    encoded, spm = prepared / "encoded", prepared / "spm"
    binarize.fairseq_preprocess(tmp_path / "bin", spm / "dict.zh.txt", spm / "dict.en.txt",
                                trainpref=encoded / "train", validpref=encoded / "valid",
                                testpref=encoded / "test", workers=2)
    for split in ("train", "valid", "test"):
        for lang in ("zh", "en"):
            for ext in ("bin", "idx"):
                name = f"{split}.zh-en.{lang}.{ext}"
                assert (prepared / "bin" / name).read_bytes() == \
                    (tmp_path / "bin" / name).read_bytes(), name
    for lang in ("zh", "en"):
        assert (prepared / "bin" / f"dict.{lang}.txt").read_text() == \
            (tmp_path / "bin" / f"dict.{lang}.txt").read_text()


def test_eval_and_baseline_readers_work_on_it(prepared, tmp_path):
    from eval.cli import main as eval_main
    from eval.phrase_based.recipe import load_tok_data

    hyp = tmp_path / "test.hyp"  # reference 1 as a "system": BLEU must be 100
    hyp.write_text((prepared / "split/test.en.0").read_text(encoding="utf-8"), encoding="utf-8")
    assert eval_main(["--refs", str(prepared / "split"), "--system", f"ref1={hyp}",
                      "--out", str(tmp_path / "eval")]) == 0
    results = json.loads((tmp_path / "eval/results.json").read_text())
    assert json.dumps(results).count("100.0") >= 1
    train_src, train_trg, dev_src, dev_refs = load_tok_data(prepared, max_train=100)
    assert len(train_src) == len(train_trg) == 100 and len(dev_src) == len(dev_refs) == 1086


def test_rerun_is_a_no_op(prepared, tvsub_dir, capsys):
    stamp = (prepared / "manifest.json").stat().st_mtime_ns
    args = ["--tvsub", str(tvsub_dir), "--tvsub-limit", str(LIMIT), "--out", str(prepared)]
    assert cli.main(args) == 0
    assert f"up to date: {prepared}" in capsys.readouterr().out
    assert (prepared / "manifest.json").stat().st_mtime_ns == stamp


def test_tok_limit_and_an_interrupt_leave_nothing_half_written(tvsub_dir, tmp_path, monkeypatch):
    out = tmp_path / "small"
    streaming.prepare_tvsub(tvsub_dir, out, limit=3000, tok_limit=500, print_fn=lambda _: None)
    assert len(lines(out / "tok/train.zh")) == 500 < len(lines(out / "split/train.zh"))
    assert len(lines(out / "tok/test.en.2")) == 1154  # dev/test tok always complete
    before = (out / "manifest.json").read_bytes()

    def interrupted(*args, **kwargs):
        assert list(tmp_path.glob("*.tmp-*/split/train.en"))  # well inside the run
        assert list(tmp_path.glob("*.tmp-*/tok/test.en.2"))
        raise KeyboardInterrupt

    monkeypatch.setattr(subwords, "train_lines", interrupted)
    with pytest.raises(KeyboardInterrupt):
        streaming.prepare_tvsub(tvsub_dir, out, limit=3000, print_fn=lambda _: None)
    assert (out / "manifest.json").read_bytes() == before  # the old build is untouched
    assert not list(tmp_path.glob("small.tmp-*")) and not list(tmp_path.glob("small.old-*"))
    with pytest.raises(KeyboardInterrupt):
        streaming.prepare_tvsub(tvsub_dir, tmp_path / "fresh", limit=3000,
                                print_fn=lambda _: None)
    assert not (tmp_path / "fresh").exists() and not list(tmp_path.glob("fresh.tmp-*"))
