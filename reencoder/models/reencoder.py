"""The Reencoder as a fairseq model: ``fairseq-train --user-dir reencoder --arch reencoder_base``.

fairseq's encoder/decoder split maps onto the grid as follows:

* :class:`ReencoderSourceEncoder` embeds the source, projects it to the grid's source half of
  the input projection and moves padding to the right (fairseq left-pads sources by default;
  the grid needs right padding for padding invariance, see :mod:`reencoder.grid.reencoder_grid`).
  It does no recurrent work: the source is *re-encoded* inside the grid for every target word.
* :class:`ReencoderGridDecoder` embeds the previous target tokens (optionally through a causal
  LSTM, :mod:`reencoder.models.target_lstm`), runs the 3D grid and reads
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
from torch import Tensor, nn

from ..grid.reencoder_grid import ReencoderGrid, reverse_real_tokens, right_pad_lengths
from .flags import add_grid_args, check_positive, grid_defaults, grid_kwargs, positive_int, set_defaults
from .grid_decoder import Embedding, GridDecoderBase, Linear
from .numerics import check_finite
from .readout import READOUTS, RowReadout
from .target_lstm import TARGET_INPUTS

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
    sentence context.  The grid still re-encodes the source for every target row.  ``lstm_size``:
    the BiLSTM's units per direction (default half the embedding size)."""

    def __init__(self, dictionary, embed_dim: int, hidden_size: int, dropout: float, max_positions: int,
                 reverse: bool = False, source_input: str = "embed", lstm_size: Optional[int] = None):
        super().__init__(dictionary)
        if source_input not in SOURCE_INPUTS:
            raise ValueError(f"--grid-source-input must be one of {SOURCE_INPUTS}, got {source_input!r}")
        self.reverse = reverse
        self.padding_idx = dictionary.pad()
        self.embed_tokens = Embedding(len(dictionary), embed_dim, self.padding_idx)
        self.dropout = FairseqDropout(dropout, module_name=self.__class__.__name__)
        self.lstm = None
        if source_input == "bilstm":
            half = lstm_size or max(embed_dim // 2, 1)  # per direction (default: two halves of the embedding)
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


class ReencoderGridDecoder(GridDecoderBase):
    """Runs the 3D grid; one row per target token (the row state is the carried state)."""

    state_key = "row_state"

    def __init__(self, dictionary, args):
        grid = ReencoderGrid(args.grid_hidden_size, args.grid_depth, **grid_kwargs(args))
        readout = RowReadout(args.grid_readout, args.grid_hidden_size, out_size=args.decoder_out_embed_dim,
                             word_size=args.grid_hidden_size if args.grid_readout_prev_word else 0,
                             source_size=args.encoder_embed_dim if args.grid_readout_source_words else 0)
        target_lstm_size = (args.grid_target_lstm_size or args.grid_hidden_size) if args.grid_target_input == "lstm" else 0
        super().__init__(dictionary, args, grid, feature_size=readout.output_size, target_lstm_size=target_lstm_size)
        self.readout = readout

    def grid_features(self, tgt_in, encoder_out, row_state, observer=None, copies=None):
        """The grid's rows for the ``[B, T, n]`` target inputs, read out per row."""
        assert encoder_out is not None, "the Reencoder needs the source"
        src_in, src_lengths = encoder_out["src_in"][0], encoder_out["src_lengths"][0]
        top, new_state = self.run_grid(tgt_in, src_in, tgt_in, row_state, observer=observer, src_lengths=src_lengths,
                                       copies=copies)
        source = encoder_out["src_words"][0] if self.readout.source_size else None
        return self.readout(top, src_lengths, self.output_bf16.dtype(top), copies, words=tgt_in, source=source), new_state


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
        parser.add_argument('--grid-readout', choices=READOUTS,
                            help="how a row predicts its target word: 'last' source cell (the paper), "
                                 "'max' over the row, 'attn' (attention pooling over the row)")
        parser.add_argument('--grid-readout-prev-word', action='store_true',
                            help="the 'attn' readout also reads the previous target word's grid input (RNNsearch's "
                                 "deep output)")
        parser.add_argument('--grid-readout-source-words', action='store_true',
                            help="the 'attn' readout also pools the source words' embeddings with its attention weights "
                                 "(a lexical path from the attended source words, Nguyen & Chiang 2018; reencoder_base: on)")
        parser.add_argument('--grid-readout-no-source-words', dest='grid_readout_source_words', action='store_false',
                            help="the readout does not pool the source words (undoes an architecture that does)")
        parser.add_argument('--grid-source-input', choices=SOURCE_INPUTS,
                            help="each cell's source input: 'embed' (the paper) or 'bilstm' states")
        parser.add_argument('--grid-source-lstm-size', type=positive_int, metavar='N',
                            help="units per direction of the 'bilstm' source input (default: half the source "
                                 "embedding size)")
        parser.add_argument('--grid-target-input', choices=TARGET_INPUTS,
                            help="each row's target input: the previous word's 'embed' (the paper) or the state of "
                                 "a causal 'lstm' over the target prefix (reencoder.models.target_lstm)")
        parser.add_argument('--grid-target-lstm-size', type=positive_int, metavar='N',
                            help="units of the 'lstm' target input (default: --grid-hidden-size)")
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
            source_input=args.grid_source_input,
            lstm_size=args.grid_source_lstm_size,
        )
        decoder = ReencoderGridDecoder(task.target_dictionary, args)
        return cls(encoder, decoder)


