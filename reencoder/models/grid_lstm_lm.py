"""The 2D Grid LSTM language model: ``fairseq-train --user-dir reencoder --task language_modeling
--arch grid_lstm_lm``.

The seed experiment of the Grid LSTM paper (Kalchbrenner, Danihelka & Graves, ICLR 2016,
§4.1/§5.1): character prediction on the Hutter Wikipedia data with a 2D Grid LSTM over
(time, depth), a stacked LSTM whose depth connections are LSTM cells too.  The grid itself is
:class:`reencoder.grid.lm_grid.LMGrid`; this module wraps it as a fairseq decoder-only model:

* the previous characters are embedded, projected to the grid's hidden size and fed into the
  bottom of their columns (the depth-axis boundary);
* the top hidden vector of column ``t`` predicts character ``t + 1`` through a linear softmax
  layer (optionally tied to the input embedding);
* with ``incremental_state`` (fairseq's SequenceGenerator, ``fairseq-interactive``) each new
  token adds one column, continuing from the cached time-axis state of the last column.

Weights: one block per depth layer by default; ``--grid-tied-depth`` ties one block across
depth (the paper's "Tied 2-LSTM"), ``--grid-shared-dims`` shares the weights of the time and the
depth transform inside a block (§3.4).  Depth is the priority dimension unless
``--grid-no-priority``.
"""

from __future__ import annotations

from fairseq.models import (
    FairseqLanguageModel,
    register_model,
    register_model_architecture,
)
from torch import Tensor

from ..grid.lm_grid import LMGrid
from .flags import add_grid_args, check_positive, grid_defaults, grid_kwargs, set_defaults
from .grid_decoder import GridDecoderBase

DEFAULT_MAX_TARGET_POSITIONS = 1024
LM_OUTPUT_INIT = 0.4
LM_DEPTH_GATE_BIAS = 2.0


class GridLSTMLMDecoder(GridDecoderBase):
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
        base_architecture(args)
        if getattr(args, "max_target_positions", None) is None:
            args.max_target_positions = getattr(args, "tokens_per_sample", DEFAULT_MAX_TARGET_POSITIONS)
        check_positive(args, "grid_hidden_size", "grid_depth", "decoder_embed_dim", "decoder_out_embed_dim")
        return cls(GridLSTMLMDecoder(task.target_dictionary, args))


@register_model_architecture("grid_lstm_lm", "grid_lstm_lm")
def base_architecture(args):
    """The CPU recipe configuration: two layers of 128-unit 2D blocks, one block per layer; the
    LSTM depth's input/output gates start open (bias 2) and the output layer in U(-0.4, 0.4),
    which together take the grid off its first plateau (``recipes/RESULTS.md``, "The LSTM depth")."""
    set_defaults(args, decoder_output_init=LM_OUTPUT_INIT, grid_depth_gate_bias=LM_DEPTH_GATE_BIAS)
    grid_defaults(args, embed_dim=128, hidden=128, depth=2, dropout=0.1)
    set_defaults(args, decoder_out_embed_dim=args.grid_hidden_size, max_target_positions=None)


@register_model_architecture("grid_lstm_lm", "grid_lstm_lm_tiny")
def grid_lstm_lm_tiny(args):
    """For tests: 16-unit blocks, two layers."""
    set_defaults(args, decoder_embed_dim=16, grid_hidden_size=16, dropout=0.0, grid_bf16="never")
    base_architecture(args)


@register_model_architecture("grid_lstm_lm", "grid_lstm_lm_tied")
def grid_lstm_lm_tied(args):
    """The paper's best character model shape, "Tied 2-LSTM": one block tied across depth."""
    set_defaults(args, grid_tied_depth=True, grid_depth=3)
    base_architecture(args)
