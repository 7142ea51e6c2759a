"""The named architectures fill exactly the unset flags (fairseq's base_architecture convention),
with the sizes the README's table lists; a flag given on the command line always wins."""

import argparse
import warnings
from argparse import Namespace
from types import SimpleNamespace

import pytest
import torch
from fairseq.data import Dictionary

from reencoder.models import grid_lstm_lm, reencoder
from reencoder.models.flags import add_grid_args, set_defaults

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
    # the demo's cell: one weight matrix shared by source and target (§3.4) and a tanh depth dimension (§3.6);
    # the rest the paper's LSTM
    cheap = name == "reencoder_base"
    assert (args.grid_shared_dims, args.grid_depth_transform) == (cheap, "tanh" if cheap else "lstm")
    # bf16: the grid's GEMMs where native; the output layer's backward and its forward's inputs (fp32
    # sums) too for the demo's model only
    assert (args.grid_bf16, args.output_layer_bf16) == ("never" if name == "reencoder_tiny" else "auto", "never")
    assert args.output_layer_bf16_grads == args.output_layer_bf16_inputs == ("auto" if cheap else "never")
    # the demo's readout also pools the source words (a lexical path)
    assert args.grid_readout_source_words is cheap


def test_given_flags_win_and_derived_defaults_follow_them():
    args = Namespace(grid_hidden_size=8, decoder_embed_dim=64, dropout=0.3, grid_readout="max")
    reencoder.reencoder_base(args)
    assert (args.grid_hidden_size, args.decoder_embed_dim, args.grid_readout) == (8, 64, "max")
    assert args.decoder_out_embed_dim == 64 and args.grid_depth_dropout == 0.3
    assert args.encoder_embed_dim == 512


def test_language_model_architectures():
    tied = Namespace()
    grid_lstm_lm.grid_lstm_lm_tied(tied)
    assert (tied.grid_tied_depth, tied.grid_depth, tied.grid_hidden_size) == (True, 3, 128)
    assert not hasattr(tied, "grid_shared_depth")  # the old name, read and dropped
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


# One meaning per name: the old spellings and stored values of the renamed flags (see reencoder.models.flags).
OLD_AND_NEW = [
    (["--grid-tied-dims"], {"grid_shared_dims": True}),
    (["--grid-untied-dims"], {"grid_shared_dims": False}),
    (["--grid-shared-depth"], {"grid_tied_depth": True}),
    (["--grid-cell", "paper"], {"grid_cell": "gate-then-tanh"}),
]


def grid_parser():
    """The grid flags as fairseq adds a model's: unset flags stay unset (``argparse.SUPPRESS``)."""
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    add_grid_args(parser)
    return parser


@pytest.mark.parametrize("old, parsed", OLD_AND_NEW)
def test_old_spellings_still_parse_with_a_deprecation_warning(old, parsed):
    with pytest.warns(FutureWarning, match=f"{' '.join(old)} is deprecated"):
        assert vars(grid_parser().parse_args(old)) == parsed


