"""The C++ kernels against the torch ops they replace: the gate math (paper eq. 3 and
its derivatives) on the layouts the fused wavefront passes (gate-major pre-activations, state
tensors that are strided views of the slot buffers, F gate sets or one set shared by the
dimensions of §3.4's shared dims, standard and gate-then-tanh cell, float32 and float64), and the row gather / scatter of the
additive input."""

import pytest
import torch

from reencoder.grid import gate_kernels
from reencoder.grid.gate_math import (
    BufferLines,
    gates_backward,
    gates_backward_torch,
    gates_forward,
    gates_forward_torch,
    use_kernels,
)

pytestmark = pytest.mark.skipif(not gate_kernels.available(), reason="no C++ compiler: the torch ops run")


def strided(R, F, n, N, gen, dtype, layout="rows"):
    """``[R, F, n]`` views of an ``[R, N, n]`` buffer, as the fused wavefront's ``m_in``/``h_out``
    are ("rows"), or of an axis-major ``[N, R, n]`` one."""
    if layout == "rows":
        return torch.randn(R, N, n, generator=gen, dtype=dtype)[:, :F]
    return torch.randn(N, R, n, generator=gen, dtype=dtype).transpose(0, 1)[:, :F]


@pytest.mark.parametrize("layout", ["rows", "axis-major"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cell", ["standard", "gate-then-tanh"])
@pytest.mark.parametrize("F,g", [(2, 2), (2, 1), (1, 1), (3, 3)])
def test_kernels_match_torch_ops(F, g, cell, dtype, layout):
    gen = torch.Generator().manual_seed(F * 10 + g)
    R, n, N = 37, 24, F + 1
    pre = torch.randn(R, 4 * g * n, generator=gen, dtype=dtype) * 3  # saturated gates included,
    pre[:4] *= 40  # and pre-activations whose exp overflows (an exp-based tanh must still give ±1, not NaN)
    m_in = strided(R, F, n, N, gen, dtype, layout)
    outs = {}
    for name, fwd, bwd in (("kernel", gates_forward, gates_backward),
                           ("torch", gates_forward_torch, gates_backward_torch)):
        G = pre.clone()
        h, m = strided(R, F, n, N, gen, dtype, layout), strided(R, F, n, N, gen, dtype, layout)
        T = torch.empty(R, F, n, dtype=dtype)
        fwd(G, m_in, cell, h, m, T)
        g2 = torch.Generator().manual_seed(7)
        dh = strided(R, F, n, N, g2, dtype, layout)
        dm = strided(R, F, n, N, g2, dtype, layout)
        dm_in = strided(R, F, n, N, g2, dtype, layout)
        dG = bwd(G, T, m_in, m, dh, dm, cell, dm_in, torch.full_like(pre, float("nan")))  # dG fully written
        outs[name] = (G, h, m, T, dG, dm_in)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    for k, e, what in zip(outs["kernel"], outs["torch"], ("activations", "h'", "m'", "T", "dG", "dm_in")):
        torch.testing.assert_close(k, e, **tol, msg=lambda s, what=what: f"{what}: {s}")


def test_kernels_take_only_what_they_implement():
    x = torch.zeros(4, 2, 8)
    assert gate_kernels.usable(x, x)
    assert not gate_kernels.usable(x.half(), x.half())  # torch ops for other dtypes
    assert not gate_kernels.usable(x, x.transpose(1, 2))  # and for non-unit inner strides
    assert use_kernels("cpp", x, x) and not use_kernels("torch", x, x)  # the caller's choice
    with pytest.raises(ValueError, match="kernels must be"):
        use_kernels("fast", x, x)


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("REENCODER_GATE_KERNELS", "0")
    gate_kernels.available.cache_clear()
    try:
        assert not gate_kernels.available() and "not available, torch ops" in gate_kernels.report()
        x = torch.zeros(4, 2, 8)
        assert not gate_kernels.usable(x, x)
    finally:
        monkeypatch.delenv("REENCODER_GATE_KERNELS")
        gate_kernels.available.cache_clear()
    assert gate_kernels.available()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_row_gather_sum_matches_index_select(dtype):
    gen = torch.Generator().manual_seed(5)
    parts = [torch.randn(6, 40, generator=gen, dtype=dtype), torch.randn(9, 40, generator=gen, dtype=dtype)]
    idx = [torch.tensor([5, 0, 3, 3, 1]), torch.tensor([8, 2, 2, 0, 7])]
    out = torch.full((5, 40), float("nan"), dtype=dtype)
    gate_kernels.gather_rows_sum(out, parts, idx)
    torch.testing.assert_close(out, parts[0][idx[0]] + parts[1][idx[1]], rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_row_scatter_add_matches_index_add_with_repeated_indices(dtype):
    gen = torch.Generator().manual_seed(6)
    acc = torch.randn(7, 5000, generator=gen, dtype=dtype)  # wide: several column chunks in parallel
    src = torch.randn(6, 5000, generator=gen, dtype=dtype)
    idx = torch.tensor([6, 1, 1, 0, 6, 6])
    expected = acc.clone().index_add_(0, idx, src)
    gate_kernels.scatter_rows_add(acc, idx, src)
    torch.testing.assert_close(acc, expected)


def test_row_kernels_reject_out_of_range_indices():
    acc, src = torch.zeros(3, 8), torch.ones(2, 8)
    with pytest.raises(RuntimeError, match="index out of range"):
        gate_kernels.scatter_rows_add(acc, torch.tensor([0, 3]), src)
    with pytest.raises(RuntimeError, match="index out of range"):
        gate_kernels.gather_rows_sum(src, [acc], [torch.tensor([-1, 0])])
    assert acc.abs().sum() == 0  # checked before anything is written


@pytest.mark.parametrize("cell", ["standard", "gate-then-tanh"])
@pytest.mark.parametrize("F,g,k0", [(2, 2, 0), (2, 1, 0), (1, 1, 2)])
def test_memory_lines_read_and_written_where_they_lie(F, g, k0, cell):
    """m_in / dm_in given as lines of a buffer picked by an index (the fused wavefront's memory
    slots): the kernels read and write those lines in place, the torch path gathers and
    scatters them, and both equal the torch ops on the gathered tensor."""
    gen = torch.Generator().manual_seed(11)
    R, n, N, lines = 9, 16, 3, 40
    idx = torch.randperm(lines, generator=gen)[: R * N]  # every (row, side) its own buffer line
    buf = torch.randn(lines, n, generator=gen, dtype=torch.float64)
    pre = torch.randn(R, 4 * g * n, generator=gen, dtype=torch.float64) * 3
    dh, dm = (torch.randn(R, F, n, generator=gen, dtype=torch.float64) for _ in range(2))
    mem = BufferLines(buf, idx, N).sides(k0, F)
    m_in = mem.gather()
    assert torch.equal(m_in, buf[idx.view(R, N)[:, k0 : k0 + F]])
    results = {}
    for name in ("kernel", "torch lines", "torch tensor"):
        G, h, m, T = pre.clone(), *(torch.empty(R, F, n, dtype=torch.float64) for _ in range(3))
        dbuf = torch.full_like(buf, 7.0)
        dmem = BufferLines(dbuf, idx, N).sides(k0, F)
        if name == "torch tensor":
            gates_forward_torch(G, m_in, cell, h, m, T)
            dm_in = torch.empty(R, F, n, dtype=torch.float64)
            dG = gates_backward_torch(G, T, m_in, m, dh, dm, cell, dm_in)
            dmem.write(dm_in)
        else:
            kernels = "cpp" if name == "kernel" else "torch"
            gates_forward(G, mem, cell, h, m, T, kernels=kernels)
            dG = gates_backward(G, T, mem, m, dh, dm, cell, dmem, kernels=kernels)
        results[name] = (G, h, m, T, dG, dbuf)
    untouched = torch.ones(lines, dtype=torch.bool)
    untouched[idx.view(R, N)[:, k0 : k0 + F].reshape(-1)] = False
    assert torch.all(results["kernel"][5][untouched] == 7.0)  # only the lines of these sides written
    for name in ("kernel", "torch lines"):
        for a, b in zip(results[name], results["torch tensor"]):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_memory_lines_index_is_checked():
    buf, idx = torch.zeros(5, 8), torch.tensor([0, 1, 9, 2, 3, 4])  # R = 2 rows, N = 3 sides; 9 is out of range
    G = torch.zeros(2, 4 * 8)
    h, m, T = (torch.zeros(2, 3, 8) for _ in range(3))
    with pytest.raises(RuntimeError, match="memory index out of range"):
        gates_forward(G, BufferLines(buf, idx, 3).sides(0, 3), "standard", h, m, T)
    with pytest.raises(ValueError, match="one index"):
        gates_backward(G, T, BufferLines(buf, idx, 3).sides(0, 3), m, h, m, "standard", torch.zeros(2, 3, 8))


def test_a_finished_build_loads_without_torchs_extension_builder(tmp_path, monkeypatch):
    """Once built, a new process loads the kernels' library directly: no import of
    ``torch.utils.cpp_extension`` (setuptools, ninja), ~0.15 s of every CLI start; a change to the
    sources names a new build (the name hashes them), so a stale library is never loaded."""
    import subprocess
    import sys

    code = ("import sys, torch; from reencoder.grid import gate_kernels as g; "
            "print(g.available(), 'torch.utils.cpp_extension' in sys.modules, hasattr(torch.ops.reencoder_gemm, 'mm_bf16'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "True"]
    name = gate_kernels._build_name()
    assert (gate_kernels._build_dir(name) / f"{name}.so").exists()
    copy = tmp_path / "gate_kernels.cpp"
    copy.write_text(gate_kernels.SOURCES[0].read_text() + "\n// changed\n")
    monkeypatch.setattr(gate_kernels, "SOURCES", [copy, *gate_kernels.SOURCES[1:]])
    assert gate_kernels._build_name() != name
