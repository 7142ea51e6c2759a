"""The synthetic copy/reverse generator (data_prep/synthetic.py): lengths, held-out sequences never in
train, reverse reversed, seeded, one-line errors."""

import pytest

from data_prep.synthetic import Settings, main, make_splits, space_size


def test_lengths_symbols_and_held_out_sequences():
    s = Settings("copy", seed=3, train=3000, valid=100, test=200, min_len=3, max_len=15, symbols=30)
    splits = make_splits(s)
    assert {k: len(v) for k, v in splits.items()} == {"train": 3000, "valid": 100, "test": 200}
    sources = {k: [src for src, _ in v] for k, v in splits.items()}
    every = [seq for seqs in sources.values() for seq in seqs]
    assert {len(seq) for seq in every} == set(range(3, 16))  # every length occurs, none outside
    assert {tok for seq in every for tok in seq} == {f"s{i}" for i in range(30)}
    assert len(set(every)) == len(every)  # all distinct: no held-out sequence is in train
    assert all(src == tgt for src, tgt in splits["train"])


def test_reverse_is_reversed_and_shares_the_sources_of_copy():
    copy, reverse = (make_splits(Settings(task, seed=5, train=500, valid=20, test=20)) for task in ("copy", "reverse"))
    for split in copy:
        assert [src for src, _ in copy[split]] == [src for src, _ in reverse[split]]
        assert all(tgt == src[::-1] for src, tgt in reverse[split])


def test_deterministic_with_seed():
    s = Settings("reverse", seed=7, train=300, valid=10, test=10)
    assert make_splits(s) == make_splits(s)
    assert make_splits(s) != make_splits(Settings("reverse", seed=8, train=300, valid=10, test=10))


def test_short_sequences_never_leak_into_train():
    """A small space (lengths 1-3 over 3 symbols: 39 sequences), drawn up to half full: held-out
    sequences still never reappear in train."""
    s = Settings("copy", seed=1, train=9, valid=5, test=5, min_len=1, max_len=3, symbols=3)
    assert space_size(s) == 39
    splits = make_splits(s)
    held_out = {src for split in ("valid", "test") for src, _ in splits[split]}
    assert held_out.isdisjoint(src for src, _ in splits["train"]) and len(held_out) == 10


@pytest.mark.parametrize("args, message", [
    (["--max-len", "2"], "error: max-len (2) is below min-len (3)"),
    (["--symbols", "0"], "error: symbols must be at least 1, got 0"),
    (["--symbols", "2", "--max-len", "4", "--train", "20"],
     "error: 40 distinct examples asked for, but only 24 sequences of 3-4 symbols over 2 exist "
     "(at most half of them can be drawn)"),
])
def test_bad_settings_are_one_error_line(tmp_path, capsys, args, message):
    assert main(["--task", "copy", "--out", str(tmp_path / "d"), "--valid", "10", "--test", "10", *args]) == 2
    assert capsys.readouterr().err.strip() == message
    assert not (tmp_path / "d").exists()
