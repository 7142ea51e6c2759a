"""The GEMM on bf16 operands with fp32 sums and results (``reencoder/grid/bf16_gemm.cpp``, through
:mod:`reencoder.grid.bf16_gemm`): against a float64 reference on the same rounded operands, at
every tail of its blocking; its in-place form; its autograd wrapper in the output layer."""

import pytest
import torch
import torch.nn.functional as F

from reencoder.grid import bf16_gemm
from reencoder.grid.bf16_gemm import kernel_runs, linear_bf16_into, linear_bf16_operands, pack_bf16
from reencoder.models.low_precision import Bf16OperandLinear, GradCastLinear, linear


def reference(x, w, b):
    """The exact sums of the bf16-rounded operands (float64), in float32."""
    r = lambda t: t.to(torch.bfloat16).double()  # noqa: E731
    out = F.linear(r(x), r(w), None if b is None else b.double())
    return out.float()


def operands(M, N, K, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(M, K, generator=g)
    w = torch.randn(N, K, generator=g) * 0.3
    b = torch.randn(N, generator=g) if bias else None
    return x, w, b


# M: every row tail of the 6-row micro-kernel; N: a partial last block of 64 columns, and one block
@pytest.mark.parametrize("M", [1, 2, 3, 4, 5, 6, 7, 13, 40])
@pytest.mark.parametrize("N,K", [(131, 48), (64, 8), (7, 512)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("path", ["kernel", "fp32-gemm"])
def test_sums_are_the_exact_sums_of_the_rounded_operands(M, N, K, bias, path, monkeypatch):
    """Both paths: the kernel (where the CPU has bf16 dot products) and the fp32 GEMM on rounded
    operands that replaces it elsewhere."""
    if path == "fp32-gemm":
        monkeypatch.setattr(bf16_gemm, "kernel_runs", lambda *args: False)
    x, w, b = operands(M, N, K, bias)
    got = linear_bf16_operands(x, w, b)
    want = reference(x, w, b)
    assert got.dtype == torch.float32 and got.shape == (M, N)
    # fp32 sums of K products: rounding of order K * 2^-24 relative to the sum of |products|
    scale = F.linear(x.abs(), w.abs(), None if b is None else b.abs())
    assert ((got - want).abs() <= 1e-5 * scale + 1e-6).all()


def test_results_are_not_rounded_to_bf16_as_torchs_bf16_gemm_rounds_them():
    x, w, b = operands(64, 300, 512)
    want = reference(x, w, b)
    ours = (linear_bf16_operands(x, w, b) - want).abs().max()
    torchs = (F.linear(x.bfloat16(), w.bfloat16(), b.bfloat16()).float() - want).abs().max()
    assert ours < torchs / 100


def test_the_kernel_runs_where_the_cpu_has_bf16_dot_products():
    from reencoder.grid.hardware import native_bf16

    x, w, _ = operands(3, 70, 16)
    packed = pack_bf16(w)
    assert (packed is not None) == kernel_runs(x)
    if packed is not None:
        assert packed.shape == (2, 8, 64, 2)  # 70 columns in 2 blocks of 64, K / 2 pairs
        assert torch.equal(linear_bf16_operands(x, w, None, packed), linear_bf16_operands(x, w, None))
        assert native_bf16(x.device)[0]


def test_batched_inputs_keep_their_leading_dimensions():
    x, w, b = operands(12, 33, 20)
    got = linear_bf16_operands(x.view(3, 4, 20), w, b)
    assert got.shape == (3, 4, 33)
    assert torch.equal(got.view(12, 33), linear_bf16_operands(x, w, b))


def test_autograd_forward_is_the_kernel_and_backward_is_grad_cast_linears():
    x, w, b = operands(10, 50, 32)
    x, w, b = (t.requires_grad_() for t in (x, w, b))
    out = linear(x, w, b, torch.float32, grad_dtype=torch.bfloat16, sums_fp32=True)
    assert "Bf16OperandLinear" in type(out.grad_fn).__name__
    assert torch.equal(out.detach(), linear_bf16_operands(x.detach(), w.detach(), b.detach()))
    g = torch.randn(10, 50, generator=torch.Generator().manual_seed(3))
    got = torch.autograd.grad(out, (x, w, b), g)
    want = torch.autograd.grad(GradCastLinear.apply(x, w, b, torch.bfloat16), (x, w, b), g)
    for a, e in zip(got, want):
        assert torch.equal(a, e)
    with torch.no_grad():  # decoding: no autograd node, the same numbers
        assert torch.equal(linear(x, w, b, torch.float32, sums_fp32=True), out.detach())
    assert issubclass(Bf16OperandLinear, GradCastLinear)


@pytest.mark.parametrize("M", [1, 5, 7, 160])
def test_linear_bf16_into_adds_the_exact_sums_into_its_output_or_writes_them_over_a_bias(M):
    x, w, b = operands(M, 512, 128)
    packed = pack_bf16(w)
    if packed is None:
        pytest.skip("no bf16 dot products on this CPU: the kernel never runs here")
    start = torch.randn(M, 512, generator=torch.Generator().manual_seed(5))
    out = start.clone()
    assert linear_bf16_into(out, x, packed) is out
    want = (start.double() + reference(x, w, None).double()).float()
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    strided = torch.randn(M, 2, 128)[:, 0]  # a row of the row step's [S, B, 2, n] states
    torch.testing.assert_close(linear_bf16_into(torch.zeros(M, 512), strided, packed), reference(strided, w, None),
                               rtol=1e-5, atol=1e-5)
    over = linear_bf16_into(start.clone(), x, packed, b.bfloat16())  # the row step's biases are bf16
    torch.testing.assert_close(over, reference(x, w, b.bfloat16().float()), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("flags, on_cpu", [({"avx512_bf16"}, True), ({"avx512_bf16", "amx_bf16"}, False),
                                           ({"avx2"}, False)])
def test_auto_picks_the_bf16_inputs_kernel_only_on_a_cpu_where_it_pays(monkeypatch, flags, on_cpu):
    """``--output-layer-bf16-inputs auto`` is a CPU kernel's choice: only on a CPU with AVX512-BF16
    and without AMX (on the AMX Xeon fp32 GEMMs beat it), never on another device (here ``meta``)
    even where bf16 is native; ``always`` still rounds; the other flags take native bf16."""
    from reencoder.grid import hardware
    from reencoder.models import low_precision
    from reencoder.models.low_precision import Bf16Choice

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(low_precision, "native_bf16", lambda device: (True, "native (test)"))
    kernel = hardware.bf16_dot_kernel_pays
    elsewhere, cpu = torch.empty(2, device="meta"), torch.empty(2)
    assert not Bf16Choice("auto", "--f", "f", decide=kernel).use(elsewhere)
    assert Bf16Choice("auto", "--f", "f", decide=kernel).use(cpu) is on_cpu
    assert Bf16Choice("auto", "--f", "f").use(elsewhere)  # the other flags: native is enough
    assert Bf16Choice("always", "--f", "f", decide=kernel).use(elsewhere)
