"""Source reliance without a model: the shifted sources every sentence is scored with."""

import torch

from reencoder.source_reliance import shifted_sources


def test_shifted_sources_give_every_sentence_the_next_one():
    src = torch.tensor([[5, 6, 2], [7, 2, 1], [8, 9, 2]])
    shifted = shifted_sources({"src_tokens": src, "src_lengths": torch.tensor([3, 2, 3]), "x": 1}, 1)
    assert shifted["src_tokens"].tolist() == [[7, 2, 1], [8, 9, 2], [5, 6, 2]]
    assert shifted["src_lengths"].tolist() == [2, 3, 3] and shifted["x"] == 1
