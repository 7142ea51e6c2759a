"""The scorer on inputs checked by hand: multi-reference BLEU, bootstrap, length buckets."""
from __future__ import annotations

import math

import pytest
from sacrebleu.metrics import BLEU

from data_prep.references import load_reference_streams, reference_count
from eval.scoring import bleu_by_bucket, bucket_labels, evaluate, length_buckets

HYP = "the quick brown fox jumps over the dog"
REF1 = "the quick brown fox jumped over the lazy dog"
REF2 = "a quick brown fox jumps over the dog"


def write_set(root, zh, refs, hyps=None):
    """A split folder: test.zh, test.en.K (one list per reference file) and hypothesis files."""
    (root / "test.zh").write_text("".join(z + "\n" for z in zh), encoding="utf-8")
    for k, stream in enumerate(refs):
        (root / f"test.en.{k}").write_text("".join(r + "\n" for r in stream), encoding="utf-8")
    paths = {}
    for name, lines in (hyps or {}).items():
        paths[name] = root / f"{name}.txt"
        paths[name].write_text("".join(h + "\n" for h in lines), encoding="utf-8")
    return paths


def test_single_reference_bleu_matches_hand_count(tmp_path):
    # Hand count of HYP against REF1 (13a leaves these lowercase words as they are):
    #   1-grams: the x2, quick, brown, fox, over, dog match; "jumps" does not   -> 7/8
    #   2-grams: the quick, quick brown, brown fox, over the                   -> 4/7
    #   3-grams: the quick brown, quick brown fox                              -> 2/6
    #   4-grams: the quick brown fox                                           -> 1/5
    #   brevity: hyp 8 words, ref 9 words -> BP = exp(1 - 9/8)
    expected = 100 * math.exp(1 - 9 / 8) * (7 / 8 * 4 / 7 * 2 / 6 * 1 / 5) ** 0.25
    assert round(expected, 2) == 37.71
    # our scorer (reencoder-eval's evaluate) on a one-line set gives exactly that
    paths = write_set(tmp_path, ["狐狸跳过了狗"], [[REF1]], {"sys": [HYP]})
    ev = evaluate(paths, tmp_path, "test")
    (system,) = ev.systems
    assert system.bleu == 37.71 and system.buckets == {"1-6": 37.71}
    assert "37.71 87.5/57.1/33.3/20.0 (BP = 0.882" in system.bleu_detail  # precisions 7/8, 4/7, 2/6, 1/5
    assert ev.n_lines == 1 and ev.n_refs == 1 and "nrefs:1" in ev.bleu_signature


def test_second_reference_raises_bleu_to_100(tmp_path):
    # With REF2 every n-gram of HYP is in one of the references (counts clipped by the max
    # over references): 8/8, 7/7, 6/6, 5/5; the closest reference length is REF2's 8 -> BP 1.
    write_set(tmp_path, ["狐狸"], [[REF1], [REF2]])
    refs = load_reference_streams(tmp_path, "test")
    score = BLEU().corpus_score([HYP], refs)
    assert score.counts == [8, 7, 6, 5] and score.bp == 1.0
    assert score.score == pytest.approx(100.0)


def test_empty_reference_lines_are_absent_not_empty_strings(tmp_path):
    write_set(tmp_path, ["一", "二"], [[REF1, REF2], ["", REF1]])
    refs = load_reference_streams(tmp_path, "test")
    assert refs == [[REF1, REF2], [None, REF1]]
    assert reference_count(refs) == [1, 2]
    # sacrebleu's API would count "" as a 0-word reference; None is skipped
    short = "the quick"
    with_none = BLEU().corpus_score([short], [[REF1], [None]])
    with_empty = BLEU().corpus_score([short], [[REF1], [""]])
    assert with_none.ref_len == 9 and with_empty.ref_len == 0


def test_length_buckets_count_source_characters():
    assert bucket_labels((6, 8)) == ["1-6", "7-8", "9+"]
    sources = ["我爱你", "我 很 喜欢 你们 啊", "这是一个很长的句子", "一二三四五六七八九十"]
    # 3 chars, 7 chars (spaces not counted), 9 chars, 10 chars
    assert length_buckets(sources, (6, 8)) == ["1-6", "7-8", "9+", "9+"]
    hyps = [HYP, HYP, "x", HYP]
    refs = [[REF2, REF1, "y", REF2]]
    scores = bleu_by_bucket(hyps, refs, length_buckets(sources, (6, 8)))
    assert list(scores) == ["1-6", "7-8", "9+"]
    # 1-6: HYP vs REF2 alone: 7/8, 6/7, 5/6, 4/5 (only "the"/"a" differs), same length
    assert scores["1-6"] == pytest.approx(100 * (7 / 8 * 6 / 7 * 5 / 6 * 4 / 5) ** 0.25, abs=0.01)
    assert scores["7-8"] == pytest.approx(37.71, abs=0.01)  # HYP vs REF1, as counted above


@pytest.fixture
def three_systems(tmp_path, shared_data):
    """Real Tatoeba sentences: references, a perfect system, a degraded one, and a copy."""
    lines = (shared_data / "tatoeba-cmn-eng" / "cmn-eng.tsv").read_text(encoding="utf-8").splitlines()[3000:3200]
    en = [l.split("\t")[0] for l in lines]
    zh = [l.split("\t")[1] for l in lines]
    degraded = [" ".join(s.split()[:-1]) if i % 2 else s for i, s in enumerate(en)]
    almost = list(en)
    almost[0] = "Something else entirely."
    paths = write_set(tmp_path, zh, [en, [""] * len(en)],
                      {"good": en, "degraded": degraded, "almost": almost})
    return tmp_path, paths


def test_paired_bootstrap_p_values_and_cis(three_systems):
    root, paths = three_systems
    ev = evaluate({"good": paths["good"], "degraded": paths["degraded"], "same": paths["good"],
                   "almost": paths["almost"]}, root, "test", baseline="good")
    by = {s.name: s for s in ev.systems}
    assert [s.name for s in ev.systems] == ["good", "degraded", "same", "almost"]
    assert by["good"].bleu == 100.0 and by["good"].p_bleu is None
    assert by["degraded"].bleu < by["good"].bleu
    for s in ev.systems:
        assert 0 <= s.bleu_ci <= 100 and 0 <= s.chrf_ci <= 100
        assert s.bleu_mean - 3 * s.bleu_ci - 1 <= s.bleu <= s.bleu_mean + 3 * s.bleu_ci + 1
    assert 0 < by["degraded"].p_bleu < 0.05          # half the sentences lose a word
    assert by["same"].p_bleu == 1.0 and by["same"].p_chrf == 1.0
    assert by["almost"].p_bleu > 0.05                # one sentence of 200 differs
    assert "nrefs:1" in ev.bleu_signature and "bs:1000" in ev.bleu_signature
    assert "seed:12345" in ev.bleu_signature
    assert sum(ev.bucket_sizes.values()) == ev.n_lines == 200
