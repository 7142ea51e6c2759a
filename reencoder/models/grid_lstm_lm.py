"""The 2D Grid LSTM language model: ``fairseq-train --user-dir reencoder --task language_modeling
--arch grid_lstm_lm``.

The seed experiment of the Grid LSTM paper (Kalchbrenner, Danihelka & Graves, ICLR 2016,
§4.1/§5.1): character prediction on the Hutter Wikipedia data with a 2D Grid LSTM over
(time, depth), a stacked LSTM whose depth connections are LSTM cells too.  The grid itself is
:class:`reencoder.lm_grid.LMGrid`; this module wraps it as a fairseq decoder-only model:

* the previous characters are embedded, projected to the grid's hidden size and fed into the
  bottom of their columns (the depth-axis boundary);
* the top hidden vector of column ``t`` predicts character ``t + 1`` through a linear softmax
  layer (optionally tied to the input embedding);
* with ``incremental_state`` (fairseq's SequenceGenerator, ``fairseq-interactive``) each new
  token adds one column, continuing from the cached time-axis state of the last column.

Weights: one block per depth layer by default; ``--grid-shared-depth`` shares one block across
depth (the paper's "Tied 2-LSTM"), ``--grid-tied-dims`` shares the weights of the time and the
depth transform inside a block.  Depth is the priority dimension unless ``--grid-no-priority``.
"""

from __future__ import annotations

from typing import Dict, Optional

from fairseq.models import (
    FairseqIncrementalDecoder,
    FairseqLanguageModel,
    register_model,
    register_model_architecture,
)
from fairseq.modules import FairseqDropout
from torch import Tensor

from ..lm_grid import LMGrid, reorder_column_state
from .reencoder import Embedding, Linear, ReencoderGridDecoder

DEFAULT_MAX_TARGET_POSITIONS = 1024
IncrementalState = Dict[str, Dict[str, Optional[Tensor]]]


class GridLSTMLMDecoder(FairseqIncrementalDecoder):
    """Embedding → projection → 2D grid (time × depth) → softmax layer; one column per token."""

    def __init__(self, dictionary, args):
        super().__init__(dictionary)
        n = args.grid_hidden_size
        self.embed_tokens = Embedding(len(dictionary), args.decoder_embed_dim, dictionary.pad())
        self.dropout = FairseqDropout(args.dropout, module_name=self.__class__.__name__)
        self.proj = Linear(args.decoder_embed_dim, n, bias=True)
        self.grid = LMGrid(
            hidden_size=n,
            depth=args.grid_depth,
            priority=not args.grid_no_priority,
            tied_dims=args.grid_tied_dims,
            shared_depth=args.grid_shared_depth,
            cell=args.grid_cell,
            depth_dropout=args.grid_depth_dropout,
        )
        out_dim = args.decoder_out_embed_dim
        self.out_proj = Linear(n, out_dim, bias=False) if out_dim != n else None
        if args.share_decoder_input_output_embed:
            if out_dim != args.decoder_embed_dim:
                raise ValueError("--share-decoder-input-output-embed needs --decoder-out-embed-dim == --decoder-embed-dim")
            self.fc_out = None
        else:
            self.fc_out = Linear(out_dim, len(dictionary))
        self.max_target_positions = args.max_target_positions

    def forward(
        self,
        prev_output_tokens: Tensor,
        encoder_out=None,
        incremental_state: Optional[IncrementalState] = None,
        observer=None,
        **kwargs,
    ):
        x, extra = self.extract_features(prev_output_tokens, encoder_out, incremental_state, observer)
        return self.output_layer(x), extra

    def extract_features(self, prev_output_tokens: Tensor, encoder_out=None, incremental_state=None, observer=None):
        state = None
        if incremental_state is not None:
            cached = self.get_incremental_state(incremental_state, "column_state")
            if cached is not None:  # later steps: only the newest token's column
                state = (cached["h"], cached["m"])
                prev_output_tokens = prev_output_tokens[:, -1:]
        x = self.proj(self.dropout(self.embed_tokens(prev_output_tokens)))  # [B, T, n]
        x, new_state = self.grid(x, state, observer=observer)
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "column_state", {"h": new_state[0], "m": new_state[1]})
        return x, {"attn": [None], "inner_states": [x]}

    # the Reencoder's softmax head, on the same attributes: out_proj → dropout → fc_out or the
    # transposed input embedding (--share-decoder-input-output-embed)
    output_layer = ReencoderGridDecoder.output_layer

    def reorder_incremental_state(self, incremental_state: IncrementalState, new_order: Tensor):
        cached = self.get_incremental_state(incremental_state, "column_state")
        if cached is None:
            return
        h, m = reorder_column_state((cached["h"], cached["m"]), new_order)
        self.set_incremental_state(incremental_state, "column_state", {"h": h, "m": m})

    def max_positions(self) -> int:
        return self.max_target_positions


