"""How much a translation model reads its source: per-target-position NLL with each sentence's
own source against another sentence's source.

For every batch of a binarized subset, the target side is scored twice by teacher forcing:
once with its own source, once with the source of the next sentence in the batch (a cyclic
shift, so every target gets a different, real source of similar length).  A model that ignores
the source scores both the same; the gap, position by position, shows where it reads it.  The
Reencoder predicts target word ``j`` from grid row ``j``, which must re-read the source: the
per-position gap shows whether the later rows do.

Works for any fairseq translation model (the Reencoder, fairseq's ``lstm`` and
``transformer``).  Batches are re-sorted by source length after the shift, as fairseq's
``lstm`` encoder requires.  NLL is in bits per token (base 2), as fairseq logs ``nll_loss``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List

import torch

CONDITIONS = ("own", "other")


@dataclass
class SourceReliance:
    """Summed NLL (bits) and token counts per target position, for each condition."""

    positions: int
    nll: Dict[str, List[float]] = field(init=False)
    tokens: List[int] = field(init=False)
    sentences: int = 0

    def __post_init__(self):
        self.nll = {c: [0.0] * self.positions for c in CONDITIONS}
        self.tokens = [0] * self.positions

    def mean(self, condition: str, position: int = None) -> float:
        """Mean NLL per token at ``position`` (the last one also counts every later position),
        or over all tokens."""
        if position is None:
            return sum(self.nll[condition]) / max(sum(self.tokens), 1)
        return self.nll[condition][position] / max(self.tokens[position], 1)

    def as_dict(self) -> Dict:
        return {
            "sentences": self.sentences,
            "tokens": sum(self.tokens),
            "overall": {c: self.mean(c) for c in CONDITIONS},
            "per_position": [
                {"position": j, "tokens": self.tokens[j], **{c: self.mean(c, j) for c in CONDITIONS}}
                for j in range(self.positions)
            ],
        }


def shifted_sources(net_input: Dict, shift: int) -> Dict:
    """``net_input`` with sentence ``b`` given the source of sentence ``(b + shift) % B``."""
    batch = net_input["src_tokens"].shape[0]
    index = (torch.arange(batch) + shift) % batch
    return dict(net_input, src_tokens=net_input["src_tokens"][index], src_lengths=net_input["src_lengths"][index])


def token_nll(model, net_input: Dict, target: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` NLL (bits) of every target token, rows sorted internally by source length."""
    order = torch.argsort(net_input["src_lengths"], descending=True, stable=True)
    sorted_input = {k: (v[order] if torch.is_tensor(v) else v) for k, v in net_input.items()}
    lprobs = model.get_normalized_probs(model(**sorted_input), log_probs=True).float()
    nll = -lprobs.gather(-1, target[order].unsqueeze(-1)).squeeze(-1) / math.log(2)
    out = torch.empty_like(nll)
    out[order] = nll
    return out


@torch.no_grad()
def measure(model, task, subset: str = "valid", positions: int = 8, max_tokens: int = 2048, shift: int = 1) -> SourceReliance:
    """Score ``subset`` with own and shifted sources (batches of one sentence are skipped: they
    have no other source).  ``shift=0`` scores the own source twice (a check)."""
    task.load_dataset(subset)
    iterator = task.get_batch_iterator(task.dataset(subset), max_tokens=max_tokens, ignore_invalid_inputs=True,
                                       seed=1).next_epoch_itr(shuffle=False)
    pad = task.target_dictionary.pad()
    result = SourceReliance(positions)
    model.eval()
    for sample in iterator:
        target = sample["target"]
        if target.shape[0] < 2:
            continue
        real = target.ne(pad)
        bucket = torch.arange(target.shape[1]).clamp(max=positions - 1).expand_as(target)
        for condition, net_input in (("own", sample["net_input"]),
                                     ("other", shifted_sources(sample["net_input"], shift))):
            nll = token_nll(model, net_input, target)
            sums = torch.zeros(positions, dtype=torch.float64).index_add_(0, bucket[real], nll[real].double())
            result.nll[condition] = [a + b for a, b in zip(result.nll[condition], sums.tolist())]
        counts = torch.bincount(bucket[real], minlength=positions)
        result.tokens = [a + b for a, b in zip(result.tokens, counts.tolist())]
        result.sentences += target.shape[0]
    return result


def format_table(result: SourceReliance) -> str:
    """Markdown table: tokens, NLL with own and other source, and the gap, per position."""
    lines = ["| target position | tokens | NLL own source | NLL other source | gap |", "|---|---:|---:|---:|---:|"]
    for j in range(result.positions):
        label = str(j) if j < result.positions - 1 else f"{j}+"
        own, other = result.mean("own", j), result.mean("other", j)
        lines.append(f"| {label} | {result.tokens[j]} | {own:.3f} | {other:.3f} | {other - own:+.3f} |")
    own, other = result.mean("own"), result.mean("other")
    lines.append(f"| all | {sum(result.tokens)} | {own:.3f} | {other:.3f} | {other - own:+.3f} |")
    return "\n".join(lines)


__all__ = ["SourceReliance", "measure", "format_table", "shifted_sources", "token_nll"]
