"""The Reencoder as a fairseq model: ``fairseq-train --user-dir reencoder --arch reencoder_base``.

fairseq's encoder/decoder split maps onto the grid as follows:

* :class:`ReencoderSourceEncoder` embeds the source, projects it to the grid's source half of
  the input projection and moves padding to the right (fairseq left-pads sources by default;
  the grid needs right padding for padding invariance, see :mod:`reencoder.reencoder_grid`).
  It does no recurrent work: the source is *re-encoded* inside the grid for every target word.
* :class:`ReencoderGridDecoder` embeds the previous target tokens, runs the 3D grid and reads
  each target distribution from the top of its row.  With ``incremental_state`` (fairseq's
  SequenceGenerator) it computes one row per new token from the cached row state.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq import utils
from fairseq.models import (
    FairseqEncoder,
    FairseqEncoderDecoderModel,
    FairseqIncrementalDecoder,
    register_model,
    register_model_architecture,
)
from fairseq.modules import FairseqDropout
from torch import Tensor

from ..numerics import check_finite
from ..reencoder_grid import ReencoderGrid, reorder_row_state, right_pad_lengths

DEFAULT_MAX_POSITIONS = 1024


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


class ReencoderSourceEncoder(FairseqEncoder):
    """Source embeddings and the source half of the grid's input projection."""

    def __init__(self, dictionary, embed_dim: int, hidden_size: int, dropout: float, max_positions: int):
        super().__init__(dictionary)
        self.padding_idx = dictionary.pad()
        self.embed_tokens = Embedding(len(dictionary), embed_dim, self.padding_idx)
        self.dropout = FairseqDropout(dropout, module_name=self.__class__.__name__)
        self.proj = Linear(embed_dim, hidden_size, bias=False)
        self.max_source_positions = max_positions

    def forward(self, src_tokens: Tensor, src_lengths: Optional[Tensor] = None) -> Dict[str, List[Tensor]]:
        tokens = utils.convert_padding_direction(src_tokens, self.padding_idx, left_to_right=True)
        lengths = right_pad_lengths(tokens, self.padding_idx)
        x = self.proj(self.dropout(self.embed_tokens(tokens)))  # [B, S, n]
        return {"src_in": [x], "src_lengths": [lengths]}

    def reorder_encoder_out(self, encoder_out: Dict[str, List[Tensor]], new_order: Tensor):
        return {key: [t.index_select(0, new_order) for t in value] for key, value in encoder_out.items()}

    def max_positions(self) -> int:
        return self.max_source_positions


class ReencoderGridDecoder(FairseqIncrementalDecoder):
    """Runs the 3D grid; one row per target token."""

    def __init__(self, dictionary, args, embed_tokens: Optional[nn.Embedding] = None):
        super().__init__(dictionary)
        n = args.grid_hidden_size
        self.embed_tokens = embed_tokens or Embedding(len(dictionary), args.decoder_embed_dim, dictionary.pad())
        self.dropout = FairseqDropout(args.dropout, module_name=self.__class__.__name__)
        self.proj = Linear(args.decoder_embed_dim, n, bias=True)
        self.grid = ReencoderGrid(
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
        self.share_input_output_embed = args.share_decoder_input_output_embed
        if self.share_input_output_embed:
            if out_dim != args.decoder_embed_dim:
                raise ValueError("--share-decoder-input-output-embed needs --decoder-out-embed-dim == --decoder-embed-dim")
            self.fc_out = None
        else:
            self.fc_out = Linear(out_dim, len(dictionary))
        self.max_target_positions = args.max_target_positions
        self.bf16_autocast = args.grid_bf16_autocast

    def forward(
        self,
        prev_output_tokens: Tensor,
        encoder_out: Optional[Dict[str, List[Tensor]]] = None,
        incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None,
        observer=None,
        **kwargs,
    ):
        x, extra = self.extract_features(prev_output_tokens, encoder_out, incremental_state, observer)
        return self.output_layer(x), extra

    def extract_features(self, prev_output_tokens, encoder_out, incremental_state=None, observer=None):
        assert encoder_out is not None, "the Reencoder needs the source"
        src_in, src_lengths = encoder_out["src_in"][0], encoder_out["src_lengths"][0]
        row_state = None
        if incremental_state is not None:
            cached = self.get_incremental_state(incremental_state, "row_state")
            if cached is not None:
                row_state = (cached["h"], cached["m"])
                prev_output_tokens = prev_output_tokens[:, -1:]
            # first step: the whole (one-token) prefix
        tgt_in = self.proj(self.dropout(self.embed_tokens(prev_output_tokens)))  # [B, T, n]
        with torch.autocast(src_in.device.type, dtype=torch.bfloat16, enabled=self.bf16_autocast):
            x, new_state = self.grid(src_in, tgt_in, src_lengths, row_state, observer=observer)
        x = x.to(tgt_in.dtype)
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "row_state", {"h": new_state[0], "m": new_state[1]})
        return x, {"attn": [None], "inner_states": [x]}

    def output_layer(self, x: Tensor) -> Tensor:
        if self.out_proj is not None:
            x = self.out_proj(x)
        x = self.dropout(x)
        if self.fc_out is None:
            return F.linear(x, self.embed_tokens.weight)
        return self.fc_out(x)

    def reorder_incremental_state(self, incremental_state, new_order: Tensor):
        cached = self.get_incremental_state(incremental_state, "row_state")
        if cached is None:
            return
        h, m = reorder_row_state((cached["h"], cached["m"]), new_order)
        self.set_incremental_state(incremental_state, "row_state", {"h": h, "m": m})

    def max_positions(self) -> int:
        return self.max_target_positions


