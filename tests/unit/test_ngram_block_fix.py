"""``--no-repeat-ngram-size`` blocks n-grams of the generated tokens (reencoder.ngram_block_fix)."""

import math

import torch
from fairseq.ngram_repeat_block import NGramRepeatBlock

import reencoder  # noqa: F401  (installs the fix, as --user-dir reencoder does)
from reencoder.ngram_block_fix import banned_tokens

PAD = 1


def buffer(generated, length=12):
    """fairseq's token buffer: the tokens so far, then padding to the maximum length."""
    return torch.tensor([generated + [PAD] * (length - len(generated))])


def blocked(n, generated, vocab=20):
    block = NGramRepeatBlock(n, use_extension=False)
    lprobs = torch.zeros(1, vocab)
    out = block(buffer(generated), lprobs, bsz=1, step=len(generated) - 1, beam_size=1)
    return sorted(torch.nonzero(out[0] == -math.inf).flatten().tolist())


def test_a_repeated_bigram_is_blocked_in_a_padded_buffer():
    # "2 5 6 7 5": after 5 came 6, so 6 may not follow 5 again
    assert blocked(2, [2, 5, 6, 7, 5]) == [6]
    # trigram: "5 6" was followed by 7
    assert blocked(3, [2, 5, 6, 7, 9, 5, 6]) == [7]
    assert blocked(3, [2, 5, 6, 7, 9, 6, 5]) == []


def test_unigram_blocking_bans_every_earlier_token():
    assert blocked(1, [2, 5, 6, 7]) == [2, 5, 6, 7]


def test_nothing_is_blocked_before_an_ngram_fits():
    assert blocked(3, [2, 5]) == []
    assert banned_tokens([2], 2, 0) == []


def test_banned_tokens_reads_only_the_tokens_so_far():
    row = [2, 5, 6, 5, PAD, PAD, 5, 8]  # what lies past step 3 is not generated yet
    assert banned_tokens(row, 2, 3) == [6]
