"""What the fairseq models built on the Grid LSTM share: a decoder class (embedding →
projection → grid → softmax head, with a carried grid state for incremental decoding and beam
search).  Their flags are in :mod:`.flags`, their layers' initialisation in :mod:`.layers`."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch.nn as nn
from fairseq.models import FairseqIncrementalDecoder
from fairseq.modules import FairseqDropout
from torch import Tensor

from ..grid.grid_stack import GridState, reorder_state
from ..grid.hardware import bf16_dot_kernel_pays
from .layers import Embedding, Linear
from .low_precision import Bf16Choice, WeightCopies, linear

IncrementalState = Dict[str, Dict[str, Optional[Tensor]]]


class GridDecoder(FairseqIncrementalDecoder):
    """Embedding → dropout → projection to the grid → grid → softmax head.

    One forward pass runs down once: :meth:`extract_features` takes the carried grid state (its
    name in fairseq's incremental state is the subclass's :attr:`state_key`), embeds the new
    tokens and hands them to the subclass's :meth:`grid_features` (the grid, through
    :meth:`run_grid`, and whatever turns its output into one feature vector per token), then
    stores the new state; :meth:`output_layer` maps the features to logits.
    """

    state_key = "grid_state"

    def __init__(self, dictionary, args, grid: nn.Module, feature_size: Optional[int] = None):
        super().__init__(dictionary)
        n = args.grid_hidden_size if feature_size is None else feature_size  # what grid_features returns
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
            # its init bounds how fast the first plateau is left (RESULTS, "The LSTM depth")
            self.fc_out = Linear(out_dim, len(dictionary), init=args.decoder_output_init)
        self.max_target_positions = args.max_target_positions
        self.grid_bf16 = Bf16Choice(args.grid_bf16, "--grid-bf16", "grid")
        self.output_bf16 = Bf16Choice(args.output_layer_bf16, "--output-layer-bf16", "output layer")
        self.output_grads_bf16 = Bf16Choice(args.output_layer_bf16_grads, "--output-layer-bf16-grads",
                                            "output layer's backward")
        self.output_inputs_bf16 = Bf16Choice(args.output_layer_bf16_inputs,
                                             "--output-layer-bf16-inputs", "output layer's forward (fp32 sums)",
                                             decide=bf16_dot_kernel_pays)

    def forward(self, prev_output_tokens: Tensor, encoder_out=None,
                incremental_state: Optional[IncrementalState] = None, observer=None, **kwargs):
        x, extra = self.extract_features(prev_output_tokens, encoder_out, incremental_state, observer)
        return self.output_layer(x, copies=self.weight_copies(incremental_state)), extra

    def extract_features(self, prev_output_tokens: Tensor, encoder_out=None,
                         incremental_state: Optional[IncrementalState] = None, observer=None):
        """``[B, T]`` tokens → ``[B, T, F]`` features; with a carried state (fairseq's
        SequenceGenerator) only the newest token is computed, continuing from it."""
        state = self.cached_state(incremental_state)
        if state is not None:  # later steps: only the newest token's row (column)
            prev_output_tokens = prev_output_tokens[:, -1:]
        x = self.embed(prev_output_tokens)  # [B, T, n]
        features, new_state = self.grid_features(x, encoder_out, state, observer, self.weight_copies(incremental_state))
        self.store_state(incremental_state, new_state)
        return features, {"attn": [None], "inner_states": [features]}

    def grid_features(self, x: Tensor, encoder_out, state: Optional[GridState], observer=None,
                      copies: Optional[WeightCopies] = None) -> Tuple[Tensor, GridState]:
        """The subclass's grid over the ``[B, T, n]`` grid inputs ``x``, from ``state``
        (``None``: the start): ``[B, T, F]`` features and the state after the last token
        (``copies``: see :meth:`weight_copies`)."""
        raise NotImplementedError

    def embed(self, tokens: Tensor) -> Tensor:
        """``[B, T]`` tokens → ``[B, T, n]`` grid inputs."""
        return self.proj(self.dropout(self.embed_tokens(tokens)))

    def run_grid(self, like: Tensor, *args, **kwargs):
        """Call the grid with its GEMM dtype given explicitly (``compute_dtype``): bf16 as
        ``--grid-bf16`` says (:mod:`.low_precision`), else ``like``'s dtype; outputs in ``like``'s
        dtype."""
        x, state = self.grid(*args, compute_dtype=self.grid_bf16.dtype(like), **kwargs)
        return x.to(like.dtype), state

    def cached_state(self, incremental_state: Optional[IncrementalState]) -> Optional[GridState]:
        """The grid's ``(h, m)`` carried in fairseq's incremental state (``None``: none yet)."""
        cached = None if incremental_state is None else self.get_incremental_state(incremental_state, self.state_key)
        return None if cached is None else (cached["h"], cached["m"])

    def store_state(self, incremental_state: Optional[IncrementalState], state: GridState) -> None:
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, self.state_key, {"h": state[0], "m": state[1]})

    def weight_copies(self, incremental_state: Optional[IncrementalState]) -> Optional[WeightCopies]:
        """Low-precision weight copies for one decoding run (:mod:`.low_precision`), kept in its
        incremental state; ``None`` outside decoding (training and validation cast every time)."""
        if incremental_state is None:
            return None
        copies = self.get_incremental_state(incremental_state, "weight_copies")
        if copies is None:
            copies = {}
            self.set_incremental_state(incremental_state, "weight_copies", copies)
        return copies

    def output_layer(self, x: Tensor, copies: Optional[WeightCopies] = None) -> Tensor:
        """Features → logits (in ``x``'s dtype), the GEMMs in bf16 as ``--output-layer-bf16`` says
        (the layer over the vocabulary: its forward's inputs as ``--output-layer-bf16-inputs`` says,
        its backward's as ``--output-layer-bf16-grads`` says)."""
        dtype = self.output_bf16.dtype(x)
        if self.out_proj is not None:
            x = linear(x, self.out_proj.weight, None, dtype, copies, "out_proj")
        x = self.dropout(x)
        layer = self.embed_tokens if self.fc_out is None else self.fc_out
        exact = dtype == x.dtype  # fp32 results: the forward's inputs and the backward may still be bf16
        grads = self.output_grads_bf16.dtype(x) if self.training and exact else None
        sums_fp32 = exact and self.output_inputs_bf16.use(x)
        return linear(x, layer.weight, getattr(layer, "bias", None), dtype, copies, "fc_out", grads, sums_fp32)

    def reorder_incremental_state(self, incremental_state: IncrementalState, new_order: Tensor):
        state = self.cached_state(incremental_state)
        if state is not None:
            self.store_state(incremental_state, reorder_state(state, new_order))

    def max_positions(self) -> int:
        return self.max_target_positions
