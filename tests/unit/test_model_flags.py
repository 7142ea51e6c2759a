"""The named architectures fill exactly the unset flags (fairseq's base_architecture convention),
with the sizes the README's table lists; a flag given on the command line always wins."""

from argparse import Namespace

import pytest

from reencoder.models import grid_lstm_lm, reencoder
from reencoder.models.flags import set_defaults

# arch: (grid hidden size, depth, encoder/decoder embedding, tied output, readout, dropout)
NAMED = {
    "reencoder_tiny": (16, 2, 16, False, "last", 0.0),
    "reencoder_paper": (128, 1, 128, True, "last", 0.1),
    "reencoder_base": (128, 1, 512, True, "attn", 0.1),
    "reencoder": (256, 2, 256, False, "attn", 0.2),
    "reencoder_big": (512, 4, 512, True, "attn", 0.3),
}
ARCH = {"reencoder": reencoder.base_architecture, "reencoder_tiny": reencoder.reencoder_tiny,
        "reencoder_paper": reencoder.reencoder_paper, "reencoder_base": reencoder.reencoder_base,
        "reencoder_big": reencoder.reencoder_big}


@pytest.mark.parametrize("name", list(NAMED))
def test_named_architectures_have_the_documented_sizes(name):
    args = Namespace()
    ARCH[name](args)
    hidden, depth, embed, tied, readout, dropout = NAMED[name]
    assert (args.grid_hidden_size, args.grid_depth, args.encoder_embed_dim, args.decoder_embed_dim) == (
        hidden, depth, embed, embed)
    assert args.decoder_out_embed_dim == embed and args.share_decoder_input_output_embed is tied
    assert (args.grid_readout, args.dropout, args.grid_depth_dropout) == (readout, dropout, dropout)
    assert (args.grid_source_order, args.grid_source_input, args.grid_cell) == ("reverse", "embed", "standard")
    assert args.max_source_positions == args.max_target_positions == 1024
    # the demo's cell: tied source/target gates (§3.4) and a tanh depth dimension (§3.6); the rest the paper's LSTM
    cheap = name == "reencoder_base"
    assert (args.grid_tied_dims, args.grid_depth_transform) == (cheap, "tanh" if cheap else "lstm")


def test_given_flags_win_and_derived_defaults_follow_them():
    args = Namespace(grid_hidden_size=8, decoder_embed_dim=64, dropout=0.3, grid_readout="max")
    reencoder.reencoder_base(args)
    assert (args.grid_hidden_size, args.decoder_embed_dim, args.grid_readout) == (8, 64, "max")
    assert args.decoder_out_embed_dim == 64 and args.grid_depth_dropout == 0.3
    assert args.encoder_embed_dim == 512


def test_language_model_architectures():
    tied = Namespace()
    grid_lstm_lm.grid_lstm_lm_tied(tied)
    assert (tied.grid_shared_depth, tied.grid_depth, tied.grid_hidden_size) == (True, 3, 128)
    tiny = Namespace(grid_depth=5)
    grid_lstm_lm.grid_lstm_lm_tiny(tiny)
    assert (tiny.grid_hidden_size, tiny.decoder_embed_dim, tiny.decoder_out_embed_dim, tiny.grid_depth) == (16, 16, 16, 5)


def test_set_defaults_keeps_values_already_set_even_none():
    args = Namespace(a=None)
    set_defaults(args, a=1, b=2)
    assert (args.a, args.b) == (None, 2)


@pytest.mark.parametrize("name, output_init", [("reencoder", 0.1), ("reencoder_paper", 0.1)])
def test_lstm_depth_conditioning_defaults_of_the_translation_models(name, output_init):
    """The translation models keep the block's original initialisation until the fix is measured
    on translation; the language models take it (RESULTS, "The LSTM depth")."""
    args = Namespace()
    ARCH[name](args)
    assert (args.grid_depth_gate_bias, args.decoder_output_init) == (0.0, output_init)


@pytest.mark.parametrize("arch", [grid_lstm_lm.base_architecture, grid_lstm_lm.grid_lstm_lm_tiny,
                                  grid_lstm_lm.grid_lstm_lm_tied])
def test_language_models_start_their_output_layer_wider(arch):
    args = Namespace()
    arch(args)
    assert (args.grid_depth_gate_bias, args.decoder_output_init) == (2.0, 0.4)
    given = Namespace(decoder_output_init=0.1)
    arch(given)
    assert given.decoder_output_init == 0.1