@register_model("reencoder")
class ReencoderModel(FairseqEncoderDecoderModel):
    """The Reencoder of Kalchbrenner, Danihelka & Graves (2016): a 3D Grid LSTM translation model."""

    @staticmethod
    def add_args(parser):
        """Add model-specific arguments to the parser."""
        # fmt: off
        parser.add_argument('--dropout', type=float, metavar='D',
                            help='dropout on embeddings and before the output layer')
        parser.add_argument('--encoder-embed-dim', type=int, metavar='N',
                            help='source embedding dimension')
        parser.add_argument('--decoder-embed-dim', type=int, metavar='N',
                            help='target embedding dimension')
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
                            help='share block weights across the three dimensions')
        parser.add_argument('--grid-shared-depth', action='store_true',
                            help='one block for all depth layers (default: one per layer)')
        parser.add_argument('--grid-depth-dropout', type=float, metavar='D',
                            help='dropout on hidden vectors passed up the depth axis')
        parser.add_argument('--share-decoder-input-output-embed', action='store_true',
                            help='tie the target embedding and the output layer')
        parser.add_argument('--grid-bf16-autocast', action='store_true',
                            help='run the grid under bf16 autocast (fast on AMX CPUs and GPUs; '
                                 "fairseq's --bf16 does not run on CPU)")
        parser.add_argument('--max-source-positions', type=int, metavar='N',
                            help='max source length')
        parser.add_argument('--max-target-positions', type=int, metavar='N',
                            help='max target length')
        # fmt: on

    def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
        out = super().forward(src_tokens, src_lengths, prev_output_tokens, **kwargs)
        if self.training:
            check_finite(out[0], src_tokens, prev_output_tokens, self.encoder.padding_idx)
        return out

    @classmethod
    def build_model(cls, args, task):
        base_architecture(args)
        for name in ("grid_hidden_size", "grid_depth", "encoder_embed_dim", "decoder_embed_dim"):
            if getattr(args, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
        encoder = ReencoderSourceEncoder(
            task.source_dictionary,
            args.encoder_embed_dim,
            args.grid_hidden_size,
            args.dropout,
            args.max_source_positions,
        )
        decoder = ReencoderGridDecoder(task.target_dictionary, args)
        return cls(encoder, decoder)


@register_model_architecture("reencoder", "reencoder")
def base_architecture(args):
    args.dropout = getattr(args, "dropout", 0.2)
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 256)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 256)
    args.grid_hidden_size = getattr(args, "grid_hidden_size", 256)
    args.decoder_out_embed_dim = getattr(args, "decoder_out_embed_dim", args.decoder_embed_dim)
    args.grid_depth = getattr(args, "grid_depth", 2)
    args.grid_cell = getattr(args, "grid_cell", "standard")
    args.grid_no_priority = getattr(args, "grid_no_priority", False)
    args.grid_tied_dims = getattr(args, "grid_tied_dims", False)
    args.grid_shared_depth = getattr(args, "grid_shared_depth", False)
    args.grid_depth_dropout = getattr(args, "grid_depth_dropout", args.dropout)
    args.share_decoder_input_output_embed = getattr(args, "share_decoder_input_output_embed", False)
    args.grid_bf16_autocast = getattr(args, "grid_bf16_autocast", False)
    args.max_source_positions = getattr(args, "max_source_positions", DEFAULT_MAX_POSITIONS)
    args.max_target_positions = getattr(args, "max_target_positions", DEFAULT_MAX_POSITIONS)


@register_model_architecture("reencoder", "reencoder_tiny")
def reencoder_tiny(args):
    """For tests: a few thousand parameters of grid."""
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 16)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 16)
    args.grid_hidden_size = getattr(args, "grid_hidden_size", 16)
    args.grid_depth = getattr(args, "grid_depth", 2)
    args.dropout = getattr(args, "dropout", 0.0)
    base_architecture(args)


@register_model_architecture("reencoder", "reencoder_base")
def reencoder_base(args):
    """The CPU demo configuration (Tatoeba, sentencepiece 4k+4k)."""
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 128)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 128)
    args.grid_hidden_size = getattr(args, "grid_hidden_size", 128)
    args.grid_depth = getattr(args, "grid_depth", 2)
    args.dropout = getattr(args, "dropout", 0.1)
    args.share_decoder_input_output_embed = getattr(args, "share_decoder_input_output_embed", True)
    base_architecture(args)


@register_model_architecture("reencoder", "reencoder_big")
def reencoder_big(args):
    """A GPU configuration: 512-unit blocks, four layers of depth."""
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 512)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 512)
    args.grid_hidden_size = getattr(args, "grid_hidden_size", 512)
    args.grid_depth = getattr(args, "grid_depth", 4)
    args.dropout = getattr(args, "dropout", 0.3)
    args.share_decoder_input_output_embed = getattr(args, "share_decoder_input_output_embed", True)
    base_architecture(args)
