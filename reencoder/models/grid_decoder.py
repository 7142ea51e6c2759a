"""What the fairseq models built on the Grid LSTM share: layers with fairseq's initialisation,
the grid flags, and a decoder base class (embedding → projection → grid → softmax head, with a
carried grid state for incremental decoding and beam search)."""

from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models import FairseqIncrementalDecoder
from fairseq.modules import FairseqDropout
from torch import Tensor

from ..cli.common import positive_int, probability
from ..grid.grid_stack import GridState, reorder_state

IncrementalState = Dict[str, Dict[str, Optional[Tensor]]]


def Embedding(num_embeddings: int, embedding_dim: int, padding_idx: int) -> nn.Embedding:
    m = nn.Embedding(num_embeddings, embedding_dim, padding_idx=padding_idx)
    nn.init.uniform_(m.weight, -0.1, 0.1)
    nn.init.constant_(m.weight[padding_idx], 0)
    return m


def Linear(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    m = nn.Linear(in_features, out_features, bias=bias)
    nn.init.uniform_(m.weight, -0.1, 0.1)
    if bias:
        nn.init.zeros_(m.bias)
    return m


def add_grid_args(parser) -> None:
    """The flags of every Grid LSTM model (fairseq ``add_args`` convention)."""
    # fmt: off
    parser.add_argument('--dropout', type=probability, metavar='D',
                        help='dropout on embeddings and before the output layer')
    parser.add_argument('--decoder-embed-dim', type=positive_int, metavar='N',
                        help='(target) embedding dimension')
    parser.add_argument('--decoder-out-embed-dim', type=positive_int, metavar='N',
                        help='dimension of the projection before the output layer')
    parser.add_argument('--grid-hidden-size', type=positive_int, metavar='N',
                        help='hidden and memory size of every grid block')
    parser.add_argument('--grid-depth', type=positive_int, metavar='N',
                        help='number of layers along the depth axis')
    parser.add_argument('--grid-cell', choices=['standard', 'paper'],
                        help="LSTM output: 'standard' o*tanh(m) or 'paper' tanh(o*m)")
    parser.add_argument('--grid-no-priority', action='store_true',
                        help='do not make depth the priority dimension')
    parser.add_argument('--grid-tied-dims', action='store_true',
                        help="share one weight matrix among a block's dimensions")
    parser.add_argument('--grid-shared-depth', action='store_true',
                        help='one block for all depth layers (default: one per layer)')
    parser.add_argument('--grid-depth-dropout', type=probability, metavar='D',
                        help='dropout on hidden vectors passed up the depth axis')
    parser.add_argument('--share-decoder-input-output-embed', action='store_true',
                        help='tie the (target) embedding and the output layer')
    parser.add_argument('--grid-bf16-autocast', action='store_true',
                        help='run the grid under bf16 autocast (fast on AMX CPUs and GPUs; '
                             "fairseq's --bf16 does not run on CPU)")
    parser.add_argument('--max-target-positions', type=positive_int, metavar='N',
                        help='max target length')
    # fmt: on


def grid_defaults(args, embed_dim: int, hidden: int, depth: int, dropout: float) -> None:
    """Fill unset grid flags (fairseq ``base_architecture`` convention)."""
    args.dropout = getattr(args, "dropout", dropout)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", embed_dim)
    args.grid_hidden_size = getattr(args, "grid_hidden_size", hidden)
    args.grid_depth = getattr(args, "grid_depth", depth)
    args.grid_cell = getattr(args, "grid_cell", "standard")
    args.grid_no_priority = getattr(args, "grid_no_priority", False)
    args.grid_tied_dims = getattr(args, "grid_tied_dims", False)
    args.grid_shared_depth = getattr(args, "grid_shared_depth", False)
    args.grid_depth_dropout = getattr(args, "grid_depth_dropout", args.dropout)
    args.share_decoder_input_output_embed = getattr(args, "share_decoder_input_output_embed", False)
    args.grid_bf16_autocast = getattr(args, "grid_bf16_autocast", False)


def check_positive(args, *names: str) -> None:
    for name in names:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")


class GridDecoderBase(FairseqIncrementalDecoder):
    """Embedding → dropout → projection to the grid → (grid, in the subclass) → softmax head.

    The subclass sets :attr:`state_key` (the name of the carried grid state in fairseq's
    incremental state) and runs its grid in ``extract_features`` via :meth:`run_grid`.
    """

    state_key = "grid_state"

    def __init__(self, dictionary, args, grid: nn.Module, feature_size: Optional[int] = None):
        super().__init__(dictionary)
        n = args.grid_hidden_size if feature_size is None else feature_size  # what extract_features returns
        self.embed_tokens = Embedding(len(dictionary), args.decoder_embed_dim, dictionary.pad())
        self.dropout = FairseqDropout(args.dropout, module_name=self.__class__.__name__)
        self.proj = Linear(args.decoder_embed_dim, args.grid_hidden_size, bias=True)
        self.grid = grid
        out_dim = args.decoder_out_embed_dim
        self.out_proj = Linear(n, out_dim, bias=False) if out_dim != n else None
        if args.share_decoder_input_output_embed:
            if out_dim != args.decoder_embed_dim:
                raise ValueError("--share-decoder-input-output-embed needs --decoder-out-embed-dim == --decoder-embed-dim")
            self.fc_out = None
        else:
            self.fc_out = Linear(out_dim, len(dictionary))
        self.max_target_positions = args.max_target_positions
        self.bf16_autocast = args.grid_bf16_autocast

    @staticmethod
    def grid_kwargs(args) -> dict:
        return dict(priority=not args.grid_no_priority, tied_dims=args.grid_tied_dims,
                    shared_depth=args.grid_shared_depth, cell=args.grid_cell, depth_dropout=args.grid_depth_dropout)

    def forward(self, prev_output_tokens: Tensor, encoder_out=None,
                incremental_state: Optional[IncrementalState] = None, observer=None, **kwargs):
        x, extra = self.extract_features(prev_output_tokens, encoder_out, incremental_state, observer)
        return self.output_layer(x), extra

    def embed(self, tokens: Tensor) -> Tensor:
        """``[B, T]`` tokens → ``[B, T, n]`` grid inputs."""
        return self.proj(self.dropout(self.embed_tokens(tokens)))

    def run_grid(self, like: Tensor, *args, **kwargs):
        """Call the grid, under bf16 autocast with ``--grid-bf16-autocast``; outputs in ``like``'s dtype."""
        with torch.autocast(like.device.type, dtype=torch.bfloat16, enabled=self.bf16_autocast):
            x, state = self.grid(*args, **kwargs)
        return x.to(like.dtype), state

    def cached_state(self, incremental_state: Optional[IncrementalState]) -> Optional[GridState]:
        if incremental_state is None:
            return None
        cached = self.get_incremental_state(incremental_state, self.state_key)
        return None if cached is None else (cached["h"], cached["m"])

    def store_state(self, incremental_state: Optional[IncrementalState], state: GridState) -> None:
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, self.state_key, {"h": state[0], "m": state[1]})

    def output_layer(self, x: Tensor) -> Tensor:
        if self.out_proj is not None:
            x = self.out_proj(x)
        x = self.dropout(x)
        if self.fc_out is None:
            return F.linear(x, self.embed_tokens.weight)
        return self.fc_out(x)

    def reorder_incremental_state(self, incremental_state: IncrementalState, new_order: Tensor):
        state = self.cached_state(incremental_state)
        if state is not None:
            self.store_state(incremental_state, reorder_state(state, new_order))

    def max_positions(self) -> int:
        return self.max_target_positions
