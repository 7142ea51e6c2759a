"""``--optimizer fused_adam``: fairseq's ``adam`` in one pass over each parameter.

fairseq's :class:`fairseq.optim.adam.Adam` updates every parameter tensor with seven separate
elementwise ops (the two moments, the square root, the step), each a pass over memory; on a CPU
the optimizer then costs as much as a sizeable layer (``python -m eval.profile_step``: the
Adam step is a fixed share of every update, growing with the parameters: the embeddings).
fairseq's fused Adam is CUDA-only.  This optimizer takes exactly the flags of ``adam``
(``--adam-betas``, ``--adam-eps``, ``--weight-decay``) and runs torch's fused ``AdamW`` kernel
(``torch.optim.AdamW(fused=True)``, on CPU and GPU), one pass per tensor.

The update is fairseq's (decoupled weight decay, as fairseq's ``adam`` does: its docstring calls
it the AdamW variant) up to where ``eps`` enters: fairseq divides by
``(sqrt(v_t) + eps) / sqrt(1 - beta2^t)``, torch by ``sqrt(v_t) / sqrt(1 - beta2^t) + eps``; with
the default ``eps = 1e-8`` the two agree to float rounding (``tests/unit/test_fused_adam.py``
runs both side by side).  Checkpoints keep torch's optimizer state; fairseq refuses to resume
one optimizer's state into the other (as for any change of ``--optimizer``).  Measured:
``recipes/RESULTS.md``, "Performance".
"""

import torch
from fairseq.optim import FairseqOptimizer, register_optimizer
from fairseq.optim.adam import FairseqAdam, FairseqAdamConfig


@register_optimizer("fused_adam", dataclass=FairseqAdamConfig)
class FusedAdam(FairseqAdam):
    """fairseq's ``adam`` (its config and :attr:`optimizer_config`) on torch's fused AdamW."""

    def __init__(self, cfg: FairseqAdamConfig, params):
        FairseqOptimizer.__init__(self, cfg)
        if getattr(cfg, "fp16_adam_stats", False):
            raise ValueError("--optimizer fused_adam keeps fp32 moments: drop --fp16-adam-stats")
        self._optimizer = torch.optim.AdamW(params, fused=True, **self.optimizer_config)
