"""The N-D Grid LSTM block against hand-written formulas (paper eqs. 3-5, §3.4-3.6)."""

import pytest
import torch

from reencoder.grid.grid_lstm import GridLSTMBlock

sig, tanh = torch.sigmoid, torch.tanh


def lstm_by_hand(H, m, W, b, cell="standard"):
    """Paper eq. 3 written out gate by gate."""
    n = m.shape[-1]
    Wu, Wf, Wo, Wc = W[:n], W[n : 2 * n], W[2 * n : 3 * n], W[3 * n :]
    bu, bf, bo, bc = b[:n], b[n : 2 * n], b[2 * n : 3 * n], b[3 * n :]
    gu, gf, go = sig(H @ Wu.T + bu), sig(H @ Wf.T + bf), sig(H @ Wo.T + bo)
    gc = tanh(H @ Wc.T + bc)
    m_new = gf * m + gu * gc
    h_new = tanh(go * m_new) if cell == "gate-then-tanh" else go * tanh(m_new)
    return h_new, m_new


def random_inputs(N, n=5, M=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    hs = [torch.randn(M, n, generator=g, dtype=torch.double) for _ in range(N)]
    ms = [torch.randn(M, n, generator=g, dtype=torch.double) for _ in range(N)]
    return hs, ms


def randomize(block, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5)
    return block


@pytest.mark.parametrize("cell", ["standard", "gate-then-tanh"])
@pytest.mark.parametrize("N", [1, 2, 3])
def test_unshared_block_matches_equations(N, cell):
    n = 5
    block = randomize(GridLSTMBlock(N, n, cell=cell).double())
    hs, ms = random_inputs(N, n)
    H = torch.cat(hs, dim=-1)
    h_out, m_out = block(hs, ms)
    W = block.weight.split(4 * n)
    b = block.bias.split(4 * n)
    for k in range(N):
        h_ref, m_ref = lstm_by_hand(H, ms[k], W[k], b[k], cell)
        torch.testing.assert_close(h_out[k], h_ref)
        torch.testing.assert_close(m_out[k], m_ref)


def test_priority_dimension_sees_updated_hidden_vectors():
    n, p = 4, 2
    block = randomize(GridLSTMBlock(3, n, priority_dim=p).double())
    hs, ms = random_inputs(3, n)
    h_out, m_out = block(hs, ms)
    H = torch.cat(hs, dim=-1)
    W, b = block.weight.split(4 * n), block.bias.split(4 * n)
    for k in (0, 1):  # the others are computed first, from the old H
        h_ref, m_ref = lstm_by_hand(H, ms[k], W[k], b[k])
        torch.testing.assert_close(h_out[k], h_ref)
    H_prime = torch.cat([h_out[0], h_out[1], hs[2]], dim=-1)  # updated h'_0, h'_1; old h_2
    h_ref, m_ref = lstm_by_hand(H_prime, ms[p], block.priority_weight, block.priority_bias)
    torch.testing.assert_close(h_out[p], h_ref)
    torch.testing.assert_close(m_out[p], m_ref)
    # and it differs from the same transform applied without priority
    h_plain, _ = lstm_by_hand(H, ms[p], block.priority_weight, block.priority_bias)
    assert (h_out[p] - h_plain).abs().max() > 1e-3


def test_priority_changes_the_block_output():
    torch.manual_seed(0)
    plain = randomize(GridLSTMBlock(2, 4).double())
    prio = GridLSTMBlock(2, 4, priority_dim=1).double()
    with torch.no_grad():  # same weights: dim 0 in the shared matrix, dim 1 as the priority one
        prio.weight.copy_(plain.weight[:16])
        prio.bias.copy_(plain.bias[:16])
        prio.priority_weight.copy_(plain.weight[16:])
        prio.priority_bias.copy_(plain.bias[16:])
    hs, ms = random_inputs(2, 4)
    a, b = plain(hs, ms), prio(hs, ms)
    torch.testing.assert_close(a[0][0], b[0][0])  # the non-priority side is identical
    assert (a[0][1] - b[0][1]).abs().max() > 1e-3  # the priority side is not


def test_shared_dims_use_one_matrix_for_every_dimension():
    n = 3
    block = randomize(GridLSTMBlock(3, n, shared_dims=True, priority_dim=2).double())
    assert not hasattr(block, "priority_weight")
    assert block.weight.shape == (4 * n, 3 * n)
    hs, ms = random_inputs(3, n)
    h_out, m_out = block(hs, ms)
    H = torch.cat(hs, dim=-1)
    for k in (0, 1):
        h_ref, m_ref = lstm_by_hand(H, ms[k], block.weight, block.bias)
        torch.testing.assert_close(h_out[k], h_ref)
        torch.testing.assert_close(m_out[k], m_ref)
    H_prime = torch.cat([h_out[0], h_out[1], hs[2]], dim=-1)
    h_ref, _ = lstm_by_hand(H_prime, ms[2], block.weight, block.bias)
    torch.testing.assert_close(h_out[2], h_ref)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_non_lstm_dimension_is_activation_of_projection(activation):
    n = 4
    block = randomize(GridLSTMBlock(2, n, non_lstm_dims=[0], activation=activation).double())
    hs, ms = random_inputs(2, n)
    h_out, m_out = block(hs, ms)
    H = torch.cat(hs, dim=-1)
    V, v = block.weight[:n], block.bias[:n]
    act = torch.tanh if activation == "tanh" else torch.relu
    torch.testing.assert_close(h_out[0], act(H @ V.T + v))
    assert torch.count_nonzero(m_out[0]) == 0
    h_ref, m_ref = lstm_by_hand(H, ms[1], block.weight[n:], block.bias[n:])
    torch.testing.assert_close(h_out[1], h_ref)
    torch.testing.assert_close(m_out[1], m_ref)


def test_one_dimensional_block_is_highway_like_lstm():
    """1D Grid LSTM (paper §3.1): one LSTM transform whose input is its own hidden vector."""
    n = 6
    block = randomize(GridLSTMBlock(1, n).double())
    cell = torch.nn.LSTMCell(n, n).double()
    u, f, o, c = block.weight.chunk(4)
    bu, bf, bo, bc = block.bias.chunk(4)
    with torch.no_grad():  # torch's gate order is (input, forget, cell, output)
        cell.weight_ih.zero_()
        cell.bias_hh.zero_()
        cell.weight_hh.copy_(torch.cat([u, f, c, o]))
        cell.bias_ih.copy_(torch.cat([bu, bf, bc, bo]))
    hs, ms = random_inputs(1, n)
    h_out, m_out = block(hs, ms)
    h_ref, m_ref = cell(torch.zeros_like(hs[0]), (hs[0], ms[0]))
    torch.testing.assert_close(h_out[0], h_ref)
    torch.testing.assert_close(m_out[0], m_ref)


def test_forget_bias_initialised_on_every_lstm_dimension():
    block = GridLSTMBlock(3, 4, priority_dim=2, forget_bias=1.0)
    assert torch.all(block.bias.view(2, 4, 4)[:, 1] == 1.0)
    assert torch.all(block.bias.view(2, 4, 4)[:, [0, 2, 3]] == 0.0)
    assert torch.all(block.priority_bias.view(4, 4)[1] == 1.0)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="cell"):
        GridLSTMBlock(2, 4, cell="gru")
    with pytest.raises(ValueError, match="priority_dim"):
        GridLSTMBlock(2, 4, priority_dim=2)
    with pytest.raises(ValueError, match="shared dims"):
        GridLSTMBlock(2, 4, shared_dims=True, non_lstm_dims=[0])


