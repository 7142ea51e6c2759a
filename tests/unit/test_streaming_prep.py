"""The pieces of the streaming preparation (``reencoder-data --tvsub``): the training pass with
its per-rule, duplicate and dev/test-overlap counts, the reservoir sample, the ordered worker
pool, streamed line writing, and the CLI's argument rules."""
from __future__ import annotations

import os
from collections import Counter

import pytest

from data_prep import chunked, cli, spm_binarize, subwords
from data_prep.cleaning import PairCleaner, clean, pair_key
from data_prep.foundation import line_writer
from data_prep.readers import Reader
from data_prep.sampling import Reservoir
from data_prep.split import HeldOut, Item
from data_prep.streaming import stream_train
from tests.helpers import lines


class ListReader(Reader):
    kind = "list"

    def __init__(self, pairs):
        self._pairs = pairs

    def pairs(self):
        yield from self._pairs

    def describe(self):
        return {"kind": self.kind}


HELD = HeldOut.of([Item("罗斯,谢谢", ("ross , thank you .", "thank you ."))],
                  extra_en=["Did it go okay?"])
PAIRS = [
    ("你好。", "Hello."),                  # kept
    ("你好。", "Hello."),                  # duplicate
    ("ＯＫ，走吧。", "OK, let's go."),       # kept (normalised)
    ("OK,走吧。", "OK, let's go."),         # duplicate after NFKC
    ("", "Nothing."),                      # empty
    ("Hi", "Hi"),                          # untranslated
    ("好" * 30, "Yes."),                    # length_ratio (30 / 1 > 9)
    ("谢谢你。", "Thank you!"),             # overlap: English matches a test reference
    ("罗斯 , 谢谢 !", "Ross, thanks a lot."),  # overlap: Chinese matches a test source
    ("一切顺利吗", "Did it go OK?"),          # kept: "ok" is not "okay"
    ("一切顺利吗?", "did it go okay ?"),      # overlap: matches a target line
    ("谢谢你。", "Thank you!"),             # duplicate (counted before overlap)
]


def test_stream_train_counts_every_removal_once(tmp_path):
    sample = Reservoir(100, seed=1)
    result = stream_train(ListReader(PAIRS), tmp_path, PairCleaner(), HELD, sample)
    kept = [("你好。", "Hello."), ("OK,走吧。", "OK, let's go."), ("一切顺利吗", "Did it go OK?")]
    assert list(zip(lines(tmp_path / "train.zh"), lines(tmp_path / "train.en"))) == kept
    assert result.report.removed == {"empty": 1, "untranslated": 1, "too_long": 0,
                                     "length_ratio": 1, "duplicate": 3}
    assert result.removed_for_overlap == 3
    assert result.read == len(PAIRS) == (result.kept + result.removed_for_overlap
                                         + sum(result.report.removed.values()))
    assert result.report.kept == result.kept + result.removed_for_overlap
    assert result.sample == kept


def test_streamed_cleaning_equals_the_in_memory_one():
    cleaner = PairCleaner(max_ratio=4)
    streamed = [pair for raw in PAIRS if (pair := cleaner(*raw)) is not None]
    kept, report = clean(PAIRS, max_ratio=4)
    assert streamed == kept and cleaner.report.to_dict() == report.to_dict()
    assert pair_key("a", "b") != pair_key("a b", "") and pair_key("x", "y") == pair_key("x", "y")


def test_reservoir_is_bounded_seeded_and_uniform():
    first, second = Reservoir(10, seed=3), Reservoir(10, seed=3)
    for number in range(1000):
        first.add(number)
        second.add(number)
    assert first.items == second.items and len(first.items) == 10 and first.seen == 1000
    assert first.items == sorted(first.items)  # stream order
    assert max(first.items) > 500  # late items get in
    small = Reservoir(10, seed=3)
    for number in range(4):
        small.add(number)
    assert small.items == [0, 1, 2, 3]
    hits = Counter()
    for seed in range(400):
        sample = Reservoir(5, seed)
        for number in range(20):
            sample.add(number)
        hits.update(sample.items)
    assert min(hits.values()) > 60 and max(hits.values()) < 140  # expected 100 each


