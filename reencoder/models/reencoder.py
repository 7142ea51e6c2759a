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

from fairseq import utils
from fairseq.models import (
    FairseqEncoder,
    FairseqEncoderDecoderModel,
    register_model,
    register_model_architecture,
)
from fairseq.modules import FairseqDropout
from torch import Tensor

from ..numerics import check_finite
from ..reencoder_grid import ReencoderGrid, reverse_real_tokens, right_pad_lengths
from .grid_decoder import (Embedding, GridDecoderBase, Linear, add_grid_args, check_positive, grid_defaults,
                           positive_int)

DEFAULT_MAX_POSITIONS = 1024


class ReencoderSourceEncoder(FairseqEncoder):
    """Source embeddings and the source half of the grid's input projection; with
    ``reverse=True`` each source sentence is laid along the grid's source axis last word first."""

    def __init__(self, dictionary, embed_dim: int, hidden_size: int, dropout: float, max_positions: int,
                 reverse: bool = False):
        super().__init__(dictionary)
        self.reverse = reverse
        self.padding_idx = dictionary.pad()
        self.embed_tokens = Embedding(len(dictionary), embed_dim, self.padding_idx)
        self.dropout = FairseqDropout(dropout, module_name=self.__class__.__name__)
        self.proj = Linear(embed_dim, hidden_size, bias=False)
        self.max_source_positions = max_positions

    def forward(self, src_tokens: Tensor, src_lengths: Optional[Tensor] = None) -> Dict[str, List[Tensor]]:
        tokens = utils.convert_padding_direction(src_tokens, self.padding_idx, left_to_right=True)
        lengths = right_pad_lengths(tokens, self.padding_idx)
        if self.reverse:
            tokens = reverse_real_tokens(tokens, lengths)
        x = self.proj(self.dropout(self.embed_tokens(tokens)))  # [B, S, n]
        return {"src_in": [x], "src_lengths": [lengths]}

    def reorder_encoder_out(self, encoder_out: Dict[str, List[Tensor]], new_order: Tensor):
        return {key: [t.index_select(0, new_order) for t in value] for key, value in encoder_out.items()}

    def max_positions(self) -> int:
        return self.max_source_positions


class ReencoderGridDecoder(GridDecoderBase):
    """Runs the 3D grid; one row per target token (the row state is the carried state)."""

    state_key = "row_state"

    def __init__(self, dictionary, args):
        grid = ReencoderGrid(args.grid_hidden_size, args.grid_depth, **self.grid_kwargs(args))
        super().__init__(dictionary, args, grid)

    def extract_features(self, prev_output_tokens, encoder_out, incremental_state=None, observer=None):
        assert encoder_out is not None, "the Reencoder needs the source"
        src_in, src_lengths = encoder_out["src_in"][0], encoder_out["src_lengths"][0]
        row_state = self.cached_state(incremental_state)
        if row_state is not None:  # later steps: only the newest token's row
            prev_output_tokens = prev_output_tokens[:, -1:]
        tgt_in = self.embed(prev_output_tokens)  # [B, T, n]
        x, new_state = self.run_grid(tgt_in, src_in, tgt_in, src_lengths, row_state, observer=observer)
        self.store_state(incremental_state, new_state)
        return x, {"attn": [None], "inner_states": [x]}


@register_model("reencoder")
class ReencoderModel(FairseqEncoderDecoderModel):
    """The Reencoder of Kalchbrenner, Danihelka & Graves (2016): a 3D Grid LSTM translation model."""

    @staticmethod
    def add_args(parser):
        """Add model-specific arguments to the parser."""
        add_grid_args(parser)
        # fmt: off
        parser.add_argument('--encoder-embed-dim', type=positive_int, metavar='N',
                            help='source embedding dimension')
        parser.add_argument('--max-source-positions', type=positive_int, metavar='N',
                            help='max source length')
        parser.add_argument('--grid-source-order', choices=['forward', 'reverse'],
                            help='lay each source sentence along the grid forwards or reversed '
                                 '(reversed: its first words next to where every row is read out)')
        # fmt: on

    def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
        out = super().forward(src_tokens, src_lengths, prev_output_tokens, **kwargs)
        if self.training:
            check_finite(out[0], src_tokens, prev_output_tokens, self.encoder.padding_idx)
        return out

    @classmethod
    def build_model(cls, args, task):
        base_architecture(args)
        check_positive(args, "grid_hidden_size", "grid_depth", "encoder_embed_dim", "decoder_embed_dim")
        encoder = ReencoderSourceEncoder(
            task.source_dictionary,
            args.encoder_embed_dim,
            args.grid_hidden_size,
            args.dropout,
            args.max_source_positions,
            reverse=args.grid_source_order == "reverse",
        )
        decoder = ReencoderGridDecoder(task.target_dictionary, args)
        return cls(encoder, decoder)


@register_model_architecture("reencoder", "reencoder")
def base_architecture(args):
    grid_defaults(args, embed_dim=256, hidden=256, depth=2, dropout=0.2)
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 256)
    args.decoder_out_embed_dim = getattr(args, "decoder_out_embed_dim", args.decoder_embed_dim)
    args.max_source_positions = getattr(args, "max_source_positions", DEFAULT_MAX_POSITIONS)
    args.max_target_positions = getattr(args, "max_target_positions", DEFAULT_MAX_POSITIONS)
    args.grid_source_order = getattr(args, "grid_source_order", "reverse")


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
    """The CPU demo configuration (Tatoeba, sentencepiece 4k+4k): one layer of depth, which on
    a 2-core CPU reached a lower dev loss in the same time than two layers (which learn slower
    per update and cost 1.7x per update)."""
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 128)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 128)
    args.grid_hidden_size = getattr(args, "grid_hidden_size", 128)
    args.grid_depth = getattr(args, "grid_depth", 1)
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
