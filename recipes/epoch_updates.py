"""Updates per epoch of ``fairseq-train`` on a binarized translation corpus, without training.

    python recipes/epoch_updates.py work/data/tatoeba/bin --max-tokens 512 [--epochs 5]

Prints the number of batches fairseq-train makes of the ``train`` split for one epoch (times
``--epochs``): the same translation task, ``--max-tokens``, and fairseq's defaults for the
rest (``--required-batch-size-multiple 8``, max positions 1024).  The demo uses it to turn an
epoch budget into ``--max-update``, so that a schedule that decays to zero
(``--lr-scheduler polynomial_decay``, whose total defaults to ``--max-update``) ends exactly
where training does.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path


def updates_per_epoch(data_bin: Path, max_tokens: int, source_lang: str = "zh", target_lang: str = "en") -> int:
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # no INFO lines about loading
    from fairseq import options, tasks

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        str(data_bin), "--task", "translation", "--source-lang", source_lang, "--target-lang", target_lang,
        "--arch", "lstm", "--max-tokens", str(max_tokens), "--cpu"])
    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # the CPU's data loader says so, harmlessly
    task = tasks.setup_task(args)
    task.load_dataset("train")
    itr = task.get_batch_iterator(task.dataset("train"), max_tokens=max_tokens, max_positions=task.max_positions(),
                                  required_batch_size_multiple=args.required_batch_size_multiple, seed=args.seed)
    return len(itr.next_epoch_itr(shuffle=False))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_bin", type=Path, help="fairseq-preprocess output (dict.zh.txt, train.zh-en.*)")
    ap.add_argument("--max-tokens", type=int, required=True)
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args(argv)
    if not (args.data_bin / "dict.zh.txt").is_file():
        print(f"error: {args.data_bin} is not a binarized corpus (no dict.zh.txt; run `make data`)", file=sys.stderr)
        return 2
    if args.max_tokens < 1 or args.epochs < 1:
        print("error: --max-tokens and --epochs must be positive", file=sys.stderr)
        return 2
    print(updates_per_epoch(args.data_bin, args.max_tokens) * args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
