"""A training step's arithmetic, saved and compared between two versions of the code: for a
refactor that must leave behaviour unchanged ("losses and gradients bitwise equal").

For each configuration of :data:`CONFIGS` (every named architecture, every readout and source
input, the grid's cell options, the kernels and bf16 choices) the model is built from
``fairseq-train``'s own command line with a fixed seed, then on one real batch of ``--data``
(a fairseq-binarized zh-en folder) it computes fairseq's label-smoothed loss and its gradients,
once in eval mode (no dropout) and once in train mode (dropout from a fixed seed).

    python -m eval.step_snapshot --data work/data/tatoeba/bin --out before.pt      # old code
    python -m eval.step_snapshot --data work/data/tatoeba/bin --compare before.pt  # new code

``--compare`` prints one line per configuration (``bitwise`` or what differs) and exits 1 if a
configuration present in both differs.  Parameters are matched by name; a renamed parameter is
matched by its position among the parameters of the same shape.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from reencoder.loading import build_model

TINY = ["--arch", "reencoder_tiny", "--grid-depth", "3"]
#: name -> fairseq-train flags (after the data folder and the task's own flags)
CONFIGS = {
    "tiny-paper": TINY,
    "tiny-max": [*TINY, "--grid-readout", "max"],
    "tiny-attn": [*TINY, "--grid-readout", "attn"],
    "tiny-attn-bilstm": [*TINY, "--grid-readout", "attn", "--grid-source-input", "bilstm"],
    "tiny-attn-shared-tanh": [*TINY, "--grid-readout", "attn", "--grid-shared-dims", "--grid-depth-transform", "tanh"],
    "tiny-attn-source-words": [*TINY, "--grid-readout", "attn", "--grid-readout-source-words"],
    "tiny-tied-depth-relu": [*TINY, "--grid-tied-depth", "--grid-depth-transform", "relu", "--grid-no-priority"],
    "tiny-gate-then-tanh": [*TINY, "--grid-cell", "gate-then-tanh", "--grid-depth-gate-bias", "2.0"],
    "tiny-bf16": [*TINY, "--grid-readout", "attn", "--grid-bf16", "always", "--output-layer-bf16", "always"],
    "reencoder": ["--arch", "reencoder", "--grid-hidden-size", "32", "--decoder-embed-dim", "32",
                  "--encoder-embed-dim", "32"],
    "reencoder_paper": ["--arch", "reencoder_paper"],
    "reencoder_base": ["--arch", "reencoder_base"],
    "reencoder_base-bf16-grads": ["--arch", "reencoder_base", "--output-layer-bf16-grads", "always",
                                  "--output-layer-bf16-inputs", "always"],
}
TASK = ["--task", "translation", "--source-lang", "zh", "--target-lang", "en", "--cpu",
        "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"]


def one_step(data: str, flags, train: bool) -> dict:
    """``{"loss": tensor, "grads": {name: tensor}}`` of one batch through fairseq's criterion."""
    args, task, model = build_model([data, *TASK, *flags], seed=1)
    criterion = task.build_criterion(args)
    task.load_dataset("valid")
    ds = task.dataset("valid")
    sample = ds.collater([ds[i] for i in range(min(8, len(ds)))])
    model.train(train)
    torch.manual_seed(2)
    loss, _, _ = criterion(model, sample)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return {"loss": loss.detach().clone(), "grads": grads}


def snapshot(data: str, names) -> dict:
    out = {}
    for name in names:
        out[name] = {mode: one_step(data, CONFIGS[name], mode == "train") for mode in ("eval", "train")}
        print(f"{name}: loss {out[name]['eval']['loss'].item():.6f} (eval), "
              f"{out[name]['train']['loss'].item():.6f} (train)", file=sys.stderr)
    return out


def match_grads(old: dict, new: dict):
    """Pairs (name, old tensor, new tensor): by name, then renamed ones by order within a shape."""
    pairs = [(n, old[n], new[n]) for n in old if n in new]
    rest_old = [n for n in old if n not in new]
    rest_new = [n for n in new if n not in old]
    for shape in {tuple(old[n].shape) for n in rest_old}:
        a = [n for n in rest_old if tuple(old[n].shape) == shape]
        b = [n for n in rest_new if tuple(new[n].shape) == shape]
        if len(a) != len(b):
            raise ValueError(f"parameters of shape {shape}: {a} before, {b} after")
        pairs += [(f"{x} -> {y}", old[x], new[y]) for x, y in zip(a, b)]
    if len(pairs) != len(new):
        raise ValueError(f"{len(old)} gradients before, {len(new)} after")
    return pairs


def differences(old: dict, new: dict) -> list:
    """What differs between two snapshots of one configuration (empty: bitwise equal)."""
    found = []
    for mode in ("eval", "train"):
        if not torch.equal(old[mode]["loss"], new[mode]["loss"]):
            found.append(f"{mode} loss {old[mode]['loss'].item()!r} -> {new[mode]['loss'].item()!r}")
        try:
            pairs = match_grads(old[mode]["grads"], new[mode]["grads"])
        except ValueError as exc:
            found.append(f"{mode}: {exc}")
            continue
        found += [f"{mode} grad {n}: max |diff| {(a - b).abs().max().item():.3g}"
                  for n, a, b in pairs if not torch.equal(a, b)]
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a fairseq-binarized zh-en folder with a valid split")
    parser.add_argument("--out", help="save the snapshot here")
    parser.add_argument("--compare", help="compare with this saved snapshot")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    old = torch.load(args.compare) if args.compare else None
    names = [n for n in args.configs if old is None or n in old]
    new = snapshot(args.data, names)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        torch.save(new, args.out)
    if old is None:
        return 0
    failed = 0
    for name in names:
        found = differences(old[name], new[name])
        tensors = sum(len(new[name][m]["grads"]) + 1 for m in ("eval", "train"))
        print(f"{name}: " + ("; ".join(found[:5]) if found else f"bitwise ({tensors} tensors)"))
        failed += bool(found)
    skipped = sorted(set(old) - set(names))
    if skipped:
        print(f"not compared (not in this version's configurations): {', '.join(skipped)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