def test_new_spellings_parse_silently_and_bf16_autocast_is_gone(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        args = grid_parser().parse_args(["--grid-shared-dims", "--grid-tied-depth", "--grid-cell", "gate-then-tanh"])
    assert vars(args) == {"grid_shared_dims": True, "grid_tied_depth": True, "grid_cell": "gate-then-tanh"}
    assert vars(grid_parser().parse_args(["--grid-unshared-dims"])) == {"grid_shared_dims": False}
    with pytest.raises(SystemExit):
        grid_parser().parse_args(["--grid-bf16-autocast"])
    assert "unrecognized arguments: --grid-bf16-autocast" in capsys.readouterr().err


def test_a_flag_given_on_the_command_line_wins_over_an_architectures_old_name():
    """An architecture that still sets the old name fills the new one only where it is unset."""
    args = Namespace(grid_shared_dims=False, grid_tied_dims=True)  # --grid-unshared-dims; an arch's old default
    reencoder.base_architecture(args)
    assert args.grid_shared_dims is False and not hasattr(args, "grid_tied_dims")


def tiny_args(**flags):
    """A checkpoint's stored model args: reencoder_tiny with ``flags``."""
    args = Namespace(arch="reencoder_tiny", **flags)
    reencoder.reencoder_tiny(args)
    return args


def tiny_dictionary():
    dictionary = Dictionary()
    for word in "我 们 we go".split():
        dictionary.add_symbol(word)
    return dictionary


def built(args, seed=0):
    dictionary = tiny_dictionary()
    torch.manual_seed(seed)
    return reencoder.ReencoderModel.build_model(args, SimpleNamespace(source_dictionary=dictionary,
                                                                      target_dictionary=dictionary))


def test_stored_old_names_and_values_build_the_identical_model():
    old = tiny_args(grid_cell="paper", grid_tied_dims=True, grid_shared_depth=True, grid_bf16_autocast=False)
    new = tiny_args(grid_cell="gate-then-tanh", grid_shared_dims=True, grid_tied_depth=True)
    assert vars(old) == vars(new)  # renamed, and the removed grid_bf16_autocast dropped
    a, b = built(old), built(new)
    assert repr(a) == repr(b)
    assert [(k, v.shape) for k, v in a.state_dict().items()] == [(k, v.shape) for k, v in b.state_dict().items()]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    grid = a.decoder.grid
    assert len(grid.blocks) == 1 and grid.blocks[0].cell == "gate-then-tanh"
    # the old names really change the model: a block per depth layer and per-dimension weights have more parameters
    plain = built(tiny_args())
    assert sum(p.numel() for p in plain.parameters()) > sum(p.numel() for p in a.parameters())


def test_a_checkpoint_with_the_old_names_loads_through_fairseq(tmp_path):
    """A checkpoint written before the renames (grid_cell='paper', grid_tied_dims=True,
    grid_shared_depth=True, grid_bf16_autocast=True in its stored args) loads with fairseq's own
    loader, strictly, into the same model."""
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from omegaconf import OmegaConf

    from reencoder.loading import build_model, load_checkpoint_models

    for lang in ("zh", "en"):
        tiny_dictionary().save(str(tmp_path / f"dict.{lang}.txt"))
    args, _, model = build_model([tmp_path, "--arch", "reencoder_tiny", "--task", "translation", "-s", "zh", "-t", "en",
                                  "--cpu", "--grid-shared-dims", "--grid-tied-depth", "--grid-cell", "gate-then-tanh"],
                                 seed=0)
    cfg = OmegaConf.to_container(convert_namespace_to_omegaconf(args), resolve=True, enum_to_str=True)
    stored = cfg["model"]  # an argparse Namespace, as fairseq-train stores it
    stored.grid_tied_dims, stored.grid_shared_depth = stored.grid_shared_dims, stored.grid_tied_depth
    del stored.grid_shared_dims, stored.grid_tied_depth
    stored.grid_cell, stored.grid_bf16_autocast = "paper", True
    history = [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "Adam", "lr_scheduler_state": {},
                "num_updates": 0}]
    torch.save({"args": None, "cfg": cfg, "model": model.state_dict(), "criterion": None,
                "optimizer_history": history, "task_state": {}, "extra_state": {}}, tmp_path / "old.pt")
    (loaded,), _ = load_checkpoint_models(tmp_path / "old.pt", tmp_path)
    assert repr(loaded) == repr(model.eval())
    assert all(torch.equal(x, y) for x, y in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_a_checkpoint_saved_before_the_source_words_readout_loads_as_it_was(tmp_path):
    """reencoder_base now pools the source words in its readout; a checkpoint saved before (its
    stored args without the flag) loads through fairseq, strictly, with zero weights for them, and
    computes exactly what the saved model computed."""
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from omegaconf import OmegaConf

    from reencoder.loading import build_model, load_checkpoint_models

    for lang in ("zh", "en"):
        tiny_dictionary().save(str(tmp_path / f"dict.{lang}.txt"))
    small = ["--grid-hidden-size", "8", "--encoder-embed-dim", "12", "--decoder-embed-dim", "8"]
    argv = [tmp_path, "--arch", "reencoder_base", "--task", "translation", "-s", "zh", "-t", "en", "--cpu", *small]
    new_args, _, new_model = build_model(argv, seed=0)
    assert new_args.grid_readout_source_words and new_model.decoder.readout.source_size == 12  # the source embedding
    old = Namespace(arch="reencoder_base", grid_readout_source_words=False, grid_hidden_size=8, encoder_embed_dim=12,
                    decoder_embed_dim=8)
    reencoder.reencoder_base(old)
    old_model = built(old)
    assert old_model.decoder.readout.source_size == 0
    cfg = OmegaConf.to_container(convert_namespace_to_omegaconf(new_args), resolve=True, enum_to_str=True)
    del cfg["model"].grid_readout_source_words  # stored before the flag existed
    history = [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "Adam", "lr_scheduler_state": {},
                "num_updates": 0}]
    torch.save({"args": None, "cfg": cfg, "model": old_model.state_dict(), "criterion": None,
                "optimizer_history": history, "task_state": {}, "extra_state": {}}, tmp_path / "old.pt")
    (loaded,), _ = load_checkpoint_models(tmp_path / "old.pt", tmp_path)
    assert loaded.decoder.readout.source_size == 12
    assert not loaded.decoder.readout.out.weight[:, -12:].any()
    src, prev = torch.tensor([[4, 5, 2], [5, 2, 1]]), torch.tensor([[2, 6, 7], [2, 7, 1]])
    old_model.eval()
    with torch.no_grad():
        want, _ = old_model(src, torch.tensor([3, 2]), prev)
        got, _ = loaded(src, torch.tensor([3, 2]), prev)
    torch.testing.assert_close(got, want)
    loaded.decoder.readout.out.weight.data[:, -12:] = 1.0  # the new part really is read
    with torch.no_grad():
        assert not torch.allclose(loaded(src, torch.tensor([3, 2]), prev)[0], want)
