"""Row readouts (reencoder.models.readout): each against its formula, and blind to padding cells."""

import pytest
import torch

from reencoder.models.readout import READOUTS, RowReadout


def rows(seed=0, B=3, T=4, S=5, n=6):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, S, n, generator=g, dtype=torch.float64), torch.tensor([5, 2, 3])


def test_last_is_the_last_real_source_cell():
    top, lengths = rows()
    out = RowReadout("last", 6).double()(top, lengths)
    for b, L in enumerate(lengths.tolist()):
        torch.testing.assert_close(out[b], top[b, :, L - 1])


def test_max_is_the_elementwise_max_over_real_cells():
    top, lengths = rows()
    out = RowReadout("max", 6).double()(top, lengths)
    for b, L in enumerate(lengths.tolist()):
        torch.testing.assert_close(out[b], top[b, :, :L].amax(dim=1))


def test_attention_with_a_zero_query_averages_the_real_cells():
    """e_ij = 0 for every i gives α uniform over the |x| real cells: c_j is their mean."""
    top, lengths = rows()
    ro = RowReadout("attn", 6).double()
    torch.nn.init.zeros_(ro.query.weight)
    out = ro(top, lengths)
    for b, L in enumerate(lengths.tolist()):
        mean = top[b, :, :L].mean(dim=1)
        last = top[b, :, L - 1]
        torch.testing.assert_close(out[b], torch.tanh(ro.out(torch.cat([mean, last], dim=-1))))


def test_attention_weights_follow_the_query():
    """A query aligned with one cell's vector puts (almost) all weight on that cell."""
    top, lengths = rows()
    ro = RowReadout("attn", 6).double()
    with torch.no_grad():
        ro.query.weight.copy_(torch.eye(6) * 1e3)
    top[0, :, 4] = top[0, :, 1] * 10  # the last cell (the query) points at cell 1 ...
    top[0, :, 1] = top[0, :, 4]  # ... which holds the same vector
    out = ro(top, lengths)
    expect = torch.tanh(ro.out(torch.cat([top[0, :, 1], top[0, :, 4]], dim=-1)))
    torch.testing.assert_close(out[0], expect)


@pytest.mark.parametrize("kind", READOUTS)
def test_padding_cells_never_matter_but_real_cells_do(kind):
    top, lengths = rows()
    ro = RowReadout(kind, 6).double()
    base = ro(top, lengths)
    noisy = top.clone()
    noisy[1, :, 2:] = 1e6  # item 1 has 2 real cells
    torch.testing.assert_close(ro(noisy, lengths), base)
    changed = top.clone()
    changed[1, :, 1] += 5.0  # its last real cell (every readout reads it)
    assert (ro(changed, lengths)[1] - base[1]).abs().max() > 1e-3


def test_unknown_readout_is_refused():
    with pytest.raises(ValueError, match="readout must be one of"):
        RowReadout("mean", 4)


def test_attention_pools_the_source_words_with_its_own_weights():
    """--grid-readout-source-words: r_j = tanh(W_o [c_j; h_|x|j; Σ_i α_ij s_i]) with the α of c_j;
    padding source words never matter, and row by row equals the whole."""
    top, lengths = rows()
    source = torch.randn(top.shape[0], top.shape[2], 5, dtype=torch.float64)
    ro = RowReadout("attn", 6, source_size=5).double()
    with torch.no_grad():
        ro.query.weight.copy_(torch.eye(6) * 1e3)
    top[0, :, 4] = top[0, :, 1] * 10  # item 0's query points at cell 1, as in the test above
    top[0, :, 1] = top[0, :, 4]  # (cells 1 and 4 share the weight: give them one source word)
    source[0, 4] = source[0, 1]
    out = ro(top, lengths, source=source)
    expect = torch.tanh(ro.out(torch.cat([top[0, :, 1], top[0, :, 4], source[0, 1].expand(top.shape[1], 5)], dim=-1)))
    torch.testing.assert_close(out[0], expect)
    padded = source.clone()
    padded[1, 2:] = 1e6  # item 1 has 2 real cells
    torch.testing.assert_close(ro(top, lengths, source=padded), out)
    rows_one_by_one = torch.cat([ro(top[:, j:j + 1], lengths, source=source) for j in range(top.shape[1])], 1)
    torch.testing.assert_close(rows_one_by_one, out)
    with pytest.raises(ValueError, match="only the 'attn' readout"):
        RowReadout("max", 6, source_size=5)
