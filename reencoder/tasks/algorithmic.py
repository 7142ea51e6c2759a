"""The Grid LSTM paper's algorithmic tasks as a fairseq task: ``fairseq-train --user-dir reencoder
--task algorithmic --algo addition|memorisation --criterion sequence_accuracy``.

Kalchbrenner, Danihelka & Graves (ICLR 2016, §4, "Addition" and "Memorization") compare a
tied 2D Grid LSTM with a stacked LSTM on 15-digit integer addition and on memorising a random
sequence of 20 symbols from 64, counting the training samples a network needs to reach high
accuracy on exact outputs.  Here every example is one token sequence ``</s> input output </s>``
for any fairseq decoder-only model (``grid_lstm_lm``, fairseq's ``lstm_lm``), trained with
loss on the output part only; the examples are made on the fly by
:mod:`reencoder.tasks.algorithmic_data` (no data directory), the held-out set (``valid``, ``test``)
is disjoint from anything the training stream can draw.

The ``sequence_accuracy`` criterion is fairseq's ``cross_entropy`` plus two metrics on the
output part: ``tok_acc`` (per-symbol) and ``seq_acc``, the percentage of examples whose whole
output (the end-of-result symbol included) is predicted exactly by **greedy decoding** given
the input.  It needs one teacher-forced pass, not a decoding loop: greedy decoding reproduces
the reference iff the argmax at every output position, given the *reference* prefix, is the
reference symbol (by induction over the positions: while the prefixes agree the two runs see
the same input).  :func:`greedy_decode` does the decoding loop itself, for checking that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from fairseq.criterions import register_criterion
from fairseq.criterions.cross_entropy import CrossEntropyCriterion, CrossEntropyCriterionConfig
from fairseq.logging import metrics
from fairseq.tasks import LegacyFairseqTask, register_task
from torch import Tensor

from data_prep.foundation import positive_int

from .algorithmic_data import ADDITION_ORDERS, HELD_OUT_SEED, TASKS, AlgorithmicDataset, build_dictionary, check_config


@register_task("algorithmic")
class AlgorithmicTask(LegacyFairseqTask):
    """Addition or memorisation examples made on the fly (Grid LSTM paper §4)."""

    @staticmethod
    def add_args(parser):
        """Add task-specific arguments to the parser."""
        # fmt: off
        parser.add_argument('--algo', choices=TASKS, default='addition',
                            help='which task: integer addition or sequence memorisation')
        parser.add_argument('--algo-digits', type=positive_int, default=15,
                            help='addition: digits of each number (paper: 15)')
        parser.add_argument('--algo-order', choices=ADDITION_ORDERS, default='lsd',
                            help='addition: least or most significant digit first')
        parser.add_argument('--algo-length', type=positive_int, default=20,
                            help='memorisation: symbols per sequence (paper: 20)')
        parser.add_argument('--algo-symbols', type=positive_int, default=64,
                            help='memorisation: vocabulary size (paper: 64)')
        parser.add_argument('--algo-train-size', type=positive_int, default=10000,
                            help='training examples per epoch (new ones every epoch)')
        parser.add_argument('--algo-valid-size', type=positive_int, default=500,
                            help='held-out examples in valid (and in test)')
        # fmt: on

    def __init__(self, args, dictionary):
        super().__init__(args)
        self.dictionary = dictionary
        self.config = dict(task=args.algo, digits=args.algo_digits, length=args.algo_length,
                           symbols=args.algo_symbols, order=args.algo_order)

    @classmethod
    def setup_task(cls, args, **kwargs):
        check_config(args.algo, args.algo_digits, args.algo_length, args.algo_symbols, args.algo_order)
        return cls(args, build_dictionary(args.algo, args.algo_symbols))

    def load_dataset(self, split: str, epoch: int = 1, combine: bool = False, **kwargs):
        if split == "train":
            ds = AlgorithmicDataset(self.dictionary, self.args.algo_train_size, self.args.seed, False, **self.config)
        else:  # valid, test, ...: fixed held-out sets, one seed per split name
            seed = HELD_OUT_SEED + sum(map(ord, split))
            ds = AlgorithmicDataset(self.dictionary, self.args.algo_valid_size, seed, True, **self.config)
        ds.set_epoch(epoch)
        self.datasets[split] = ds

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary


def exact_counts(logits: Tensor, target: Tensor, pad: int) -> Tuple[Tensor, Tensor]:
    """(correct output symbols, exactly right examples) of teacher-forced argmax predictions;
    positions whose target is ``pad`` (the input part, padding) do not count."""
    scored = target.ne(pad)
    right = logits.argmax(-1).eq(target) & scored
    return right.sum(), (right | ~scored).all(dim=1).sum()


@torch.no_grad()
def greedy_decode(model, prefix: Tensor, steps: int) -> Tensor:
    """``prefix`` ``[B, K]`` (``</s>`` and the input) → ``[B, steps]`` greedy output symbols,
    one token at a time through the decoder's incremental state (as fairseq's generators do)."""
    state: dict = {}
    tokens, out = prefix, []
    for _ in range(steps):
        logits, _ = model.decoder(tokens, incremental_state=state)
        out.append(logits[:, -1].argmax(-1, keepdim=True))
        tokens = torch.cat([tokens, out[-1]], dim=1)
    return torch.cat(out, dim=1)


@dataclass
class SequenceAccuracyConfig(CrossEntropyCriterionConfig):
    pass


@register_criterion("sequence_accuracy", dataclass=SequenceAccuracyConfig)
class SequenceAccuracyCriterion(CrossEntropyCriterion):
    """``cross_entropy`` with ``tok_acc`` and ``seq_acc`` (exact greedy outputs, in %)."""

    def forward(self, model, sample, reduce=True):
        net_output = model(**sample["net_input"])
        loss, _ = self.compute_loss(model, net_output, sample, reduce=reduce)
        n_tok, n_seq = exact_counts(net_output[0].detach(), model.get_targets(sample, net_output), self.padding_idx)
        nsentences = sample["target"].size(0)
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": nsentences,
            "sample_size": nsentences if self.sentence_avg else sample["ntokens"],
            "n_correct": n_tok.item(),
            "n_seq_correct": n_seq.item(),
        }
        return loss, logging_output["sample_size"], logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        total = lambda key: sum(log.get(key, 0) for log in logging_outputs)  # noqa: E731
        ntokens, nsentences = total("ntokens"), total("nsentences")
        if ntokens:
            metrics.log_scalar("tok_acc", 100.0 * total("n_correct") / ntokens, ntokens, round=2)
        if nsentences:
            metrics.log_scalar("seq_acc", 100.0 * total("n_seq_correct") / nsentences, nsentences, round=2)


def held_out_accuracy(model, dataset: AlgorithmicDataset, count: Optional[int] = None) -> float:
    """Exact-sequence accuracy (%) of real greedy decoding on the first ``count`` held-out
    examples: a prediction must also end with ``</s>`` exactly where the reference does."""
    model.eval()
    items = [dataset[i] for i in range(len(dataset) if count is None else min(count, len(dataset)))]
    pad = dataset.dictionary.pad()
    k = int(items[0]["target"].eq(pad).sum())  # input symbols: the same for every example
    refs = [item["target"][k:] for item in items]
    preds = greedy_decode(model, torch.stack([item["source"][: k + 1] for item in items]), max(map(len, refs)))
    right = sum(bool(pred[: len(ref)].equal(ref)) for pred, ref in zip(preds, refs))
    return 100.0 * right / len(items)
