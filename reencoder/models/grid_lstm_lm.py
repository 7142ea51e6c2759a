"""The 2D Grid LSTM language model: ``fairseq-train --user-dir reencoder --task language_modeling
--arch grid_lstm_lm``.

The seed experiment of the Grid LSTM paper (Kalchbrenner, Danihelka & Graves, ICLR 2016,
§4.1/§5.1): character prediction on the Hutter Wikipedia data with a 2D Grid LSTM over
(time, depth), a stacked LSTM whose depth connections are LSTM cells too.  The grid itself is
:class:`reencoder.grid.lm_grid.LMGrid`; this module wraps it as a fairseq decoder-only model:

* the previous characters are embedded, projected to the grid's hidden size and fed into the
  bottom of their columns (the depth-axis boundary);
* the top hidden vector of column ``t`` predicts character ``t + 1`` through a linear softmax
  layer (optionally the input embedding's matrix: ``--share-decoder-input-output-embed``);
* with ``incremental_state`` (fairseq's SequenceGenerator, ``fairseq-interactive``) each new
  token adds one column, continuing from the cached time-axis state of the last column.

Weights: one block per depth layer by default; ``--grid-tied-depth`` ties one block across
depth (the paper's "Tied 2-LSTM"), ``--grid-shared-dims`` shares the weights of the time and the
depth transform inside a block (§3.4).  Depth is the priority dimension unless
``--grid-no-priority``.  Each named architecture is one flat list of defaults in
:data:`ARCHITECTURES`.
"""

from __future__ import annotations

from fairseq.models import FairseqLanguageModel, register_model
from torch import Tensor

from ..grid.lm_grid import LMGrid
from .flags import add_grid_args, check_positive, fill_defaults, grid_kwargs, register_architectures, set_defaults
from .grid_decoder import GridDecoder

DEFAULT_MAX_TARGET_POSITIONS = 1024


class GridLSTMLMDecoder(GridDecoder):
    """Embedding → projection → 2D grid (time × depth) → softmax layer; one column per token."""

    state_key = "column_state"

    def __init__(self, dictionary, args):
        grid = LMGrid(args.grid_hidden_size, args.grid_depth, **grid_kwargs(args))
        super().__init__(dictionary, args, grid)

    def grid_features(self, x: Tensor, encoder_out, state, observer=None, copies=None):
        """The grid's columns for the ``[B, T, n]`` inputs: the tops of the columns."""
        return self.run_grid(x, x, state, observer=observer)


@register_model("grid_lstm_lm")
class GridLSTMLanguageModel(FairseqLanguageModel):
    """A 2D Grid LSTM language model (time × depth), Grid LSTM paper §4.1/§5.1."""

    @staticmethod
    def add_args(parser):
        """Add model-specific arguments to the parser."""
        add_grid_args(parser)

    @classmethod
    def build_model(cls, args, task):
        fill_architecture(args, getattr(args, "arch", "grid_lstm_lm"))  # flags an older checkpoint did not store
        if getattr(args, "max_target_positions", None) is None:  # the task's flag, else its sample size
            args.max_target_positions = getattr(args, "tokens_per_sample", DEFAULT_MAX_TARGET_POSITIONS)
        check_positive(args, "grid_hidden_size", "grid_depth", "decoder_embed_dim", "decoder_out_embed_dim")
        return cls(GridLSTMLMDecoder(task.target_dictionary, args))


#: Every named architecture: one flat list of the defaults it gives every flag (a flag given on
#: the command line, or stored in a checkpoint, wins); --decoder-out-embed-dim, unless given, is the
#: --grid-hidden-size.  All three start the LSTM depth's input/output gates open (bias 2) and the
#: output layer in U(-0.4, 0.4), which together take the grid off its first plateau
#: (recipes/RESULTS.md, "The LSTM depth").
ARCHITECTURES = {
    # the CPU recipe configuration: two layers of 128-unit 2D blocks, one block per layer
    "grid_lstm_lm": dict(
        decoder_embed_dim=128, share_decoder_input_output_embed=False, dropout=0.1,
        grid_hidden_size=128, grid_depth=2, grid_cell="standard", grid_no_priority=False,
        grid_shared_dims=False, grid_tied_depth=False, grid_depth_transform="lstm", grid_depth_gate_bias=2.0,
        decoder_output_init=0.4,
        grid_bf16="auto", output_layer_bf16="never", output_layer_bf16_grads="never", output_layer_bf16_inputs="never",
    ),
    # the paper's best character model shape, "Tied 2-LSTM": one block tied across three depth layers
    "grid_lstm_lm_tied": dict(
        decoder_embed_dim=128, share_decoder_input_output_embed=False, dropout=0.1,
        grid_hidden_size=128, grid_depth=3, grid_cell="standard", grid_no_priority=False,
        grid_shared_dims=False, grid_tied_depth=True, grid_depth_transform="lstm", grid_depth_gate_bias=2.0,
        decoder_output_init=0.4,
        grid_bf16="auto", output_layer_bf16="never", output_layer_bf16_grads="never", output_layer_bf16_inputs="never",
    ),
    # for tests: 16-unit blocks, two layers, exact fp32 on every machine
    "grid_lstm_lm_tiny": dict(
        decoder_embed_dim=16, share_decoder_input_output_embed=False, dropout=0.0,
        grid_hidden_size=16, grid_depth=2, grid_cell="standard", grid_no_priority=False,
        grid_shared_dims=False, grid_tied_depth=False, grid_depth_transform="lstm", grid_depth_gate_bias=2.0,
        decoder_output_init=0.4,
        grid_bf16="never", output_layer_bf16="never", output_layer_bf16_grads="never", output_layer_bf16_inputs="never",
    ),
}


def fill_architecture(args, arch: str) -> None:
    """fairseq's architecture function of ``arch``: every unset flag from its list."""
    fill_defaults(args, ARCHITECTURES[arch])
    set_defaults(args, decoder_out_embed_dim=args.grid_hidden_size)


register_architectures("grid_lstm_lm", ARCHITECTURES, fill_architecture)
