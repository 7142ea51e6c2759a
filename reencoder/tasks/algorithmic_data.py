"""Examples of the Grid LSTM paper's algorithmic tasks, made on the fly (Kalchbrenner, Danihelka
& Graves, ICLR 2016, §4: "Addition" and "Memorization").

* **addition**: two random ``digits``-digit integers (15 in the paper) are read one digit per
  step, separated by ``+`` and closed by ``=``; the sum is then predicted one digit per step and
  closed by an end-of-result symbol (fairseq's ``</s>``).  The paper reads the digits one at a
  time and predicts an end-of-result symbol; the *digit order* is our choice: least significant
  digit first for both numbers and the sum (``--algo-order lsd``, the default), so that the
  carry flows forward in time; ``msd`` writes them the usual way round.
* **memorisation**: a random sequence of ``length`` symbols (20 in the paper) from a vocabulary
  of ``symbols`` (64 in the paper) is read, then ``#``, then the same sequence is predicted,
  closed by ``</s>``.

Every example is one token sequence for a decoder-only model: ``</s> input output </s>``,
shifted by one for the targets, with the targets of the input part set to padding so that the
loss (and the accuracy) count only the output part.

**Held-out examples never seen in training**: the example space is split once and for all by
a hash of the input (CRC-32 mod :data:`HOLDOUT_MODULUS` == 0: held-out), and each split draws
by rejection only from its own part.  The held-out set is fixed (its own seed, independent of
``--seed``); the training stream is new every epoch (seeded by ``--seed``, the epoch and the
index), so "training samples seen" is updates × batch size.
"""

from __future__ import annotations

import zlib
from typing import List, Sequence, Tuple

import numpy as np
import torch
from fairseq.data import Dictionary, FairseqDataset, data_utils

TASKS = ("addition", "memorisation")
ADDITION_ORDERS = ("lsd", "msd")
HOLDOUT_MODULUS = 10  # one input in ten belongs to the held-out part of the example space
HELD_OUT_SEED = 20160502  # the held-out set does not move with --seed
MAX_TRIES = 10_000
PLUS, EQUALS, SEP = "+", "=", "#"

Example = Tuple[List[str], List[str]]  # (input symbols, output symbols)


def memorisation_symbol(i: int) -> str:
    return f"s{i}"


def build_dictionary(task: str, symbols: int = 64) -> Dictionary:
    """The symbols of a task, after fairseq's four specials (``<s>``, ``<pad>``, ``</s>``, ``<unk>``)."""
    d = Dictionary()
    names = [str(i) for i in range(10)] + [PLUS, EQUALS] if task == "addition" else \
        [memorisation_symbol(i) for i in range(symbols)] + [SEP]
    for name in names:
        d.add_symbol(name)
    d.finalize(padding_factor=1)
    return d


def is_held_out(inp: Sequence[str]) -> bool:
    """The fixed split of the example space: a property of the input alone."""
    return zlib.crc32(" ".join(inp).encode()) % HOLDOUT_MODULUS == 0


def digits_of(x: int, width: int, order: str) -> List[str]:
    s = str(x).zfill(width)
    return list(s[::-1] if order == "lsd" else s)


def addition_example(rng: np.random.Generator, digits: int, order: str = "lsd") -> Example:
    """``a + b = a+b``: ``a`` and ``b`` uniform over the ``digits``-digit integers (leading
    digit non-zero); the sum without leading zeros."""
    lo, hi = 10 ** (digits - 1), 10**digits
    a, b = (int(lo + rng.integers(0, hi - lo, dtype=np.uint64)) for _ in range(2))
    s = a + b
    return digits_of(a, digits, order) + [PLUS] + digits_of(b, digits, order) + [EQUALS], digits_of(s, 1, order)


def memorisation_example(rng: np.random.Generator, length: int, symbols: int) -> Example:
    seq = [memorisation_symbol(int(i)) for i in rng.integers(0, symbols, size=length)]
    return seq + [SEP], list(seq)


