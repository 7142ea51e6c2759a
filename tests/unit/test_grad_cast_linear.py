"""The output layer's bf16 backward (reencoder.models.low_precision.GradCastLinear): the forward is
F.linear's exactly, the gradients are F.linear's to the precision of the backward's dtype."""

import pytest
import torch
import torch.nn.functional as F

from reencoder.models.low_precision import GradCastLinear, linear


def operands(bias=True, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(3, 7, 32, requires_grad=True)
    w = torch.randn(50, 32, requires_grad=True)
    b = torch.randn(50, requires_grad=True) if bias else None
    return x, w, b


def grads(out, *tensors):
    g = torch.randn_like(out, generator=torch.Generator().manual_seed(1))
    return torch.autograd.grad(out, [t for t in tensors if t is not None], g, retain_graph=True)


@pytest.mark.parametrize("bias", [True, False])
def test_forward_is_exact_and_gradients_match_to_the_backward_dtype(bias):
    x, w, b = operands(bias)
    ref = F.linear(x, w, b)
    out = linear(x, w, b, torch.float32, grad_dtype=torch.bfloat16)
    assert out.grad_fn is not None and "GradCastLinear" in type(out.grad_fn).__name__
    assert torch.equal(out, ref)
    for got, want in zip(grads(out, x, w, b), grads(ref, x, w, b)):
        assert got.dtype == torch.float32 and got.shape == want.shape
        assert (got - want).abs().max() < 0.02 * want.abs().max()  # bf16: ~3 significant digits
    assert not torch.equal(grads(out, x)[0], grads(ref, x)[0])  # the backward really ran in bf16


def test_a_wider_backward_dtype_gives_the_fp32_gradients_to_rounding():
    x, w, b = (t.detach().double().requires_grad_() for t in operands())
    out = GradCastLinear.apply(x, w, b, torch.float64)
    ref = F.linear(x, w, b)
    for got, want in zip(grads(out, x, w, b), grads(ref, x, w, b)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_outside_autograd_or_without_grad_dtype_it_is_plain_linear():
    x, w, b = operands()
    with torch.no_grad():
        assert torch.equal(linear(x, w, b, torch.float32, grad_dtype=torch.bfloat16), F.linear(x, w, b))
    out = linear(x, w, b, torch.float32)
    assert "GradCastLinear" not in type(out.grad_fn).__name__
