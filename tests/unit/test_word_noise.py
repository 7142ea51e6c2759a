"""Target-side word noise (``--target-word-noise``): which words are replaced, by what, how often,
and that the decoder applies it in training only."""

from argparse import Namespace

import pytest
import torch
from fairseq.data import Dictionary

from reencoder.models import reencoder
from reencoder.models.word_noise import replace_words

PAD, EOS, UNK, NSPECIAL, VOCAB = 1, 2, 3, 4, 50


def batch(seed=0, B=64, T=30):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(NSPECIAL, VOCAB, (B, T), generator=g)
    tokens[:, 0] = EOS
    tokens[:8, -5:] = PAD  # some padding
    return tokens


@pytest.mark.parametrize("kind", ["unk", "random"])
def test_replaces_about_p_of_the_real_words_and_never_the_start_or_padding(kind):
    tokens = batch()
    out = replace_words(tokens, 0.3, kind, UNK, PAD, NSPECIAL, VOCAB, torch.Generator().manual_seed(1))
    assert torch.equal(out[:, 0], tokens[:, 0]) and torch.equal(out == PAD, tokens == PAD)
    real = (tokens >= NSPECIAL)
    real[:, 0] = False
    changed = out != tokens
    assert not (changed & ~real).any()
    if kind == "unk":
        assert (out[changed] == UNK).all()
        rate = changed.sum().item() / real.sum().item()
    else:  # a random word may redraw the same one (1 in 46); the draws are real words
        assert ((out[changed] >= NSPECIAL) & (out[changed] < VOCAB)).all()
        rate = changed.sum().item() / real.sum().item() * (VOCAB - NSPECIAL) / (VOCAB - NSPECIAL - 1)
    assert abs(rate - 0.3) < 0.03  # ~1,800 real words: the rate's sd is 0.011, so about 3 sd


def test_zero_probability_and_bad_kind():
    tokens = batch()
    assert replace_words(tokens, 0.0, "unk", UNK, PAD, NSPECIAL, VOCAB) is tokens
    with pytest.raises(ValueError, match="word noise must be one of"):
        replace_words(tokens, 0.1, "shuffle", UNK, PAD, NSPECIAL, VOCAB)


def tiny_decoder(noise):
    d = Dictionary()
    for i in range(20):
        d.add_symbol(f"w{i}")
    args = Namespace(target_word_noise=noise, target_word_noise_kind="unk")
    reencoder.reencoder_tiny(args)
    return reencoder.ReencoderGridDecoder(d, args), d


def encoder_out(B=1, S=5):
    return {"src_in": [torch.randn(B, S, 16)], "src_lengths": [torch.full((B,), S)]}


def test_the_decoder_reads_noisy_words_in_training_only():
    torch.manual_seed(0)
    dec, d = tiny_decoder(1.0)  # every real word after the start becomes <unk>
    tokens = torch.tensor([[d.eos(), 5, 6, 7]])
    unk = torch.tensor([[d.eos(), d.unk(), d.unk(), d.unk()]])
    enc = encoder_out()
    dec.train()
    dec.dropout.p = 0.0
    assert torch.equal(dec(tokens, enc)[0], dec(unk, enc)[0])
    dec.eval()
    assert not torch.equal(dec(tokens, enc)[0], dec(unk, enc)[0])


def test_architectures_default_to_no_noise():
    args = Namespace()
    reencoder.reencoder_base(args)
    assert (args.target_word_noise, args.target_word_noise_kind) == (0.0, "unk")


def test_predicted_noise_feeds_the_decoders_own_guesses():
    """Kind ``predicted`` at p = 1: every real input word after the first is the decoder's most
    likely word at the position before it, from a pass over the teacher-forced words."""
    torch.manual_seed(0)
    dec, d = tiny_decoder(1.0)
    dec.word_noise = (1.0, "predicted")
    dec.train()  # reencoder_tiny has no dropout, so the first pass is deterministic
    B, S, T = 3, 5, 7
    enc = {"src_in": [torch.randn(B, S, 16)], "src_lengths": [torch.tensor([5, 4, 3])]}
    tokens = torch.randint(d.nspecial, len(d), (B, T))
    tokens[:, 0] = d.eos()
    with torch.no_grad():
        guess = dec.output_layer(dec.extract_features(tokens, enc)[0]).argmax(-1)
    out = dec.noisy(tokens, enc)
    assert torch.equal(out[:, 0], tokens[:, 0]) and torch.equal(out[:, 1:], guess[:, :-1])
    assert not torch.equal(out, tokens)  # an untrained decoder guesses wrong
    with pytest.raises(ValueError, match="needs the predicted ids"):
        replace_words(tokens, 0.5, "predicted", UNK, PAD, NSPECIAL, VOCAB)