@register_model_architecture("reencoder", "reencoder")
def base_architecture(args):
    grid_defaults(args, embed_dim=256, hidden=256, depth=2, dropout=0.2)
    set_defaults(args, encoder_embed_dim=256, decoder_out_embed_dim=args.decoder_embed_dim,
                 max_source_positions=DEFAULT_MAX_POSITIONS, max_target_positions=DEFAULT_MAX_POSITIONS,
                 grid_source_order="reverse", grid_readout="attn", grid_source_input="embed",
                 grid_source_lstm_size=None, grid_readout_prev_word=False, grid_readout_source_words=False,
                 grid_target_input="embed", grid_target_lstm_size=None)


@register_model_architecture("reencoder", "reencoder_tiny")
def reencoder_tiny(args):
    """For tests: a few thousand parameters of grid."""
    set_defaults(args, encoder_embed_dim=16, decoder_embed_dim=16, grid_hidden_size=16, grid_depth=2, dropout=0.0,
                 grid_readout="last", grid_bf16="never")  # exact fp32 on every machine
    base_architecture(args)


@register_model_architecture("reencoder", "reencoder_paper")
def reencoder_paper(args):
    """The paper's layout at the CPU demo's size: each row read out at its last source cell,
    raw embeddings as the cells' input; one layer of depth, 128 units (on a 2-core CPU one depth
    layer reached a lower dev loss in the same time than two: recipes/RESULTS.md, "Ablation")."""
    set_defaults(args, encoder_embed_dim=128, decoder_embed_dim=128, grid_hidden_size=128, grid_depth=1, dropout=0.1,
                 share_decoder_input_output_embed=True, grid_readout="last", grid_source_input="embed")
    base_architecture(args)


@register_model_architecture("reencoder", "reencoder_base")
def reencoder_base(args):
    """The CPU demo's Reencoder: the paper's grid with one depth layer at 128 units, attention
    pooling over each row (:mod:`reencoder.models.readout`) projected straight to 512-unit tied
    embeddings, and the paper's two cheaper cell options: source and target sharing one weight
    matrix (§3.4, one set of gates per cell) and a non-LSTM depth dimension (§3.6,
    ``h' = tanh(V H')``).
    Chosen on dev (see ``recipes/RESULTS.md``): the readout and the embedding size lowered the
    dev loss far more than grid width with the LSTM cell; the cheaper cell then learned faster
    per update *and* per second, which paid for the wider grid.  Where bf16 is native, the output
    layer's backward GEMMs run in bf16 (``--output-layer-bf16-grads auto``) and, on CPUs with
    AVX512-BF16 and without AMX, its forward on bf16 inputs with fp32 sums
    (``--output-layer-bf16-inputs auto``): each a cheaper step at no worse dev loss, where torch's
    bf16 forward, whose logits are rounded to bf16, cost dev loss."""
    set_defaults(args, encoder_embed_dim=512, decoder_embed_dim=512, output_layer_bf16_grads="auto",
                 output_layer_bf16_inputs="auto")
    set_defaults(args, decoder_out_embed_dim=args.decoder_embed_dim, grid_hidden_size=128, grid_readout="attn",
                 grid_shared_dims=True, grid_depth_transform="tanh", grid_readout_source_words=True)
    reencoder_paper(args)


@register_model_architecture("reencoder", "reencoder_big")
def reencoder_big(args):
    """A GPU configuration: 512-unit blocks, four layers of depth."""
    set_defaults(args, encoder_embed_dim=512, decoder_embed_dim=512, grid_hidden_size=512, grid_depth=4, dropout=0.3,
                 share_decoder_input_output_embed=True)
    base_architecture(args)
