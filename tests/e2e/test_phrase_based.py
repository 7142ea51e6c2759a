"""The Thot phrase-based baseline on a small real subset of Tatoeba.

Train 4000 real pairs, tune on 80 multi-reference dev items (25 simplex evaluations), test
on 150 multi-reference items. BLEU floor: the trivial systems score ~0 on this test set
(copying the Chinese source: 0.0; the most frequent training sentence for every line: well
under 2), while this model scores ~10-13 (12.7 on a 500-item test of the same recipe). The
floor, 5 BLEU and at least 3 points above the best trivial system, is far outside the 95 %
bootstrap CI of the trivial systems and leaves room for ±3 BLEU of sampling noise.
"""
from __future__ import annotations

import shutil
from collections import Counter

import pytest
from sacrebleu.metrics import BLEU

from data_prep.foundation import read_lines
from data_prep.pipeline import prepare
from data_prep.readers import TatoebaReader
from data_prep.references import load_reference_streams
from eval.errors import EvalError
from eval.phrase_based import recipe
from eval.phrase_based.model import PhraseBasedModel, pieces
from eval.phrase_based.oov import back_off
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("pb")
    # data_prep's own pipeline on the first 7,000 real Tatoeba lines (short sentences)
    lines = (shared_data / "tatoeba-cmn-eng" / "cmn-eng.tsv").read_text(encoding="utf-8").splitlines(True)[:7000]
    (root / "subset.tsv").write_text("".join(lines), encoding="utf-8")
    data = prepare(TatoebaReader(root / "subset.tsv"), root / "data", seed=7, dev_size=80, test_size=150,
                   spm_vocab_zh=2000, spm_vocab_en=800, print_fn=lambda *a, **k: None)
    info = recipe.train(data, root / "model", "HMM", max_train=4000, max_tune_evals=25, progress=False)
    hyp = root / "test.hyp"
    recipe.translate_file(root / "model", data / "tok" / "test.zh", hyp)
    return data, root / "model", hyp, info


def test_training_record(trained):
    _, model, _, info = trained
    assert info["train_pairs"] == 4000 and info["tune_items"] == 80 and info["aligner"] == "HMM"
    times = info["wall_times_s"]
    for phase in ("Training direct alignment model", "Generating phrase table", "Tuning translation model"):
        assert times[phase] > 0
    assert len(info["weights"]) == 8
    assert (model / "smt.cfg").read_text(encoding="utf-8").count("-tmw ") == 1  # tuned weights saved


def test_output_is_complete_plain_english_and_above_floor(trained):
    data, _, hyp, _ = trained
    sources = read_lines(data / "tok" / "test.zh")
    hyps = read_lines(hyp)
    assert len(hyps) == len(sources) == 150
    assert all(h.strip() for s, h in zip(sources, hyps) if s.strip())
    assert not any(" ." in h or " ," in h or "&apos;" in h for h in hyps)  # detokenized
    assert sum(h[:1].isupper() for h in hyps) > 0.8 * len(hyps)          # cased
    refs = load_reference_streams(data / "split", "test")
    bleu = BLEU().corpus_score(hyps, refs).score
    copy = BLEU().corpus_score(read_lines(data / "split" / "test.zh"), refs).score
    frequent = Counter(read_lines(data / "split" / "train.en")).most_common(1)[0][0]
    constant = BLEU().corpus_score([frequent] * len(hyps), refs).score
    assert bleu > max(5.0, copy + 3, constant + 3), (bleu, copy, constant)


def test_empty_input_lines_stay_empty(trained):
    _, model, _, _ = trained
    with PhraseBasedModel(model) as pb:
        out = pb.translate(["", "我爱你。", "   ", "汤姆在哪里？"])
    assert out[0] == "" and out[2] == "" and out[1] and out[3]


def test_a_sentence_longer_than_thot_takes_is_translated_in_pieces(trained):
    """Thot refuses sentences of more than 201 words (TED has some): they go in pieces of
    MAX_WORDS, whose translations are joined in order."""
    _, model, _, _ = trained
    short = ["我", "爱", "你", "。"]
    long = short * 120  # 480 words: pieces of 200, 200 and 80
    assert [len(p) for p in pieces(long)] == [200, 200, 80] and sum(pieces(long), []) == long
    with PhraseBasedModel(model) as pb:
        whole, *parts = pb.translate_tokens([long] + pieces(long))
    assert whole.split() == " ".join(parts).split() and len(whole.split()) > 100


def test_save_load_gives_same_output_and_cli_translates_raw_chinese(trained, tmp_path):
    data, model, hyp, _ = trained
    moved = tmp_path / "moved_model"
    shutil.copytree(model, moved)   # the folder is self-contained (relative paths in smt.cfg)
    shutil.rmtree(model.parent / "unused", ignore_errors=True)
    raw = data / "split" / "test.zh"
    proc = run_cli(["reencoder-baseline", "translate", "--model", moved], input=raw.read_text(encoding="utf-8"))
    assert proc.stdout.splitlines() == read_lines(hyp)


def test_user_errors(tmp_path):
    with pytest.raises(EvalError, match="not a trained phrase-based model"):
        PhraseBasedModel(tmp_path)
    with pytest.raises(EvalError, match="no such directory"):
        recipe.train(tmp_path / "nodata", tmp_path / "m", progress=False)
    proc = run_cli(["reencoder-baseline", "translate", "--model", tmp_path], input="你好\n", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_unknown_words_back_off_to_known_parts():
    vocab = {"老", "房子", "。", "闹"}
    assert back_off(["老房子", "闹鬼", "。", "Tom", "齉齉"], vocab) == ["老", "房子", "闹", "鬼", "。", "Tom", "齉齉"]
    assert back_off(["老房子"], None) == ["老房子"]   # model folder without source.vocab
