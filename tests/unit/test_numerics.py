"""check_finite names the batch rows whose logits are not finite."""

import pytest
import torch

from reencoder.models.numerics import check_finite


def test_check_finite_names_only_the_bad_rows():
    logits = torch.zeros(4, 3, 5)
    logits[2, 1, 0] = float("nan")
    logits[3, 0, 4] = float("inf")
    src = torch.tensor([[1, 5, 6, 2], [7, 8, 9, 2], [1, 1, 4, 2], [3, 3, 3, 2]])
    prev = torch.tensor([[2, 5, 6], [2, 8, 1], [2, 4, 1], [2, 1, 1]])
    with pytest.raises(FloatingPointError, match=r"for 2 of 4 sentences of this batch: rows \[2, 3\]; "
                       r"target lengths \[2, 1\]; source lengths \[2, 4\]; source token ids of row 2: \[4, 2\]"):
        check_finite(logits, src, prev, pad=1)
    check_finite(torch.zeros(2, 2, 2), src[:2], prev[:2], pad=1)  # finite: silent


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_one_non_finite_logit_among_finite_ones_is_caught(bad):
    """The fast path sums the logits: one inf, -inf or NaN anywhere makes the sum non-finite."""
    logits = torch.randn(3, 4, 50)
    logits[1, 3, 17] = bad
    tokens = torch.full((3, 4), 5)
    with pytest.raises(FloatingPointError, match=r"rows \[1\]"):
        check_finite(logits, tokens, tokens, pad=1)


def test_finite_logits_whose_sum_overflows_pass():
    logits = torch.full((2, 3, 4), 3e38)  # each finite; their float32 sum is inf
    assert not torch.isfinite(logits.sum())
    tokens = torch.full((2, 3), 5)
    check_finite(logits, tokens, tokens, pad=1)
