"""The Reencoder as a fairseq model: ``fairseq-train --user-dir reencoder --arch reencoder_base``.

fairseq's encoder/decoder split maps onto the grid as follows:

* :class:`ReencoderSourceEncoder` embeds the source, projects it to the grid's source half of
  the input projection and moves padding to the right (fairseq left-pads sources by default;
  the grid needs right padding for padding invariance, see :mod:`reencoder.grid.reencoder_grid`).
  It does no recurrent work: the source is *re-encoded* inside the grid for every target word.
* :class:`ReencoderGridDecoder` embeds the previous target tokens, runs the 3D grid and reads
  each target distribution from the top of its row (:mod:`reencoder.models.readout`).  With
  ``incremental_state`` (fairseq's SequenceGenerator) it computes one row per new token from the
  cached row state.

The model's flags are declared in :meth:`ReencoderModel.add_args` (with the grid's own,
:mod:`reencoder.models.flags`); each named architecture is one flat list of defaults in
:data:`ARCHITECTURES`.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from fairseq import utils
from fairseq.models import (
    FairseqEncoder,
    FairseqEncoderDecoderModel,
    register_model,
)
from fairseq.modules import FairseqDropout
from torch import Tensor, nn

from ..grid.reencoder_grid import ReencoderGrid, reverse_real_tokens, right_pad_lengths
from .flags import (
    add_grid_args,
    check_positive,
    fill_defaults,
    grid_kwargs,
    positive_int,
    register_architectures,
    set_defaults,
)
from .grid_decoder import GridDecoder
from .layers import Embedding, Linear
from .numerics import check_finite
from .readout import READOUTS, RowReadout

DEFAULT_MAX_POSITIONS = 1024


SOURCE_INPUTS = ("embed", "bilstm")


class ReencoderSourceEncoder(FairseqEncoder):
    """Source embeddings and the source half of the grid's input projection; with
    ``reverse=True`` each source sentence is laid along the grid's source axis last word first.
    Its output also holds the embeddings themselves (``src_words``, in the grid's order), for a
    readout that pools them (``--grid-readout-source-words``).

    ``source_input="embed"`` (the paper) feeds each cell its raw source embedding;
    ``"bilstm"`` feeds it the states of a one-layer bidirectional LSTM over the source (the
    2D-LSTM decoder's input, Bahar, Brix & Ney, EMNLP 2018): every cell then sees its word in
    sentence context, half the embedding size in each direction.  The grid still re-encodes the
    source for every target row."""

    def __init__(self, dictionary, embed_dim: int, hidden_size: int, dropout: float, max_positions: int,
                 reverse: bool = False, source_input: str = "embed"):
        super().__init__(dictionary)
        if source_input not in SOURCE_INPUTS:
            raise ValueError(f"--grid-source-input must be one of {SOURCE_INPUTS}, got {source_input!r}")
        self.reverse = reverse
        self.padding_idx = dictionary.pad()
        self.embed_tokens = Embedding(len(dictionary), embed_dim, self.padding_idx)
        self.dropout = FairseqDropout(dropout, module_name=self.__class__.__name__)
        self.lstm = None
        if source_input == "bilstm":
            half = max(embed_dim // 2, 1)  # per direction: two halves of the embedding
            self.lstm = nn.LSTM(embed_dim, half, batch_first=True, bidirectional=True)
            for p in self.lstm.parameters():
                nn.init.uniform_(p, -0.1, 0.1)
            embed_dim = 2 * half
        self.proj = Linear(embed_dim, hidden_size, bias=False)
        self.max_source_positions = max_positions

    def forward(self, src_tokens: Tensor, src_lengths: Optional[Tensor] = None) -> Dict[str, List[Tensor]]:
        tokens = utils.convert_padding_direction(src_tokens, self.padding_idx, left_to_right=True)
        lengths = right_pad_lengths(tokens, self.padding_idx)
        if self.reverse:
            tokens = reverse_real_tokens(tokens, lengths)
        x = words = self.dropout(self.embed_tokens(tokens))
        if self.lstm is not None:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True,
                                                       enforce_sorted=False)
            x, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True,
                                                    total_length=tokens.shape[1])
            x = self.dropout(x)
        x = self.proj(x)  # [B, S, n]
        return {"src_in": [x], "src_lengths": [lengths], "src_words": [words]}

    def reorder_encoder_out(self, encoder_out: Dict[str, List[Tensor]], new_order: Tensor):
        return {key: [t.index_select(0, new_order) for t in value] for key, value in encoder_out.items()}

    def max_positions(self) -> int:
        return self.max_source_positions


class ReencoderGridDecoder(GridDecoder):
    """Runs the 3D grid; one row per target token (the row state is the carried state)."""

    state_key = "row_state"

    def __init__(self, dictionary, args):
        grid = ReencoderGrid(args.grid_hidden_size, args.grid_depth, **grid_kwargs(args))
        readout = RowReadout(args.grid_readout, args.grid_hidden_size, out_size=args.decoder_out_embed_dim,
                             source_size=args.encoder_embed_dim if args.grid_readout_source_words else 0)
        super().__init__(dictionary, args, grid, feature_size=readout.output_size)
        self.readout = readout

    def grid_features(self, tgt_in, encoder_out, row_state, observer=None, copies=None):
        """The grid's rows for the ``[B, T, n]`` target inputs, read out per row."""
        assert encoder_out is not None, "the Reencoder needs the source"
        src_in, src_lengths = encoder_out["src_in"][0], encoder_out["src_lengths"][0]
        top, new_state = self.run_grid(tgt_in, src_in, tgt_in, row_state, observer=observer, src_lengths=src_lengths,
                                       copies=copies)
        source = encoder_out["src_words"][0] if self.readout.source_size else None
        return self.readout(top, src_lengths, self.output_bf16.dtype(top), copies, source=source), new_state


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
        parser.add_argument('--grid-source-order', choices=['forward', 'reverse'],
                            help='lay each source sentence along the grid forwards or reversed '
                                 '(reversed: its first words next to where every row is read out)')
        parser.add_argument('--grid-source-input', choices=SOURCE_INPUTS,
                            help="each cell's source input: 'embed' (the paper) or 'bilstm' states")
        parser.add_argument('--grid-readout', choices=READOUTS,
                            help="how a row predicts its target word: 'last' source cell (the paper), "
                                 "'max' over the row, 'attn' (attention pooling over the row)")
        parser.add_argument('--grid-readout-source-words', action='store_true',
                            help="the 'attn' readout also pools the source words' embeddings with its attention weights "
                                 "(a lexical path from the attended source words, Nguyen & Chiang 2018; reencoder_base: on)")
        parser.add_argument('--grid-readout-no-source-words', dest='grid_readout_source_words', action='store_false',
                            help="the readout does not pool the source words (undoes an architecture that does)")
        # fmt: on

    def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
        out = super().forward(src_tokens, src_lengths, prev_output_tokens, **kwargs)
        if self.training:
            check_finite(out[0], src_tokens, prev_output_tokens, self.encoder.padding_idx)
        return out

    @classmethod
    def build_model(cls, args, task):
        fill_architecture(args, getattr(args, "arch", "reencoder"))  # flags an older checkpoint did not store
        # the task's --max-source-positions / --max-target-positions, where there is no task (fairseq's lstm.py)
        set_defaults(args, max_source_positions=DEFAULT_MAX_POSITIONS, max_target_positions=DEFAULT_MAX_POSITIONS)
        check_positive(args, "grid_hidden_size", "grid_depth", "encoder_embed_dim", "decoder_embed_dim")
        encoder = ReencoderSourceEncoder(
            task.source_dictionary,
            args.encoder_embed_dim,
            args.grid_hidden_size,
            args.dropout,
            args.max_source_positions,
            reverse=args.grid_source_order == "reverse",
            source_input=args.grid_source_input,
        )
        decoder = ReencoderGridDecoder(task.target_dictionary, args)
        return cls(encoder, decoder)


#: Every named architecture: one flat list of the defaults it gives every flag (a flag given on
#: the command line, or stored in a checkpoint, wins); --decoder-out-embed-dim, unless given, is the
#: --decoder-embed-dim.  Why each value: recipes/RESULTS.md.
ARCHITECTURES = {
    # the default: the paper's grid, two layers of 256-unit blocks, read out by attention over each row
    "reencoder": dict(
        encoder_embed_dim=256, decoder_embed_dim=256, share_decoder_input_output_embed=False, dropout=0.2,
        grid_hidden_size=256, grid_depth=2, grid_cell="standard", grid_no_priority=False,
        grid_shared_dims=False, grid_tied_depth=False, grid_depth_transform="lstm", grid_depth_gate_bias=0.0,
        grid_source_order="reverse", grid_source_input="embed",
        grid_readout="attn", grid_readout_source_words=False, decoder_output_init=0.1,
        grid_bf16="auto", output_layer_bf16="never", output_layer_bf16_grads="never", output_layer_bf16_inputs="never",
    ),
    # The paper's layout at the CPU demo's size: each row read out at its last source cell, raw
    # embeddings as the cells' input; one layer of depth, 128 units (on a 2-core CPU one depth layer
    # reached a lower dev loss in the same time than two: RESULTS, "Ablation").
    "reencoder_paper": dict(
        encoder_embed_dim=128, decoder_embed_dim=128, share_decoder_input_output_embed=True, dropout=0.1,
        grid_hidden_size=128, grid_depth=1, grid_cell="standard", grid_no_priority=False,
        grid_shared_dims=False, grid_tied_depth=False, grid_depth_transform="lstm", grid_depth_gate_bias=0.0,
        grid_source_order="reverse", grid_source_input="embed",
        grid_readout="last", grid_readout_source_words=False, decoder_output_init=0.1,
        grid_bf16="auto", output_layer_bf16="never", output_layer_bf16_grads="never", output_layer_bf16_inputs="never",
    ),
    # The CPU demo's Reencoder, chosen on dev: the paper's grid with one depth layer at 128 units;
    # attention pooling over each row, and over the source words' embeddings (a lexical path),
    # projected straight to 512-unit shared input/output embeddings; the paper's two cheaper cell
    # options, source and target sharing one weight matrix (shared dims, §3.4) and a non-LSTM depth
    # h' = tanh(V H') (§3.6).  Where bf16 is native, the output layer's backward GEMMs run in bf16
    # and, on CPUs with AVX512-BF16 and without AMX, its forward on bf16 inputs with fp32 sums: each
    # a cheaper step at no worse dev loss (torch's bf16 forward, logits rounded to bf16, cost dev loss).
    "reencoder_base": dict(
        encoder_embed_dim=512, decoder_embed_dim=512, share_decoder_input_output_embed=True, dropout=0.1,
        grid_hidden_size=128, grid_depth=1, grid_cell="standard", grid_no_priority=False,
        grid_shared_dims=True, grid_tied_depth=False, grid_depth_transform="tanh", grid_depth_gate_bias=0.0,
        grid_source_order="reverse", grid_source_input="embed",
        grid_readout="attn", grid_readout_source_words=True, decoder_output_init=0.1,
        grid_bf16="auto", output_layer_bf16="never", output_layer_bf16_grads="auto", output_layer_bf16_inputs="auto",
    ),
    # a GPU configuration: 512-unit blocks, four layers of depth
    "reencoder_big": dict(
        encoder_embed_dim=512, decoder_embed_dim=512, share_decoder_input_output_embed=True, dropout=0.3,
        grid_hidden_size=512, grid_depth=4, grid_cell="standard", grid_no_priority=False,
        grid_shared_dims=False, grid_tied_depth=False, grid_depth_transform="lstm", grid_depth_gate_bias=0.0,
        grid_source_order="reverse", grid_source_input="embed",
        grid_readout="attn", grid_readout_source_words=False, decoder_output_init=0.1,
        grid_bf16="auto", output_layer_bf16="never", output_layer_bf16_grads="never", output_layer_bf16_inputs="never",
    ),
    # for tests: a few thousand parameters of grid, exact fp32 on every machine
    "reencoder_tiny": dict(
        encoder_embed_dim=16, decoder_embed_dim=16, share_decoder_input_output_embed=False, dropout=0.0,
        grid_hidden_size=16, grid_depth=2, grid_cell="standard", grid_no_priority=False,
        grid_shared_dims=False, grid_tied_depth=False, grid_depth_transform="lstm", grid_depth_gate_bias=0.0,
        grid_source_order="reverse", grid_source_input="embed",
        grid_readout="last", grid_readout_source_words=False, decoder_output_init=0.1,
        grid_bf16="never", output_layer_bf16="never", output_layer_bf16_grads="never", output_layer_bf16_inputs="never",
    ),
}


def fill_architecture(args, arch: str) -> None:
    """fairseq's architecture function of ``arch``: every unset flag from its list."""
    fill_defaults(args, ARCHITECTURES[arch])
    set_defaults(args, decoder_out_embed_dim=args.decoder_embed_dim)


register_architectures("reencoder", ARCHITECTURES, fill_architecture)
