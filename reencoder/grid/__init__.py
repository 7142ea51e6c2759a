"""The Grid LSTM engine, in pure torch (no fairseq): blocks, grids and the runners that
compute them (Kalchbrenner, Danihelka & Graves, *Grid Long Short-Term Memory*, ICLR 2016).

* :mod:`.grid_lstm` — the N-D block (§3, eqs. 3–5);
* :mod:`.schedule` — the hyperplane schedule (§4) and the face/boundary types;
* :mod:`.fused_wavefront` — the runner the models use: one autograd Function with a
  hand-written backward, read top-down from its pseudocode header; with
  :mod:`.fused_memory` (where every vector lies, the blocks' matrices, reused buffers) and the
  gate math (:mod:`.gate_math`, C++ in :mod:`.gate_kernels`);
* :mod:`.wavefront` — the runner through autograd (any block; grids with an observer);
* :mod:`.reference` — the naive cell-by-cell loop both runners must match;
* :mod:`.row_step` — one target row outside autograd (incremental decoding);
* :mod:`.grid_stack` — a stack of blocks along depth, shared by
* :mod:`.reencoder_grid` — the Reencoder's 3D grid (§5.3) and
* :mod:`.lm_grid` — the character LM's 2D grid (§5.1).

Glossary (one meaning per word, here and in the docs):

* **tied** — weights shared along depth only: one block for every depth layer (``tied_depth``,
  the paper's "tied" grids);
* **shared dims** — one weight matrix for a block's dimensions (§3.4, ``shared_dims``), so its
  non-priority dimensions share one set of gates;
* **fused** — the fused wavefront runner (``runner="fused"``), nothing else;
* **kernels** — the gate math's implementation: ``"cpp"`` (the C++ kernels) or ``"torch"``
  (torch ops);
* **row** — target row ``j`` of the Reencoder's grid (and, in code, a matrix row); the fused
  wavefront's buffers hold *slots* (one side of one cell, ``[B, n]``) made of *lines* (one batch
  element's vector);
* **group** — the cells of one hyperplane that one block computes with one GEMM per transform.

The fairseq models in :mod:`reencoder.models` build on these; nothing here imports them.
"""
