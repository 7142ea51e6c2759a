"""A stack of Grid LSTM blocks with depth as the last grid axis, shared by the Reencoder's 3D
grid (:mod:`reencoder.grid.reencoder_grid`) and the language model's 2D grid (:mod:`reencoder.grid.lm_grid`).

Depth is the priority dimension by default (paper §3.5).  Weights are one block per depth layer
(like a stacked LSTM) or one block for every layer (``tied_depth``, the paper's "tied" grids);
``shared_dims`` shares one weight matrix among a block's dimensions (§3.4).

Which function runs the grid is fixed when the stack is built (``runner``, ``kernels``): by
default :func:`reencoder.grid.fused_wavefront.run_grid_fused` with the C++ gate kernels
(``kernels="cpp"``; ``"torch"``: torch ops), or
:func:`reencoder.grid.wavefront.run_grid` for blocks the fused pass does not implement; a grid
run with an observer always goes through ``run_grid``.  The GEMM precision is an argument of
every run (``compute_dtype``), chosen by the model (``--grid-bf16``).
"""

from __future__ import annotations

import functools
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from .fused_wavefront import fused_supported, run_grid_fused
from .grid_lstm import GridLSTMBlock
from .wavefront import run_grid

GridState = Tuple[Tensor, Tensor]  # (h, m) of a grid face, each [F, B, n]
#: A grid runner: ``run_grid_fused``'s arguments (blocks, shape, boundary_h, boundary_m,
#: block_axis, dropout, compute_dtype) and results.
Runner = Callable[..., Tuple[list, list]]
RUNNERS = ("fused", "autograd")


def resolve_runner(runner: Union[None, str, Runner], kernels: str, blocks: nn.ModuleList, dropout) -> Runner:
    """The function a stack runs its grid with: ``None`` (the fused runner where it applies,
    else the autograd one), one of :data:`RUNNERS`, or a runner; ``kernels`` goes to the fused
    runner (:data:`reencoder.grid.gate_kernels.CHOICES`)."""
    if runner is None:
        runner = "fused" if fused_supported(blocks, dropout) else "autograd"
    if callable(runner):
        return runner
    if runner == "autograd":
        return run_grid
    if runner != "fused" or not fused_supported(blocks, dropout):
        raise ValueError(f"runner must be one of {RUNNERS} (fused: for blocks it implements) or a function, got {runner!r}")
    return functools.partial(run_grid_fused, kernels=kernels)


class DepthGridStack(nn.Module):
    """``depth`` layers of ``num_dims``-D Grid LSTM blocks; the last axis is depth.

    Args:
        num_dims: dimensions of each block (= grid axes, depth included).
        hidden_size: n, the size of every hidden and memory vector.
        depth: D, the number of layers along the depth axis.
        priority: make depth the priority dimension.
        shared_dims: share the block's weights across its dimensions (§3.4).
        tied_depth: one block for every depth layer (otherwise one block per layer).
        cell: ``"standard"`` or ``"gate-then-tanh"`` LSTM output (see :mod:`reencoder.grid.grid_lstm`).
        depth_dropout: dropout on hidden vectors passed up the depth axis (and out of the top).
        depth_transform: ``"lstm"``, or ``"tanh"`` / ``"relu"`` for a non-LSTM depth dimension
            (§3.6: ``h' = α(V H')``, no gates and no memory; with one depth layer the depth
            LSTM's memory would only ever see a zero input).
        depth_gate_bias: initial input/output gate bias of an LSTM depth dimension
            (:class:`~reencoder.grid.grid_lstm.GridLSTMBlock`'s ``priority_gate_bias``).
        runner: what runs the grid (see :func:`resolve_runner`; ``None``: the fastest that
            applies).
        kernels: the fused runner's gate math: ``"cpp"``, the C++ kernels, or ``"torch"``, torch ops
            (:data:`reencoder.grid.gate_kernels.CHOICES`).
    """

    def __init__(
        self,
        num_dims: int,
        hidden_size: int,
        depth: int,
        priority: bool = True,
        shared_dims: bool = False,
        tied_depth: bool = False,
        cell: str = "standard",
        depth_dropout: float = 0.0,
        depth_transform: str = "lstm",
        depth_gate_bias: float = 0.0,
        runner: Union[None, str, Runner] = None,
        kernels: str = "cpp",
    ):
        super().__init__()
        self._config = dict(
            num_dims=num_dims, hidden_size=hidden_size, depth=depth, priority=priority, shared_dims=shared_dims,
            tied_depth=tied_depth, cell=cell, depth_dropout=depth_dropout, depth_transform=depth_transform,
            depth_gate_bias=depth_gate_bias, runner=runner, kernels=kernels)
        if hidden_size < 1 or depth < 1:
            raise ValueError(f"hidden_size and depth must be positive, got {hidden_size}, {depth}")
        self.depth_axis = num_dims - 1
        self.hidden_size = hidden_size
        self.depth = depth
        self.depth_dropout = depth_dropout
        non_lstm = () if depth_transform == "lstm" else (self.depth_axis,)
        activation = "tanh" if depth_transform == "lstm" else depth_transform
        self.blocks = nn.ModuleList(
            GridLSTMBlock(num_dims, hidden_size, priority_dim=self.depth_axis if priority else None,
                          shared_dims=shared_dims, cell=cell, non_lstm_dims=non_lstm, activation=activation,
                          priority_gate_bias=depth_gate_bias)
            for _ in range(1 if tied_depth else depth)
        )
        self._runner = resolve_runner(runner, kernels, self.blocks, self.dropout)

    @property
    def options(self) -> dict:
        """The constructor options this grid was built with (a copy: :meth:`with_options` makes
        a grid with some of them replaced)."""
        return dict(self._config)

    @property
    def runner(self) -> Runner:
        """The function that runs this grid without an observer (fixed at construction)."""
        return self._runner

    @property
    def dropout(self):
        """Per grid axis: depth dropout on the depth axis, none on the others."""
        return [0.0] * self.depth_axis + [self.depth_dropout]

    def run(self, shape, boundary_h, boundary_m, observer=None, compute_dtype: Optional[torch.dtype] = None):
        """Run the grid (depth last in ``shape``) with per-layer blocks and depth dropout, its
        GEMM operands in ``compute_dtype`` (default: the boundary's dtype): by :attr:`runner`, or
        with an ``observer`` by :func:`reencoder.grid.wavefront.run_grid` (its hook)."""
        kwargs = dict(boundary_h=boundary_h, boundary_m=boundary_m, block_axis=self.depth_axis, dropout=self.dropout,
                      compute_dtype=compute_dtype)
        if observer is not None:
            return run_grid(self.blocks, shape, observer=observer, **kwargs)
        return self._runner(self.blocks, shape, **kwargs)

    def with_options(self, **options) -> "DepthGridStack":
        """A new grid of this one's class and configuration with some constructor ``options``
        replaced (``runner``, ``kernels``: a benchmark's variants), holding a copy of its
        parameters.  Subclasses must build the stack with a fixed number of dimensions."""
        grid = type(self).__new__(type(self))
        DepthGridStack.__init__(grid, **{**self._config, **options})
        grid.to(self.blocks[0].weight).load_state_dict(self.state_dict())  # its dtype and device too
        return grid.train(self.training)


def reorder_state(state: GridState, new_order: Tensor) -> GridState:
    """Reorder a carried grid state (or any ``(h, m)`` pair with the batch on dim 1, such as a
    target LSTM's) along the batch (beam search)."""
    return state[0].index_select(1, new_order), state[1].index_select(1, new_order)
