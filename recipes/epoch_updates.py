"""Updates per epoch of ``fairseq-train`` on a binarized translation corpus, without training.

    python recipes/epoch_updates.py work/data/tatoeba/bin --max-tokens 512 [--epochs 5]

Prints the number of batches fairseq-train makes of the ``train`` split for one epoch (times
``--epochs``): the same translation task, ``--max-tokens``, and fairseq's defaults for the
rest (``--required-batch-size-multiple 8``, max positions 1024).  It turns an epoch budget into
``--max-update`` and ``--total-num-update``, so that a schedule that decays to zero
(``--lr-scheduler polynomial_decay``) ends exactly where training does, as in the archived
``recipes/archive/tatoeba_longer.sh``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from data_prep.foundation import Parser, UserError, positive_int, run_main


def updates_per_epoch(data_bin: Path, max_tokens: int, source_lang: str = "zh", target_lang: str = "en") -> int:
    from fairseq import tasks

    from reencoder.loading import parse_training_args

    args = parse_training_args([data_bin, "--task", "translation", "--source-lang", source_lang,
                                "--target-lang", target_lang, "--arch", "lstm", "--max-tokens", max_tokens, "--cpu"])
    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # the CPU's data loader says so, harmlessly
    task = tasks.setup_task(args)
    task.load_dataset("train")
    itr = task.get_batch_iterator(task.dataset("train"), max_tokens=max_tokens, max_positions=task.max_positions(),
                                  required_batch_size_multiple=args.required_batch_size_multiple, seed=args.seed)
    return len(itr.next_epoch_itr(shuffle=False))


def body(argv) -> int:
    ap = Parser(description=__doc__.split("\n")[0])
    ap.add_argument("data_bin", type=Path, help="fairseq-preprocess output (dict.zh.txt, train.zh-en.*)")
    ap.add_argument("--max-tokens", type=positive_int, required=True)
    ap.add_argument("--epochs", type=positive_int, default=1)
    args = ap.parse_args(argv)
    if not (args.data_bin / "dict.zh.txt").is_file():
        raise UserError(f"{args.data_bin} is not a binarized corpus (no dict.zh.txt; run `make data`)")
    print(updates_per_epoch(args.data_bin, args.max_tokens) * args.epochs)
    return 0


def main(argv=None) -> int:
    return run_main(body, argv, quiet=["fairseq"])


if __name__ == "__main__":
    sys.exit(main())
