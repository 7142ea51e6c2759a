"""The command-line flags both Grid LSTM models take, in fairseq's conventions: ``add_args``
adds them, a named architecture fills the unset ones from its one list of defaults
(:func:`register_architectures`), ``build_model`` checks them.  The argument types
(:func:`~data_prep.foundation.positive_int`, ...) are the project's, so a bad value is one
``error:`` line of fairseq's argparse.

One meaning per name: *tied* is only the paper's "Tied N-LSTM", one block shared along depth
(``--grid-tied-depth``); *shared dims* is §3.4's sharing of one weight matrix among a block's
dimensions (``--grid-shared-dims``); the embedding matrix reused as the output layer is
fairseq's *shared input/output embeddings* (``--share-decoder-input-output-embed``); *paper*
names only the paper's layout (the architecture ``reencoder_paper``), and the cell
``h = tanh(o*m)`` of the paper's eq. 2 is ``gate-then-tanh``.

Checkpoints keep their flags in their stored args.  :func:`rename_old_flags` brings older
ones to today's names; :func:`drop_removed_flags` drops the flags of experiments that left the
package where the stored value is the one that builds today's model, and any other value is a
one-line error naming the flag and the last commit that had it (the numbers of those
experiments: ``recipes/RESULTS.md``).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Dict

from fairseq.models import register_model_architecture

from data_prep.foundation import non_negative_float, positive_int, probability

from .low_precision import BF16_CHOICES

#: ``--grid-cell`` values: ``h = o*tanh(m)`` (the usual LSTM) or ``h = tanh(o*m)`` (the paper's eq. 2)
CELLS = ("standard", "gate-then-tanh")

#: renamed flags, old dest -> new dest (a checkpoint's stored args may hold the old name)
RENAMED_FLAGS = {"grid_tied_dims": "grid_shared_dims", "grid_shared_depth": "grid_tied_depth"}
#: renamed values, dest -> {old: new}
RENAMED_VALUES = {"grid_cell": {"paper": "gate-then-tanh"}}

#: the last commit with the experiments' flags in :data:`REMOVED_FLAGS`
LAST_COMMIT = "159fcb3"


def _source_lstm_size_is_default(args) -> bool:
    """The removed ``--grid-source-lstm-size`` at the size the BiLSTM source input takes now."""
    size = args.grid_source_lstm_size
    if size is None or getattr(args, "grid_source_input", "embed") != "bilstm":
        return True
    embed = getattr(args, "encoder_embed_dim", None)
    return embed is not None and size == max(embed // 2, 1)


#: flags that are gone, dest -> "the stored value builds today's model" (then it is dropped;
#: otherwise loading fails naming it and :data:`LAST_COMMIT`).  ``grid_bf16_autocast`` chose
#: only the GEMMs' precision, so it is dropped at any value.
REMOVED_FLAGS: Dict[str, Callable] = {
    "grid_bf16_autocast": lambda args: True,
    # word noise on the previous target words (RESULTS, nineteenth session): its kind
    # mattered only with a noise above 0
    "target_word_noise": lambda args: not args.target_word_noise,
    "target_word_noise_kind": lambda args: True,
    # the readout reading the previous word (RESULTS, nineteenth session)
    "grid_readout_prev_word": lambda args: not args.grid_readout_prev_word,
    # a causal LSTM as each row's target input, and its size (RESULTS, twentieth session)
    "grid_target_input": lambda args: args.grid_target_input in (None, "embed"),
    "grid_target_lstm_size": lambda args: True,
    # the BiLSTM source input's width (RESULTS, seventeenth session): half the embedding now
    "grid_source_lstm_size": _source_lstm_size_is_default,
    # dropout up the depth axis of its own: --dropout's now
    "grid_depth_dropout": lambda args: args.grid_depth_dropout == getattr(args, "dropout", None),
}


def add_grid_args(parser) -> None:
    """The flags of every Grid LSTM model (fairseq ``add_args`` convention)."""
    # fmt: off
    parser.add_argument('--dropout', type=probability, metavar='D',
                        help='dropout on embeddings, on hidden vectors passed up the depth axis and before the '
                             'output layer')
    parser.add_argument('--decoder-embed-dim', type=positive_int, metavar='N',
                        help='(target) embedding dimension')
    parser.add_argument('--decoder-out-embed-dim', type=positive_int, metavar='N',
                        help='dimension of the projection before the output layer')
    parser.add_argument('--grid-hidden-size', type=positive_int, metavar='N',
                        help='hidden and memory size of every grid block')
    parser.add_argument('--grid-depth', type=positive_int, metavar='N',
                        help='number of layers along the depth axis')
    parser.add_argument('--grid-cell', choices=CELLS,
                        help="LSTM output: 'standard' h = o*tanh(m), or 'gate-then-tanh' h = tanh(o*m) (the "
                             "output gate applied before the tanh, as in the paper's eq. 2)")
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
    # fmt: on


def set_defaults(args, **values) -> None:
    """``args.NAME = VALUE`` for every flag not set yet (on the command line, or stored in a
    checkpoint): fairseq's ``getattr(args, NAME, VALUE)`` idiom, once."""
    for name, value in values.items():
        if not hasattr(args, name):
            setattr(args, name, value)


