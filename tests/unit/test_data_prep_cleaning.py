"""data_prep cleaning rules, normalisation and leak-free splits."""
from __future__ import annotations

import pytest

from data_prep.cleaning import RULES, clean, normalize, zh_length
from data_prep.errors import DataError
from data_prep.readers import TatoebaReader
from data_prep.split import leak_key, make_splits


@pytest.fixture(scope="module")
def tatoeba_clean(shared_data):
    pairs, report = clean(TatoebaReader(shared_data / "tatoeba-cmn-eng" / "cmn-eng.tsv"))
    return pairs, report


def test_normalize_full_width_controls_whitespace_and_t2s():
    assert normalize("ＡＢＣ１２３！？") == "ABC123!?"
    assert normalize("你好，世界！") == "你好,世界!"
    assert normalize("a\x00b\u200bc\ufeffd\x85") == "abcd"
    assert normalize("  Tom\tis\n here.  ") == "Tom is here."
    assert normalize("漢語很難學。", t2s=True) == "汉语很难学。"
    assert normalize("漢語很難學。") == "漢語很難學。"


def test_each_rule_removes_what_it_should():
    pairs = [
        ("你好。", "Hello."),                  # kept
        ("  ", "Empty Chinese."),             # empty
        ("你好。", "\x00\u200b"),              # empty after normalisation
        ("Hello.", "Hello."),                 # untranslated (identical)
        ("OK!", "OK!!"),                      # untranslated (no Han character)
        ("好" * 11, "Long."),                  # too_long (max_len=10)
        ("好" * 9, "One."),                    # length_ratio 9/1 > 4
        ("你好!", "Hello."),                   # kept: a different Chinese sentence
        ("你好。", "Hello."),                  # duplicate
        ("ＯＫ，走吧。", "OK, let's go."),       # kept (normalised)
        ("OK,走吧。", "OK, let's go."),         # duplicate after NFKC
    ]
    kept, report = clean(pairs, max_len=10, max_ratio=4)
    assert kept == [("你好。", "Hello."), ("你好!", "Hello."), ("OK,走吧。", "OK, let's go.")]
    assert report.removed == {"empty": 2, "untranslated": 2, "too_long": 1,
                              "length_ratio": 1, "duplicate": 2}
    assert list(report.removed) == list(RULES)
    assert report.input == len(pairs) and report.kept == 3
    assert report.input == report.kept + sum(report.removed.values())


def test_t2s_option_in_clean():
    kept, _ = clean([("這是書。", "This is a book.")], t2s=True)
    assert kept == [("这是书。", "This is a book.")]


def test_zh_length_counts_han_and_latin_runs():
    assert zh_length("汤姆是iPhone用户。") == 7  # 汤 姆 是 iPhone 用 户 。
    assert zh_length("我 爱 你") == 3


def test_clean_on_real_tatoeba(tatoeba_clean):
    pairs, report = tatoeba_clean
    assert report.input == 27780
    assert report.removed["duplicate"] > 0
    assert report.normalized_changed > 5000  # full-width Chinese punctuation
    assert len(set(pairs)) == len(pairs) == report.kept
    assert not any("，" in zh or "！" in zh for zh, _ in pairs)


def _assert_no_leak(splits):
    held = splits.dev + splits.test
    zh_held = {item.zh for item in held}
    en_held = {ref for item in held for ref in item.refs}
    assert not any(zh in zh_held or en in en_held for zh, en in splits.train)
    zh_keys = {leak_key(zh) for zh in zh_held}
    en_keys = {leak_key(en) for en in en_held}
    assert not any(leak_key(zh) in zh_keys or leak_key(en) in en_keys for zh, en in splits.train)
    dev_en = {leak_key(ref) for item in splits.dev for ref in item.refs}
    test_en = {leak_key(ref) for item in splits.test for ref in item.refs}
    assert not dev_en & test_en
    assert not {leak_key(i.zh) for i in splits.dev} & {leak_key(i.zh) for i in splits.test}


def test_split_is_leak_free_multi_reference_and_deterministic(tatoeba_clean):
    pairs, _ = tatoeba_clean
    splits = make_splits(pairs, dev_size=500, test_size=1000, seed=1)
    assert len(splits.dev) == 500 and len(splits.test) == 1000
    assert all(len(item.refs) >= 2 for item in splits.dev + splits.test)
    assert all(len(set(item.refs)) == len(item.refs) for item in splits.test)
    _assert_no_leak(splits)
    # every reference of a test item is a pair of the corpus for that Chinese sentence
    corpus = set(pairs)
    assert all((item.zh, ref) in corpus for item in splits.test for ref in item.refs)
    assert len(splits.train) + splits.stats["pairs_in_dev_test"] \
        + splits.stats["train_removed_for_overlap"] == len(pairs)
    again = make_splits(pairs, dev_size=500, test_size=1000, seed=1)
    assert again.test == splits.test and again.dev == splits.dev and again.train == splits.train
    other = make_splits(pairs, dev_size=500, test_size=1000, seed=2)
    assert other.test != splits.test
    _assert_no_leak(other)


def test_split_catches_near_duplicate_leaks():
    pairs = [("你好。", "Hello."), ("你好。", "Hi."), ("你好!", "Hello!"), ("谢谢。", "hello"),
             ("再见。", "Bye."), ("再见。", "Goodbye."), ("走吧。", "Let's go.")]
    splits = make_splits(pairs, dev_size=1, test_size=1, seed=0)
    assert {item.zh for item in splits.dev + splits.test} == {"你好。", "再见。"}
    # 你好! (same Chinese up to punctuation) and "hello" (same English up to case) are out
    assert splits.train == [("走吧。", "Let's go.")]


def test_split_needs_enough_multi_reference_groups():
    pairs = [("你好。", "Hello."), ("你好。", "Hi."), ("再见。", "Bye.")]
    with pytest.raises(DataError, match=r"only 1 Chinese sentences have >= 2 .*--min-refs 1"):
        make_splits(pairs, dev_size=1, test_size=1, seed=0)
    single = make_splits(pairs + [("走吧。", "Go.")], dev_size=1, test_size=1, seed=0, min_refs=1)
    assert len(single.dev) == len(single.test) == 1
