"""The command-line flags of the Grid LSTM models, in fairseq's conventions: ``add_args`` adds
them, a named architecture fills the unset ones (``base_architecture``), ``build_model`` checks
them.  The argument types (:func:`~data_prep.foundation.positive_int`, ...) are the project's,
so a bad value is one ``error:`` line of fairseq's argparse.

One meaning per name: *tied* is the paper's "Tied N-LSTM", one block shared along depth
(``--grid-tied-depth``); *shared dims* is §3.4's sharing of one weight matrix among a block's
dimensions (``--grid-shared-dims``); *paper* names only the paper's layout (the architecture
``reencoder_paper``), and the cell ``h = tanh(o*m)`` of the paper's eq. 2 is ``gate-then-tanh``.
The older spellings (``--grid-tied-dims``, ``--grid-untied-dims``, ``--grid-shared-depth``,
``--grid-cell paper``) still work for this release with a ``FutureWarning``; a checkpoint that
stored them (or the removed ``grid_bf16_autocast``) builds the identical model
(:func:`upgrade_renamed_flags`)."""

from __future__ import annotations

import argparse
import warnings

from data_prep.foundation import non_negative_float, positive_int, probability

from .low_precision import BF16_CHOICES
from .word_noise import WORD_NOISE

#: the LSTM depth's input/output gate bias where an architecture does not set it: the block's
#: original 0 for the translation models (not yet measured there); the language models use 2.0
#: (a conditioning fix, see :mod:`reencoder.grid.grid_lstm`)
DEPTH_GATE_BIAS = 0.0

#: ``--grid-cell`` values: ``h = o*tanh(m)`` (the usual LSTM) or ``h = tanh(o*m)`` (the paper's eq. 2)
CELLS = ("standard", "gate-then-tanh")

#: renamed flags, old dest -> new dest (the old spelling is a deprecated alias for one release)
RENAMED_FLAGS = {"grid_tied_dims": "grid_shared_dims", "grid_shared_depth": "grid_tied_depth"}
#: renamed values, dest -> {old: new}
RENAMED_VALUES = {"grid_cell": {"paper": "gate-then-tanh"}}
#: flags that are gone; a checkpoint that stored them loads without them
REMOVED_FLAGS = ("grid_bf16_autocast",)


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated and will be removed in the next release: use {new}",
                  FutureWarning, stacklevel=2)


