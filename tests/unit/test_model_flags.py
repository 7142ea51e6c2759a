"""The named architectures fill exactly the unset flags, each from one flat list, with the sizes
the README's table lists; a flag given on the command line always wins.  Checkpoints with older
flags: renamed ones load as today's, removed ones load where their value builds today's model
and otherwise fail in one line naming the flag and the last commit that had it."""

import argparse
from argparse import Namespace
from types import SimpleNamespace

import pytest
import torch
from fairseq.data import Dictionary
from fairseq.models import ARCH_CONFIG_REGISTRY

from reencoder.model_folder import ModelFolderError
from reencoder.models import grid_lstm_lm, reencoder
from reencoder.models.flags import LAST_COMMIT, REMOVED_FLAGS, set_defaults

# arch: (grid hidden size, depth, encoder/decoder embedding, shared input/output embeddings, readout, dropout)
NAMED = {
    "reencoder_tiny": (16, 2, 16, False, "last", 0.0),
    "reencoder_paper": (128, 1, 128, True, "last", 0.1),
    "reencoder_base": (128, 1, 512, True, "attn", 0.1),
    "reencoder": (256, 2, 256, False, "attn", 0.2),
    "reencoder_big": (512, 4, 512, True, "attn", 0.3),
}


def filled(name, /, **given):
    """The args fairseq's architecture function of ``name`` leaves from ``given``."""
    args = Namespace(**given)
    ARCH_CONFIG_REGISTRY[name](args)
    return args


@pytest.mark.parametrize("name", list(NAMED))
def test_named_architectures_have_the_documented_sizes(name):
    args = filled(name)
    hidden, depth, embed, shared_embed, readout, dropout = NAMED[name]
    assert (args.grid_hidden_size, args.grid_depth, args.encoder_embed_dim, args.decoder_embed_dim) == (
        hidden, depth, embed, embed)
    assert args.decoder_out_embed_dim == embed and args.share_decoder_input_output_embed is shared_embed
    assert (args.grid_readout, args.dropout) == (readout, dropout)
    assert (args.grid_source_order, args.grid_source_input, args.grid_cell) == ("reverse", "embed", "standard")
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


def model_flags(model_cls):
    """The dests of every flag a model's ``add_args`` declares."""
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    model_cls.add_args(parser)
    return {action.dest for action in parser._actions if action.dest != "help"}


@pytest.mark.parametrize("model_cls, architectures", [
    (reencoder.ReencoderModel, reencoder.ARCHITECTURES),
    (grid_lstm_lm.GridLSTMLanguageModel, grid_lstm_lm.ARCHITECTURES),
])
def test_each_architecture_lists_every_flag_of_its_model(model_cls, architectures):
    """One flat list per architecture, complete: every flag but the one derived from another
    (--decoder-out-embed-dim), and nothing that is not a flag."""
    flags = model_flags(model_cls)
    for name, defaults in architectures.items():
        assert set(defaults) == flags - {"decoder_out_embed_dim"}, name
        assert set(vars(filled(name))) == flags, name


def test_given_flags_win_and_derived_defaults_follow_them():
    args = filled("reencoder_base", grid_hidden_size=8, decoder_embed_dim=64, dropout=0.3, grid_readout="max")
    assert (args.grid_hidden_size, args.decoder_embed_dim, args.grid_readout, args.dropout) == (8, 64, "max", 0.3)
    assert args.decoder_out_embed_dim == 64
    assert args.encoder_embed_dim == 512


def test_language_model_architectures():
    tied = filled("grid_lstm_lm_tied")
    assert (tied.grid_tied_depth, tied.grid_depth, tied.grid_hidden_size) == (True, 3, 128)
    tiny = filled("grid_lstm_lm_tiny", grid_depth=5)
    assert (tiny.grid_hidden_size, tiny.decoder_embed_dim, tiny.decoder_out_embed_dim, tiny.grid_depth) == (16, 16, 16, 5)
    assert not filled("grid_lstm_lm").grid_tied_depth


def test_set_defaults_keeps_values_already_set_even_none():
    args = Namespace(a=None)
    set_defaults(args, a=1, b=2)
    assert (args.a, args.b) == (None, 2)


@pytest.mark.parametrize("name", list(NAMED))
def test_lstm_depth_conditioning_defaults_of_the_translation_models(name):
    """The translation models keep the block's original initialisation until the fix is measured
    on translation; the language models take it (RESULTS, "The LSTM depth")."""
    args = filled(name)
    assert (args.grid_depth_gate_bias, args.decoder_output_init) == (0.0, 0.1)


