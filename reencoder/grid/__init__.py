"""The Grid LSTM engine, in pure torch (no fairseq): blocks, grids and the runners that
compute them (Kalchbrenner, Danihelka & Graves, *Grid Long Short-Term Memory*, ICLR 2016).

* :mod:`.grid_lstm` — the N-D block (§3, eqs. 3–5);
* :mod:`.schedule` — the hyperplane schedule (§4) and the face/boundary types;
* :mod:`.wavefront` — the runner through autograd (any block);
* :mod:`.fused_wavefront` — the fast runner with a hand-written backward, with its slot layout
  (:mod:`.fused_plan`), one block group's steps (:mod:`.fused_steps`), the additive input
  (:mod:`.fused_additive`), the blocks' matrices and GEMMs (:mod:`.fused_weights`), gate math
  (:mod:`.gate_math`, :mod:`.gate_kernels`) and scratch memory (:mod:`.workspace`);
* :mod:`.reference` — the naive cell-by-cell loop both runners must match;
* :mod:`.grid_stack` — a stack of blocks along depth, shared by
* :mod:`.reencoder_grid` — the Reencoder's 3D grid (§5.3) and
* :mod:`.lm_grid` — the character LM's 2D grid (§5.1).

The fairseq models in :mod:`reencoder.models` build on these; nothing here imports them.
"""
