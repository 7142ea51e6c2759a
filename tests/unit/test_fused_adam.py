"""``--optimizer fused_adam`` (reencoder.optim.fused_adam): fairseq's ``adam`` flags, torch's fused
kernel, the same updates as fairseq's own Adam."""

import pytest
import torch
from fairseq.optim import build_optimizer
from fairseq.optim.adam import FairseqAdamConfig
from omegaconf import OmegaConf

import reencoder  # noqa: F401  (registers the optimizer)


def cfg(name: str, weight_decay: float = 0.0):
    c = OmegaConf.structured(FairseqAdamConfig(lr=[0.01], adam_betas="(0.9,0.98)", weight_decay=weight_decay, tpu=False))
    c._name = name
    return c


def train(name: str, steps: int = 30, weight_decay: float = 0.0):
    """``steps`` updates of the same parameters on the same (parameter-dependent) gradients."""
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(37, 19)), torch.nn.Parameter(torch.randn(19))]
    opt = build_optimizer(cfg(name, weight_decay), params)
    target = torch.randn(37, 19, generator=torch.Generator().manual_seed(1))
    for step in range(steps):
        opt.zero_grad()
        loss = ((params[0] - target) ** 2).sum() * (1 + step % 3) + params[1].sin().sum()
        opt.backward(loss)
        opt.step()
    return opt, [p.detach().clone() for p in params]


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_fused_adam_makes_fairseq_adams_updates(weight_decay):
    fused, got = train("fused_adam", weight_decay=weight_decay)
    plain, want = train("adam", weight_decay=weight_decay)
    assert type(fused).__name__ == "FusedAdam" and type(plain).__name__ == "FairseqAdam"
    assert isinstance(fused.optimizer, torch.optim.AdamW) and fused.optimizer.defaults["fused"]
    start = train("adam", steps=0)[1]
    for g, w, s in zip(got, want, start):
        assert (w - s).abs().max() > 0.05  # the parameters really moved
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)


def test_fused_adam_takes_fairseqs_learning_rate_changes():
    opt, _ = train("fused_adam", steps=1)
    opt.set_lr(0.5)
    assert opt.get_lr() == 0.5 and opt.optimizer.param_groups[0]["lr"] == 0.5