def test_priority_gate_bias_opens_only_the_priority_input_and_output_gates():
    block = GridLSTMBlock(2, 4, priority_dim=1, forget_bias=1.0, priority_gate_bias=2.0)
    assert block.priority_bias.view(4, 4)[:, 0].tolist() == [2.0, 1.0, 2.0, 0.0]  # u, f, o, c
    assert torch.all(block.bias.view(4, 4)[[0, 2, 3]] == 0.0)  # the first transform is untouched
    tanh_depth = GridLSTMBlock(2, 4, priority_dim=1, non_lstm_dims=[1], priority_gate_bias=2.0)
    assert torch.all(tanh_depth.priority_bias == 0.0)  # a non-LSTM transform has no gates


@pytest.mark.parametrize("bias, gain", [(0.0, 0.25), (2.0, torch.sigmoid(torch.tensor(2.0)).item() ** 2)])
def test_zero_memory_priority_lstm_gain_is_set_by_the_gate_bias(bias, gain):
    """The conditioning defect: a priority LSTM fed a zero memory (the bottom of depth) maps a
    small change of its candidate pre-activation to σ(b_u)·σ(b_o) times that change of h'."""
    block = GridLSTMBlock(2, 3, priority_dim=1, priority_gate_bias=bias)
    with torch.no_grad():
        block.priority_weight.zero_()
    H = torch.zeros(1, 6, dtype=block.priority_weight.dtype)
    eps = 1e-3
    h0 = block([H[:, :3], H[:, 3:]], [torch.zeros(1, 3)] * 2)[0][1]
    with torch.no_grad():
        block.priority_bias[9:].fill_(eps)  # the candidate c's pre-activation
    h1 = block([H[:, :3], H[:, 3:]], [torch.zeros(1, 3)] * 2)[0][1]
    torch.testing.assert_close((h1 - h0) / eps, torch.full((1, 3), gain), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("kw,first,priority", [
    # unshared: one 4n-row LSTM per first dimension, the priority LSTM in its own matrix
    (dict(priority_dim=2), [((0,), True, (0, 16)), ((1,), True, (16, 32))], ("priority_weight", True, (0, 16))),
    # shared dims (§3.4): one set of gates for both first dimensions, and the same matrix for depth
    (dict(priority_dim=2, shared_dims=True), [((0, 1), True, (0, 16))], ("weight", True, (0, 16))),
    # a tanh depth (§3.6) next to LSTM dimensions sharing one matrix keeps a V of its own, n rows
    (dict(priority_dim=2, shared_dims=True, non_lstm_dims=[2]), [((0, 1), True, (0, 16))], ("priority_weight", False, (0, 4))),
    # no priority: every dimension in the first GEMM, a non-LSTM one with n rows
    (dict(non_lstm_dims=[1]), [((0,), True, (0, 16)), ((1,), False, (16, 20)), ((2,), True, (20, 36))], None),
])
def test_layout_describes_every_transform_and_its_rows(kw, first, priority):
    """The block's one description of its transforms: dimensions, kind and rows, which the
    block's own forward pass, the fused runner and the visualisation all read."""
    block = GridLSTMBlock(3, 4, **kw)
    layout = block.layout
    assert [(t.dims, t.lstm, t.rows) for t in layout.first] == first
    assert (None if layout.priority is None else (layout.priority.weight, layout.priority.lstm, layout.priority.rows)) == priority
    assert block.weight.shape[0] == first[-1][2][1] and layout.own_priority == hasattr(block, "priority_weight")
    assert [p is q for p, q in zip(block.params(), block.parameters())] == [True] * len(list(block.parameters()))
    for t in layout.transforms:  # a transform's rows are views of the parameters
        weight, bias = block.transform_params(t)
        assert weight.shape == (t.rows[1] - t.rows[0], 12) and weight.data_ptr() == getattr(block, t.weight)[t.rows[0]].data_ptr()
        assert layout.transform_of(t.dims[-1]) == t