def check_config(task: str, digits: int, length: int, symbols: int, order: str) -> None:
    """One-line errors for settings that cannot make examples."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if order not in ADDITION_ORDERS:
        raise ValueError(f"digit order must be one of {', '.join(ADDITION_ORDERS)}, got {order!r}")
    if task == "addition" and not 2 <= digits <= 18:  # 1 digit: too few inputs to hold some out
        raise ValueError(f"addition digits must be between 2 and 18, got {digits}")
    if task == "memorisation" and (length < 1 or symbols < 2):
        raise ValueError(f"memorisation needs length >= 1 and symbols >= 2, got {length} and {symbols}")
    if task == "memorisation" and symbols**length < 20 * HOLDOUT_MODULUS:
        raise ValueError(f"{symbols}^{length} sequences are too few to hold some out; raise the length or the symbols")


def make_example(rng: np.random.Generator, held_out: bool, task: str, digits: int = 15, length: int = 20,
                 symbols: int = 64, order: str = "lsd") -> Example:
    """A random example from the held-out or the training part of the example space."""
    for _ in range(MAX_TRIES):
        if task == "addition":
            ex = addition_example(rng, digits, order)
        else:
            ex = memorisation_example(rng, length, symbols)
        if is_held_out(ex[0]) == held_out:
            return ex
    raise RuntimeError(f"no {'held-out' if held_out else 'training'} example in {MAX_TRIES} draws")  # pragma: no cover


class AlgorithmicDataset(FairseqDataset):
    """``size`` examples made on demand; item ``i`` of epoch ``e`` is a function of
    ``(seed, e, i)`` (of ``(seed, i)`` for the fixed held-out set)."""

    def __init__(self, dictionary: Dictionary, size: int, seed: int, held_out: bool, **config):
        self.dictionary = dictionary
        self.count = size
        self.seed = seed
        self.held_out = held_out
        self.config = config
        self.epoch = 1
        self.sizes = np.full(size, self._length(), dtype=np.int64)

    def _length(self) -> int:
        """Tokens per example, the longest case (addition sums may be a digit shorter)."""
        c = self.config
        if c["task"] == "addition":
            return 2 * c["digits"] + 2 + c["digits"] + 1 + 1
        return 2 * c["length"] + 1 + 1

    def example(self, index: int) -> Example:
        key = [self.seed, index] if self.held_out else [self.seed, self.epoch, index]
        return make_example(np.random.default_rng(key), self.held_out, **self.config)

    def __getitem__(self, index: int):
        inp, out = self.example(index)
        d = self.dictionary
        seq = torch.tensor([d.eos()] + [d.index(s) for s in inp + out] + [d.eos()], dtype=torch.long)
        target = seq[1:].clone()
        target[: len(inp)] = d.pad()  # no loss on the input part
        return {"id": index, "source": seq[:-1], "target": target}

    def __len__(self) -> int:
        return self.count

    def collater(self, samples):
        if not samples:
            return {}
        pad, eos = self.dictionary.pad(), self.dictionary.eos()
        src = data_utils.collate_tokens([s["source"] for s in samples], pad, eos, left_pad=False)
        tgt = data_utils.collate_tokens([s["target"] for s in samples], pad, eos, left_pad=False)
        return {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": int(tgt.ne(pad).sum()),
            "net_input": {"src_tokens": src, "src_lengths": torch.tensor([len(s["source"]) for s in samples])},
            "target": tgt,
        }

    def num_tokens(self, index: int) -> int:
        return int(self.sizes[index])

    def size(self, index: int) -> int:
        return int(self.sizes[index])

    def ordered_indices(self):
        return np.arange(self.count)

    @property
    def supports_prefetch(self) -> bool:
        return False

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self) -> bool:
        return True  # same batches (indices) every epoch; the examples change through set_epoch


__all__ = ["AlgorithmicDataset", "build_dictionary", "check_config", "is_held_out", "make_example", "TASKS"]
