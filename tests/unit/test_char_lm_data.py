"""Character-level text of the Grid LSTM LM recipe (data_prep.char_lm), on real TED English text."""

import pytest

from data_prep import char_lm as char_lm_data


def test_char_tokens_round_trip():
    text = "Hi  there,\tit's  naïve — 3 $."
    tokens = char_lm_data.to_char_tokens(text)
    assert tokens == "H i ▁ t h e r e , ▁ i t ' s ▁ n a ï v e ▁ — ▁ 3 ▁ $ ."
    assert char_lm_data.from_char_tokens(tokens) == " ".join(text.split())
    assert char_lm_data.to_byte_tokens("aé") == "97 195 169"


def test_ted_split_is_talk_disjoint_and_deterministic(shared_data):
    splits = char_lm_data.ted_splits(shared_data)
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [4212, 887, 1261]
    assert splits == char_lm_data.ted_splits(shared_data)
    assert not any("&amp;" in line for lines in splits.values() for line in lines)  # entities unescaped


def test_enwik8_offline_gives_a_clear_error(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'LTCB/enwik8' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(char_lm_data.CorpusUnavailable, match="enwik8 needs internet"):
        char_lm_data.enwik8_splits()