class DeprecatedFlag(argparse.Action):
    """An old spelling of a switch: sets ``const`` on the new flag's ``dest`` and warns."""

    def __init__(self, option_strings, dest, new: str, const: bool, **kwargs):
        super().__init__(option_strings, dest, nargs=0, const=const, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        _deprecated(option_string, self.new)
        setattr(namespace, self.dest, self.const)


def grid_cell(text: str) -> str:
    """``--grid-cell``'s type: the old value ``paper`` becomes ``gate-then-tanh`` (with a warning)."""
    new = RENAMED_VALUES["grid_cell"].get(text)
    if new is None:
        return text
    _deprecated(f"--grid-cell {text}", f"--grid-cell {new}")
    return new


def set_defaults(args, **values) -> None:
    """``args.NAME = VALUE`` for every flag not set yet (on the command line or by a more
    specific architecture): fairseq's ``getattr(args, NAME, VALUE)`` idiom, once."""
    for name, value in values.items():
        if not hasattr(args, name):
            setattr(args, name, value)


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
    parser.add_argument('--grid-cell', type=grid_cell, choices=CELLS,
                        help="LSTM output: 'standard' h = o*tanh(m), or 'gate-then-tanh' h = tanh(o*m) (the "
                             "output gate applied before the tanh, as in the paper's eq. 2; was 'paper')")
    parser.add_argument('--grid-no-priority', action='store_true',
                        help='do not make depth the priority dimension')
    parser.add_argument('--grid-depth-transform', choices=['lstm', 'tanh', 'relu'],
                        help="depth dimension: an LSTM, or a non-LSTM transform h' = act(V H') "
                             "(paper 3.6; no gates, a quarter of the depth GEMM)")
    parser.add_argument('--grid-depth-gate-bias', type=float, metavar='B',
                        help="initial input/output gate bias of an LSTM depth dimension: 0 starts its gain "
                             "at 1/4, 2 at 0.78 (default 0; grid_lstm_lm: 2; recipes/RESULTS.md, 'The LSTM depth')")
    parser.add_argument('--decoder-output-init', type=non_negative_float, metavar="S",
                        help="an output layer of its own (not the embedding's matrix) starts in U(-S, S) "
                             "(fairseq's 0.1; grid_lstm_lm: 0.4)")
    parser.add_argument('--grid-shared-dims', action='store_true',
                        help="one weight matrix shared among a block's dimensions of a kind, e.g. the Reencoder's "
                             "source and target (paper 3.4)")
    parser.add_argument('--grid-unshared-dims', dest='grid_shared_dims', action='store_false',
                        help='one weight matrix per dimension (undoes an architecture that shares them)')
    parser.add_argument('--grid-tied-depth', action='store_true',
                        help="one block tied across all depth layers, the paper's \"Tied N-LSTM\" "
                             "(default: one block per layer)")
    for old, new, dest, const in (('--grid-tied-dims', '--grid-shared-dims', 'grid_shared_dims', True),
                                  ('--grid-untied-dims', '--grid-unshared-dims', 'grid_shared_dims', False),
                                  ('--grid-shared-depth', '--grid-tied-depth', 'grid_tied_depth', True)):
        parser.add_argument(old, dest=dest, action=DeprecatedFlag, new=new, const=const,
                            help=f'deprecated: = {new}')
    parser.add_argument('--grid-depth-dropout', type=probability, metavar='D',
                        help='dropout on hidden vectors passed up the depth axis')
    parser.add_argument('--target-word-noise', type=probability, metavar='P',
                        help='in training, replace each previous target word the decoder reads with probability P '
                             '(default 0; reencoder.models.word_noise)')
    parser.add_argument('--target-word-noise-kind', choices=WORD_NOISE,
                        help="what replaces it: 'unk' (word dropout), a 'random' word or the decoder's own "
                             "'predicted' word (parallel scheduled sampling; default: unk)")
    parser.add_argument('--share-decoder-input-output-embed', action='store_true',
                        help='one matrix for the (target) embedding and the output layer')
    parser.add_argument('--grid-bf16', choices=BF16_CHOICES,
                        help="the grid's GEMMs in bf16 (states and gate math stay fp32): auto = where bf16 "
                             "matmuls are native (GPUs with bf16, CPUs with AMX or AVX512-BF16), fp32 elsewhere")
    parser.add_argument('--output-layer-bf16', choices=BF16_CHOICES,
                        help="the GEMMs after the grid (the row readout and the output layer over the vocabulary) in "
                             "bf16, logits back in fp32 before the softmax: auto = where bf16 matmuls are native "
                             "(default: never)")
    parser.add_argument('--output-layer-bf16-grads', choices=BF16_CHOICES,
                        help="the backward GEMMs of the output layer over the vocabulary in bf16 (the gradients of "
                             "its input and weights; the forward and the logits stay as --output-layer-bf16 says): "
                             "auto = where bf16 matmuls are native (default: never; reencoder_base: auto)")
    parser.add_argument('--output-layer-bf16-inputs', choices=BF16_CHOICES,
                        help="the forward GEMM of the output layer over the vocabulary on bf16-rounded inputs and "
                             "weights, its sums and the logits in fp32 (a kernel for CPUs with AVX512-BF16 or AMX; "
                             "elsewhere the same arithmetic at fp32 cost): auto = on CPUs with AVX512-BF16 or AMX "
                             "(default: never; reencoder_base: auto)")
    parser.add_argument('--max-target-positions', type=positive_int, metavar='N',
                        help='max target length')
    # fmt: on


def upgrade_renamed_flags(args) -> None:
    """The current names of flags stored under their older ones (a checkpoint's args, or an
    architecture that still sets them): an old name fills the new one unless that is already
    set (a flag given on the command line wins), old values are renamed, removed flags dropped."""
    for old, new in RENAMED_FLAGS.items():
        if hasattr(args, old):
            set_defaults(args, **{new: getattr(args, old)})
            delattr(args, old)
    for name, renamed in RENAMED_VALUES.items():
        if getattr(args, name, None) in renamed:
            setattr(args, name, renamed[getattr(args, name)])
    for name in REMOVED_FLAGS:
        if hasattr(args, name):
            delattr(args, name)


def grid_defaults(args, embed_dim: int, hidden: int, depth: int, dropout: float) -> None:
    """Fill unset grid flags (fairseq ``base_architecture`` convention)."""
    upgrade_renamed_flags(args)
    set_defaults(args, dropout=dropout, decoder_embed_dim=embed_dim, grid_hidden_size=hidden, grid_depth=depth,
                 grid_cell="standard", grid_no_priority=False, grid_shared_dims=False, grid_tied_depth=False,
                 grid_depth_transform="lstm", grid_depth_gate_bias=DEPTH_GATE_BIAS, decoder_output_init=0.1,
                 target_word_noise=0.0, target_word_noise_kind="unk")
    set_defaults(args, grid_depth_dropout=args.dropout, share_decoder_input_output_embed=False, grid_bf16="auto",
                 output_layer_bf16="never", output_layer_bf16_grads="never", output_layer_bf16_inputs="never")


def grid_kwargs(args) -> dict:
    """The grid's constructor options (:class:`reencoder.grid.grid_stack.DepthGridStack`) from the flags."""
    return dict(priority=not args.grid_no_priority, shared_dims=args.grid_shared_dims,
                tied_depth=args.grid_tied_depth, cell=args.grid_cell,
                depth_dropout=args.grid_depth_dropout, depth_transform=args.grid_depth_transform,
                depth_gate_bias=args.grid_depth_gate_bias)


def check_positive(args, *names: str) -> None:
    """``ValueError`` for a size flag below 1 (set in code, past argparse's check)."""
    for name in names:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