def double_and_pid(chunk):
    return [(2 * x, os.getpid()) for x in chunk]


def explode(chunk):
    raise RuntimeError(f"bad chunk starting at {chunk[0]}")


def test_map_chunks_keeps_order_on_two_workers():
    results = [row for chunk in chunked.map_chunks(double_and_pid, range(1000), 2, 37)
               for row in chunk]
    assert [value for value, _ in results] == [2 * x for x in range(1000)]
    assert os.getpid() not in {pid for _, pid in results}
    inline = list(chunked.map_chunks(double_and_pid, range(5), 1, 2))
    assert [len(chunk) for chunk in inline] == [2, 2, 1] and inline[0][0][1] == os.getpid()
    with pytest.raises(RuntimeError, match="bad chunk starting at 0"):
        list(chunked.map_chunks(explode, range(100), 2, 10))


def test_line_writer_streams_counts_and_is_atomic(tmp_path):
    path = tmp_path / "out.txt"
    with line_writer(path) as out:
        out.write("a")
        out.write("b")
        assert not path.exists()
    assert path.read_text() == "a\nb\n" and out.count == 2
    with pytest.raises(ValueError, match="line 2 contains a newline"):
        with line_writer(path) as out:
            out.write("new")
            out.write("x\ny")
    assert path.read_text() == "a\nb\n" and os.listdir(tmp_path) == ["out.txt"]


def test_encode_and_binarize_in_one_pass(tmp_path):
    from fairseq.data import Dictionary, data_utils

    sentences = ["Hi.", "Run!", "Who?", "Wow!", "Hello there, Tom.", "Zürich ∑"] * 50
    (tmp_path / "train.en").write_text("\n".join(sentences[6:]) + "\n", encoding="utf-8")
    model = subwords.train(tmp_path / "train.en", tmp_path / "spm", 40, 1.0)
    sentences[5] = "Zürich ∂"  # a character the model has never seen
    id_counts = spm_binarize.encode_and_binarize(model, iter(sentences), tmp_path / "enc.en",
                                                 tmp_path / "bin" / "train.zh-en.en",
                                                 chunk_lines=7)
    encoded = lines(tmp_path / "enc.en")
    assert encoded == subwords.encode_lines(model, sentences)
    counts = spm_binarize.piece_counts(model, id_counts)
    assert counts["<unk>"] == 1 and "∂" in encoded[5].split()  # text keeps the surface
    # the dictionary is the one the encoded text gives
    subwords.write_fairseq_dict_counts(model, counts, tmp_path / "dict.en.txt")
    subwords.write_fairseq_dict(model, encoded, tmp_path / "dict.text.txt")
    assert (tmp_path / "dict.en.txt").read_text() == (tmp_path / "dict.text.txt").read_text()
    dictionary = Dictionary.load(str(tmp_path / "dict.en.txt"))
    dataset = data_utils.load_indexed_dataset(str(tmp_path / "bin" / "train.zh-en.en"),
                                              dictionary)
    assert len(dataset) == len(sentences)
    for number in (0, 5, 299):
        expected = dictionary.encode_line(encoded[number], add_if_not_exist=False)
        assert dataset[number].tolist() == expected.tolist()
    assert dictionary.unk() in dataset[5].tolist()


@pytest.mark.parametrize("extra", [["--tatoeba", "x.tsv"], ["--eval-only"],
                                   ["--parallel", "a", "b"]])
def test_cli_tvsub_is_a_mode_of_its_own(tmp_path, capsys, extra):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--tvsub", str(tmp_path), "--out", str(tmp_path / "out"), *extra])
    assert caught.value.code == 2
    assert "--tvsub cannot be combined" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