@pytest.mark.parametrize("arch", list(grid_lstm_lm.ARCHITECTURES))
def test_language_models_start_their_output_layer_wider(arch):
    args = filled(arch)
    assert (args.grid_depth_gate_bias, args.decoder_output_init) == (2.0, 0.4)
    assert filled(arch, decoder_output_init=0.1).decoder_output_init == 0.1


@pytest.mark.parametrize("old", [["--grid-tied-dims"], ["--grid-untied-dims"], ["--grid-shared-depth"],
                                 ["--grid-cell", "paper"], ["--grid-bf16-autocast"], ["--target-word-noise", "0.1"],
                                 ["--grid-target-input", "lstm"], ["--grid-depth-dropout", "0.1"]])
def test_old_and_removed_spellings_are_usage_errors(old, capsys):
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    reencoder.ReencoderModel.add_args(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(old)
    assert "error:" in capsys.readouterr().err


def test_new_spellings_parse():
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    reencoder.ReencoderModel.add_args(parser)
    args = parser.parse_args(["--grid-shared-dims", "--grid-tied-depth", "--grid-cell", "gate-then-tanh"])
    assert vars(args) == {"grid_shared_dims": True, "grid_tied_depth": True, "grid_cell": "gate-then-tanh"}
    assert vars(parser.parse_args(["--grid-unshared-dims"])) == {"grid_shared_dims": False}


def test_a_flag_given_on_the_command_line_wins_over_a_stored_old_name():
    args = filled("reencoder", grid_shared_dims=False, grid_tied_dims=True)
    assert args.grid_shared_dims is False and not hasattr(args, "grid_tied_dims")


def test_a_stored_old_name_wins_over_the_architectures_default():
    """A checkpoint's old name is upgraded before the architecture fills the unset flags."""
    args = filled("reencoder_base", grid_tied_dims=False)
    assert args.grid_shared_dims is False and not hasattr(args, "grid_tied_dims")


def tiny_args(**flags):
    """A checkpoint's stored model args: reencoder_tiny with ``flags``."""
    return filled("reencoder_tiny", arch="reencoder_tiny", **flags)


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


def same_model(a, b) -> bool:
    return repr(a) == repr(b) and [(k, v.shape) for k, v in a.state_dict().items()] == [
        (k, v.shape) for k, v in b.state_dict().items()] and all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_stored_old_names_and_values_build_the_identical_model():
    old = tiny_args(grid_cell="paper", grid_tied_dims=True, grid_shared_depth=True, grid_bf16_autocast=False)
    new = tiny_args(grid_cell="gate-then-tanh", grid_shared_dims=True, grid_tied_depth=True)
    assert vars(old) == vars(new)  # renamed, and the removed grid_bf16_autocast dropped
    a = built(old)
    assert same_model(a, built(new))
    grid = a.decoder.grid
    assert len(grid.blocks) == 1 and grid.blocks[0].cell == "gate-then-tanh"
    # the old names really change the model: a block per depth layer and per-dimension weights have more parameters
    plain = built(tiny_args())
    assert sum(p.numel() for p in plain.parameters()) > sum(p.numel() for p in a.parameters())


#: a checkpoint of 159fcb3 stored every removed flag; these values build today's model
REMOVED_AT_TODAYS_VALUES = dict(target_word_noise=0.0, target_word_noise_kind="unk", grid_readout_prev_word=False,
                                grid_target_input="embed", grid_target_lstm_size=None, grid_source_lstm_size=None,
                                grid_depth_dropout=0.0, grid_bf16_autocast=True)


def test_removed_flags_at_todays_values_are_dropped_and_build_the_identical_model():
    assert set(REMOVED_AT_TODAYS_VALUES) == set(REMOVED_FLAGS)
    old = tiny_args(**REMOVED_AT_TODAYS_VALUES)
    assert vars(old) == vars(tiny_args())
    assert same_model(built(old), built(tiny_args()))
    # the BiLSTM source input's width at today's (half the embedding), a target-LSTM size without the target LSTM
    bilstm = dict(grid_source_input="bilstm", grid_readout="attn")
    assert same_model(built(tiny_args(**bilstm, grid_source_lstm_size=8, grid_target_lstm_size=5)),
                      built(tiny_args(**bilstm)))


@pytest.mark.parametrize("stored, message", [
    (dict(grid_target_input="lstm", grid_target_lstm_size=5), "--grid-target-input lstm"),
    (dict(target_word_noise=0.1, target_word_noise_kind="random"), "--target-word-noise 0.1"),
    (dict(grid_readout_prev_word=True), "--grid-readout-prev-word"),
    (dict(grid_source_input="bilstm", grid_source_lstm_size=5), "--grid-source-lstm-size 5"),
    (dict(dropout=0.1, grid_depth_dropout=0.3), "--grid-depth-dropout 0.3"),
])
def test_removed_flags_at_other_values_are_one_line_naming_the_flag_and_the_commit(stored, message):
    with pytest.raises(ValueError) as error:
        filled("reencoder_tiny", **stored)
    assert str(error.value) == f"{message} was removed; the last commit with it is {LAST_COMMIT}"


def save_checkpoint(path, args, state_dict, edit):
    """A fairseq checkpoint of ``state_dict`` whose stored model args are ``args`` after ``edit(stored)``."""
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(convert_namespace_to_omegaconf(args), resolve=True, enum_to_str=True)
    edit(cfg["model"])  # an argparse Namespace, as fairseq-train stores it
    history = [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "Adam", "lr_scheduler_state": {},
                "num_updates": 0}]
    torch.save({"args": None, "cfg": cfg, "model": state_dict, "criterion": None,
                "optimizer_history": history, "task_state": {}, "extra_state": {}}, path)