@register_model("grid_lstm_lm")
class GridLSTMLanguageModel(FairseqLanguageModel):
    """A 2D Grid LSTM language model (time × depth), Grid LSTM paper §4.1/§5.1."""

    @staticmethod
    def add_args(parser):
        """Add model-specific arguments to the parser."""
        # fmt: off
        parser.add_argument('--dropout', type=float, metavar='D',
                            help='dropout on embeddings and before the output layer')
        parser.add_argument('--decoder-embed-dim', type=int, metavar='N',
                            help='input embedding dimension')
        parser.add_argument('--decoder-out-embed-dim', type=int, metavar='N',
                            help='dimension of the projection before the output layer')
        parser.add_argument('--grid-hidden-size', type=int, metavar='N',
                            help='hidden and memory size of every grid block')
        parser.add_argument('--grid-depth', type=int, metavar='N',
                            help='number of layers along the depth axis')
        parser.add_argument('--grid-cell', choices=['standard', 'paper'],
                            help="LSTM output: 'standard' o*tanh(m) or 'paper' tanh(o*m)")
        parser.add_argument('--grid-no-priority', action='store_true',
                            help='do not make depth the priority dimension')
        parser.add_argument('--grid-tied-dims', action='store_true',
                            help='share block weights across the time and depth dimensions')
        parser.add_argument('--grid-shared-depth', action='store_true',
                            help='one block for all depth layers ("Tied 2-LSTM"; default: one per layer)')
        parser.add_argument('--grid-depth-dropout', type=float, metavar='D',
                            help='dropout on hidden vectors passed up the depth axis')
        parser.add_argument('--share-decoder-input-output-embed', action='store_true',
                            help='tie the input embedding and the output layer')
        parser.add_argument('--max-target-positions', type=int, metavar='N',
                            help='max sequence length (default: --tokens-per-sample)')
        # fmt: on

    @classmethod
    def build_model(cls, args, task):
        base_architecture(args)
        if getattr(args, "max_target_positions", None) is None:
            args.max_target_positions = getattr(args, "tokens_per_sample", DEFAULT_MAX_TARGET_POSITIONS)
        for name in ("grid_hidden_size", "grid_depth", "decoder_embed_dim", "decoder_out_embed_dim"):
            if getattr(args, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
        return cls(GridLSTMLMDecoder(task.target_dictionary, args))


@register_model_architecture("grid_lstm_lm", "grid_lstm_lm")
def base_architecture(args):
    """The CPU recipe configuration: two layers of 128-unit 2D blocks, one block per layer."""
    args.dropout = getattr(args, "dropout", 0.1)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 128)
    args.grid_hidden_size = getattr(args, "grid_hidden_size", 128)
    args.decoder_out_embed_dim = getattr(args, "decoder_out_embed_dim", args.grid_hidden_size)
    args.grid_depth = getattr(args, "grid_depth", 2)
    args.grid_cell = getattr(args, "grid_cell", "standard")
    args.grid_no_priority = getattr(args, "grid_no_priority", False)
    args.grid_tied_dims = getattr(args, "grid_tied_dims", False)
    args.grid_shared_depth = getattr(args, "grid_shared_depth", False)
    args.grid_depth_dropout = getattr(args, "grid_depth_dropout", args.dropout)
    args.share_decoder_input_output_embed = getattr(args, "share_decoder_input_output_embed", False)
    args.max_target_positions = getattr(args, "max_target_positions", None)


@register_model_architecture("grid_lstm_lm", "grid_lstm_lm_tiny")
def grid_lstm_lm_tiny(args):
    """For tests: 16-unit blocks, two layers."""
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 16)
    args.grid_hidden_size = getattr(args, "grid_hidden_size", 16)
    args.dropout = getattr(args, "dropout", 0.0)
    base_architecture(args)


@register_model_architecture("grid_lstm_lm", "grid_lstm_lm_tied")
def grid_lstm_lm_tied(args):
    """The paper's best character model shape, "Tied 2-LSTM": one block shared across depth."""
    args.grid_shared_depth = getattr(args, "grid_shared_depth", True)
    args.grid_depth = getattr(args, "grid_depth", 3)
    base_architecture(args)
