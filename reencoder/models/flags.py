"""The command-line flags of the Grid LSTM models, in fairseq's conventions: ``add_args`` adds
them, a named architecture fills the unset ones (``base_architecture``), ``build_model`` checks
them.  The argument types (:func:`~data_prep.foundation.positive_int`, ...) are the project's,
so a bad value is one ``error:`` line of fairseq's argparse."""

from __future__ import annotations

from data_prep.foundation import non_negative_float, positive_int, probability


#: the LSTM depth's input/output gate bias where an architecture does not set it: the block's
#: original 0 for the translation models (not yet measured there); the language models use 2.0
#: (a conditioning fix, see :mod:`reencoder.grid.grid_lstm`)
DEPTH_GATE_BIAS = 0.0


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
    parser.add_argument('--grid-cell', choices=['standard', 'paper'],
                        help="LSTM output: 'standard' o*tanh(m) or 'paper' tanh(o*m)")
    parser.add_argument('--grid-no-priority', action='store_true',
                        help='do not make depth the priority dimension')
    parser.add_argument('--grid-depth-transform', choices=['lstm', 'tanh', 'relu'],
                        help="depth dimension: an LSTM, or a non-LSTM transform h' = act(V H') "
                             "(paper 3.6; no gates, a quarter of the depth GEMM)")
    parser.add_argument('--grid-depth-gate-bias', type=float, metavar='B',
                        help="initial input/output gate bias of an LSTM depth dimension: 0 starts its gain "
                             "at 1/4, 2 at 0.78 (default 0; grid_lstm_lm: 2; recipes/RESULTS.md, 'The LSTM depth')")
    parser.add_argument('--decoder-output-init', type=non_negative_float, metavar="S",
                        help="an untied output layer's weights start in U(-S, S) (fairseq's 0.1; grid_lstm_lm: 0.4)")
    parser.add_argument('--grid-tied-dims', action='store_true',
                        help="share one weight matrix among a block's dimensions of a kind (paper 3.4)")
    parser.add_argument('--grid-untied-dims', dest='grid_tied_dims', action='store_false',
                        help='one weight matrix per dimension (undoes an architecture that ties them)')
    parser.add_argument('--grid-shared-depth', action='store_true',
                        help='one block for all depth layers (default: one per layer)')
    parser.add_argument('--grid-depth-dropout', type=probability, metavar='D',
                        help='dropout on hidden vectors passed up the depth axis')
    parser.add_argument('--share-decoder-input-output-embed', action='store_true',
                        help='tie the (target) embedding and the output layer')
    parser.add_argument('--grid-bf16', choices=['auto', 'always', 'never'],
                        help="the grid's GEMMs in bf16 (states and gate math stay fp32): auto = where bf16 "
                             "matmuls are native (GPUs with bf16, CPUs with AMX or AVX512-BF16), fp32 elsewhere")
    parser.add_argument('--grid-bf16-autocast', action='store_true',
                        help="= --grid-bf16 always (fairseq's --bf16 does not run on CPU)")
    parser.add_argument('--max-target-positions', type=positive_int, metavar='N',
                        help='max target length')
    # fmt: on


def grid_defaults(args, embed_dim: int, hidden: int, depth: int, dropout: float) -> None:
    """Fill unset grid flags (fairseq ``base_architecture`` convention)."""
    set_defaults(args, dropout=dropout, decoder_embed_dim=embed_dim, grid_hidden_size=hidden, grid_depth=depth,
                 grid_cell="standard", grid_no_priority=False, grid_tied_dims=False, grid_shared_depth=False,
                 grid_depth_transform="lstm", grid_depth_gate_bias=DEPTH_GATE_BIAS, decoder_output_init=0.1)
    set_defaults(args, grid_depth_dropout=args.dropout, share_decoder_input_output_embed=False,
                 grid_bf16_autocast=False)
    set_defaults(args, grid_bf16="auto")
    if args.grid_bf16_autocast:  # the older flag: = --grid-bf16 always, over an architecture's default
        args.grid_bf16 = "always"


def grid_kwargs(args) -> dict:
    """The grid's constructor options (:class:`reencoder.grid.grid_stack.DepthGridStack`) from the flags."""
    return dict(priority=not args.grid_no_priority, tied_dims=args.grid_tied_dims,
                shared_depth=args.grid_shared_depth, cell=args.grid_cell, depth_dropout=args.grid_depth_dropout,
                depth_transform=args.grid_depth_transform, depth_gate_bias=args.grid_depth_gate_bias)


def check_positive(args, *names: str) -> None:
    """``ValueError`` for a size flag below 1 (set in code, past argparse's check)."""
    for name in names:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