def tiny_checkpoint_model(tmp_path, *flags):
    """``(args, model)`` of reencoder_tiny from fairseq-train's command line, its dictionaries in ``tmp_path``."""
    from reencoder.loading import build_model

    for lang in ("zh", "en"):
        tiny_dictionary().save(str(tmp_path / f"dict.{lang}.txt"))
    args, _, model = build_model([tmp_path, "--arch", "reencoder_tiny", "--task", "translation", "-s", "zh",
                                  "-t", "en", "--cpu", *flags], seed=0)
    return args, model


def test_a_checkpoint_with_old_and_removed_flags_loads_through_fairseq(tmp_path):
    """A checkpoint written before the renames (grid_cell='paper', grid_tied_dims=True,
    grid_shared_depth=True, grid_bf16_autocast=True in its stored args) and by 159fcb3 (every
    removed flag at today's value) loads with fairseq's own loader, strictly, into the same model."""
    from reencoder.loading import load_checkpoint_models

    args, model = tiny_checkpoint_model(tmp_path, "--grid-shared-dims", "--grid-tied-depth", "--grid-cell",
                                        "gate-then-tanh")

    def old(stored):
        stored.grid_tied_dims, stored.grid_shared_depth = stored.grid_shared_dims, stored.grid_tied_depth
        del stored.grid_shared_dims, stored.grid_tied_depth
        stored.grid_cell = "paper"
        vars(stored).update(REMOVED_AT_TODAYS_VALUES)

    save_checkpoint(tmp_path / "old.pt", args, model.state_dict(), old)
    (loaded,), _ = load_checkpoint_models(tmp_path / "old.pt", tmp_path)
    assert same_model(loaded, model.eval())


def test_a_checkpoint_that_used_a_removed_flag_fails_in_one_line(tmp_path):
    from reencoder.loading import load_checkpoint_models

    args, model = tiny_checkpoint_model(tmp_path)
    save_checkpoint(tmp_path / "lstm.pt", args, model.state_dict(),
                    lambda stored: vars(stored).update(grid_target_input="lstm", grid_target_lstm_size=None))
    with pytest.raises(ModelFolderError) as error:
        load_checkpoint_models(tmp_path / "lstm.pt", tmp_path)
    assert str(error.value) == (f"cannot load checkpoint {tmp_path / 'lstm.pt'} (--grid-target-input lstm was removed; "
                                f"the last commit with it is {LAST_COMMIT})")


def test_a_checkpoint_saved_before_the_source_words_readout_loads_as_it_was(tmp_path):
    """reencoder_base now pools the source words in its readout; a checkpoint saved before (its
    stored args without the flag) loads through fairseq, strictly, with zero weights for them, and
    computes exactly what the saved model computed."""
    from reencoder.loading import build_model, load_checkpoint_models

    for lang in ("zh", "en"):
        tiny_dictionary().save(str(tmp_path / f"dict.{lang}.txt"))
    small = ["--grid-hidden-size", "8", "--encoder-embed-dim", "12", "--decoder-embed-dim", "8"]
    argv = [tmp_path, "--arch", "reencoder_base", "--task", "translation", "-s", "zh", "-t", "en", "--cpu", *small]
    new_args, _, new_model = build_model(argv, seed=0)
    assert new_args.grid_readout_source_words and new_model.decoder.readout.source_size == 12  # the source embedding
    old = filled("reencoder_base", arch="reencoder_base", grid_readout_source_words=False, grid_hidden_size=8,
                 encoder_embed_dim=12, decoder_embed_dim=8)
    old_model = built(old)
    assert old_model.decoder.readout.source_size == 0
    save_checkpoint(tmp_path / "old.pt", new_args, old_model.state_dict(),
                    lambda stored: delattr(stored, "grid_readout_source_words"))  # stored before the flag existed
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
