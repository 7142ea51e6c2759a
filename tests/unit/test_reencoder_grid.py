"""Pure-torch pieces of the Reencoder's 3D grid (reencoder.grid.reencoder_grid)."""

import torch

from reencoder.grid.reencoder_grid import reverse_real_tokens


def test_reverse_real_tokens_keeps_padding_in_place():
    tokens = torch.tensor([[5, 6, 7, 2], [8, 2, 1, 1]])
    out = reverse_real_tokens(tokens, torch.tensor([4, 2]))
    assert out.tolist() == [[2, 7, 6, 5], [2, 8, 1, 1]]