def _spelled(name: str, value) -> str:
    """``--NAME VALUE`` as it was given on the command line (a switch without its value)."""
    flag = "--" + name.replace("_", "-")
    return flag if value is True else f"{flag} {value}"


def rename_old_flags(args) -> None:
    """Today's names of flags a checkpoint stored under older ones: an old name fills the new
    one unless that is already set (a flag given on the command line wins); old values renamed."""
    for old, new in RENAMED_FLAGS.items():
        if hasattr(args, old):
            set_defaults(args, **{new: getattr(args, old)})
            delattr(args, old)
    for name, renamed in RENAMED_VALUES.items():
        if getattr(args, name, None) in renamed:
            setattr(args, name, renamed[getattr(args, name)])


def drop_removed_flags(args) -> None:
    """The removed flags a checkpoint stored, dropped where their value builds today's model;
    otherwise ``ValueError``: ``--grid-target-input lstm was removed; the last commit with it is
    159fcb3``."""
    stored = [name for name in REMOVED_FLAGS if hasattr(args, name)]
    for name in stored:
        if not REMOVED_FLAGS[name](args):
            raise ValueError(f"{_spelled(name, getattr(args, name))} was removed; the last commit with it is "
                             f"{LAST_COMMIT}")
    for name in stored:
        delattr(args, name)


def register_architectures(model: str, architectures: Dict[str, dict], fill: Callable) -> None:
    """Register each named architecture of ``model`` with fairseq; its function is
    ``fill(args, arch=NAME)``, which fills the flags still unset from ``architectures[NAME]``."""
    for name in architectures:
        register_model_architecture(model, name)(partial(fill, arch=name))


def fill_defaults(args, defaults: dict) -> None:
    """An architecture's work: a checkpoint's old names made today's, every flag still unset
    taken from ``defaults``, then the removed flags it stored dropped (or refused)."""
    rename_old_flags(args)
    set_defaults(args, **defaults)
    drop_removed_flags(args)


def grid_kwargs(args) -> dict:
    """The grid's constructor options (:class:`reencoder.grid.grid_stack.DepthGridStack`) from the flags."""
    return dict(priority=not args.grid_no_priority, shared_dims=args.grid_shared_dims,
                tied_depth=args.grid_tied_depth, cell=args.grid_cell,
                depth_dropout=args.dropout, depth_transform=args.grid_depth_transform,
                depth_gate_bias=args.grid_depth_gate_bias)


def check_positive(args, *names: str) -> None:
    """``ValueError`` for a size flag below 1 (set in code, past argparse's check)."""
    for name in names:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
