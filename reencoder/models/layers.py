"""Layers with fairseq's initialisation (as in ``fairseq/models/lstm.py``), pure torch: every
weight of the models around the grid starts in ``U(-0.1, 0.1)``, biases at zero."""

from __future__ import annotations

import torch.nn as nn


def Embedding(num_embeddings: int, embedding_dim: int, padding_idx: int) -> nn.Embedding:
    m = nn.Embedding(num_embeddings, embedding_dim, padding_idx=padding_idx)
    nn.init.uniform_(m.weight, -0.1, 0.1)
    nn.init.constant_(m.weight[padding_idx], 0)
    return m


def Linear(in_features: int, out_features: int, bias: bool = True, init: float = 0.1) -> nn.Linear:
    """``init``: the weights' bound (an output layer of its own takes ``--decoder-output-init``)."""
    m = nn.Linear(in_features, out_features, bias=bias)
    nn.init.uniform_(m.weight, -init, init)
    if bias:
        nn.init.zeros_(m.bias)
    return m
