"""Where a whole training step's time goes, by part, for the demo's systems (issue: cost per update).

    python -m eval.profile_step --data work/data/tatoeba --out runs/bench/profile_step.json

Each system is trained exactly as ``fairseq-train`` trains it (fairseq's ``Trainer.train_step``:
the demo's label-smoothed loss, Adam, gradient clipping at 1.0, its bookkeeping) on the same
real Tatoeba batches at the demo's batch size, with one thread.  The step is split into:

* **model parts** (embeddings, grid, readout, attention, LSTMs, output layer): forward time
  from module hooks (exclusive of nested parts), backward time from hooks on every autograd
  node of the step's graph, each node charged to the part whose forward created it (autograd
  sequence numbers; a parameter's gradient accumulation to the part that owns it, so the shared
  input/output embedding's output-layer gradient counts under the target embedding);
* **loss** (the criterion's own ops), **model glue** (ops of the model outside the parts);
* **backward (engine)**: the backward's wall time not spent inside any node;
* **optimizer** (Adam's step: the demo's ``fused_adam`` unless ``--optimizer adam``), **clip**
  (gradient norm and clipping), **zero grad**, and **trainer bookkeeping** (the rest of
  ``train_step``: logging, metrics);
* **data**: building one batch (fairseq's collation, as ``--num-workers 0`` does every step).

Plain steps are timed in interleaved rounds, the best round counting and more rounds until every
system settles (:mod:`eval.rounds`), then hooked steps in rounds of their own for the split (the
hooks' overhead is printed).  Results: recipes/RESULTS.md,
"Performance".
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from reencoder.grid.fused_memory import Workspace
from reencoder.grid.fused_wavefront import run_grid_fused

from .bench import real_batches, write_json
from .bench_archs import SYSTEMS
from .rounds import Rounds

#: the demo's optimiser (recipes/lib.sh DEMO_OPT; ``--optimizer`` below picks another) and loss,
#: and a fixed learning rate
OPTIMIZERS = ("fused_adam", "adam")
TRAIN_FLAGS = ["--adam-betas", "(0.9,0.98)", "--clip-norm", "1.0",
               "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1",
               "--lr", "0.005", "--lr-scheduler", "fixed", "--dropout", "0.1", "--seed", "1"]

#: system -> (label, module name or ``decoder.output_layer``) of its parts
PARTS: Dict[str, List[Tuple[str, str]]] = {
    "reencoder": [("source embedding", "encoder.embed_tokens"), ("source projection", "encoder.proj"),
                  ("target embedding", "decoder.embed_tokens"), ("grid input projection", "decoder.proj"),
                  ("grid", "decoder.grid"), ("readout", "decoder.readout"),
                  ("output layer", "decoder.output_layer")],
    "lstm": [("source embedding", "encoder.embed_tokens"), ("encoder LSTM", "encoder.lstm"),
             ("target embedding", "decoder.embed_tokens"), ("decoder LSTM", "decoder.layers"),
             ("attention", "decoder.attention"), ("output layer", "decoder.output_layer")],
}

_PROBE = torch.zeros((), requires_grad=True)


def seq_now() -> int:
    """The next autograd sequence number of this thread (a probe node takes one)."""
    with torch.enable_grad():
        return (_PROBE * 1).grad_fn._sequence_nr()


class StepTimer:
    """Accumulates forward (exclusive) and backward seconds per label over profiled steps."""

    def __init__(self) -> None:
        self.fwd: Dict[str, float] = defaultdict(float)
        self.bwd: Dict[str, float] = defaultdict(float)
        self.stack: List[list] = []
        self.ranges: List[Tuple[int, int, str]] = []
        self.starts: Dict[int, float] = {}
        self.last = 0.0  # the latest backward hook's time
        self.handles: list = []  # the backward graph's hooks of the current step

    def enter(self, label: str) -> None:
        self.stack.append([label, time.perf_counter(), 0.0, seq_now()])

    def exit(self) -> None:
        label, t0, child, s0 = self.stack.pop()
        incl = time.perf_counter() - t0
        self.fwd[label] += incl - child
        if self.stack:
            self.stack[-1][2] += incl
        self.ranges.append((s0, seq_now(), label))

    def hook_graph(self, root, param_labels: Dict[int, str]) -> None:
        """Time every node of the backward graph from ``root`` under the part that made it."""
        for node, label in graph_labels(root, self.ranges, param_labels):
            self.handles += [node.register_prehook(self._pre(node)), node.register_hook(self._post(node, label))]
        self.ranges.clear()

    def unhook_graph(self) -> None:
        """Remove the hooks of :meth:`hook_graph` once the backward ran: a parameter's gradient
        accumulation node outlives the step, and its hooks would pile up over steps and slow
        every later step, plain ones too (they did, by up to 60 % after three hooked rounds)."""
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def _pre(self, node):
        def hook(_grad_outputs):
            self.starts[id(node)] = self.last = time.perf_counter()
        return hook

    def _post(self, node, label):
        def hook(_grad_inputs, _grad_outputs):
            # a node whose pre-hook the engine does not call (gradient accumulation) started
            # when the node before it ended: the engine runs one node at a time on CPU
            now = time.perf_counter()
            self.bwd[label] += now - self.starts.pop(id(node), self.last)
            self.last = now
        return hook


def graph_labels(root, ranges: Sequence[Tuple[int, int, str]], param_labels: Dict[int, str]):
    """``(node, label)`` for every node of the backward graph from ``root``: the innermost
    labelled forward range (``(first, end, label)`` of sequence numbers) that created it, or,
    for a parameter's gradient accumulation, the label of the part that owns the parameter."""
    seen, todo, out = set(), [root], []
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        var = getattr(node, "variable", None)
        if var is not None:
            label = param_labels.get(id(var), "other parameters")
        else:
            seq = node._sequence_nr()
            inside = [(e - s, label) for s, e, label in ranges if s <= seq < e]
            label = min(inside)[1] if inside else "model glue"
        out.append((node, label))
        todo.extend(n for n, _ in node.next_functions)
    return out


def hook_graph_timed(timer: StepTimer, root, param_labels: Dict[int, str]) -> None:
    """:meth:`StepTimer.hook_graph`, its own time kept apart (not the trainer's)."""
    timer.enter("profiler overhead")
    timer.hook_graph(root, param_labels)
    timer.exit()


def _wrap(obj, name: str, timer: StepTimer, label: str, after=None):
    """Replace the bound method ``obj.name`` by a timed one (an instance attribute); returns an undo."""
    orig = getattr(obj, name)

    def timed(*args, **kwargs):
        timer.enter(label)
        try:
            out = orig(*args, **kwargs)
        finally:
            timer.exit()
        if after is not None:
            after(out)
        return out

    setattr(obj, name, timed)
    return lambda: delattr(obj, name)


@contextmanager
def instrument(trainer, parts: Sequence[Tuple[str, str]], timer: StepTimer):
    """Hooks and timed wrappers on the trainer's model parts, criterion and optimizer."""
    model, undo, param_labels = trainer.model, [], {}
    for label, name in parts:
        owner, _, attr = name.rpartition(".")
        target = getattr(model.get_submodule(owner), attr)
        if not isinstance(target, torch.nn.Module):  # a method, e.g. decoder.output_layer
            undo.append(_wrap(model.get_submodule(owner), attr, timer, label))
            continue
        for module in [target, *target.children()] if isinstance(target, torch.nn.ModuleList) else [target]:
            h1 = module.register_forward_pre_hook(lambda *_a, label=label: timer.enter(label))
            h2 = module.register_forward_hook(lambda *_a: timer.exit())
            undo += [h1.remove, h2.remove]
        param_labels.update({id(p): label for p in target.parameters()})
    undo.append(_wrap(model, "forward", timer, "model glue"))
    undo.append(_wrap(trainer.criterion, "forward", timer, "loss",
                      after=lambda out: hook_graph_timed(timer, out[0].grad_fn, param_labels)))
    undo.append(_wrap(trainer.optimizer, "backward", timer, "backward (engine)", after=lambda _: timer.unhook_graph()))
    undo.append(_wrap(trainer.task, "optimizer_step", timer, "optimizer"))
    undo.append(_wrap(trainer, "clip_grad_norm", timer, "clip"))
    undo.append(_wrap(trainer, "zero_grad", timer, "zero grad"))
    undo.append(_wrap(trainer, "train_step", timer, "trainer bookkeeping"))
    try:
        yield timer
    finally:
        timer.unhook_graph()
        for u in reversed(undo):
            u()


def build_trainer(data: Path, arch_flags: List[str], max_tokens: int, save_dir: str,
                  optimizer: str = OPTIMIZERS[0]):
    """fairseq's Trainer for one system, as fairseq-train builds it (the plugin loaded);
    ``save_dir`` only receives fairseq's crash.pt if a step fails."""
    from fairseq import tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    from reencoder.loading import parse_training_args

    args = parse_training_args([data / "bin", "--task", "translation", "--source-lang", "zh", "--target-lang", "en",
                                "--cpu", "--max-tokens", str(max_tokens), "--save-dir", save_dir,
                                "--optimizer", optimizer, *TRAIN_FLAGS, *arch_flags])
    cfg = convert_namespace_to_omegaconf(args)
    torch.manual_seed(1)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    grid = getattr(model.decoder, "grid", None)
    if grid is not None and grid.options["runner"] in (None, "fused"):
        # its own pool of scratch buffers, as in a training process of its own: the shared default
        # pool keeps 8 buffers per dtype, and several grids of one process would evict each other's
        runner = functools.partial(run_grid_fused, workspace=Workspace())
        model.decoder.grid = grid.with_options(runner=runner)
    return Trainer(cfg, task, model, task.build_criterion(cfg.criterion)), task


def batches(task, max_tokens: int, count: int) -> Tuple[list, float]:
    """``count`` real training batches and the seconds fairseq's iterator took per batch (the
    split loaded before the clock starts)."""
    task.load_dataset("train")
    t = time.perf_counter()
    out = real_batches(task, max_tokens, count)
    return out, (time.perf_counter() - t) / len(out)


def run_steps(trainer, samples, timer: Optional[StepTimer] = None, parts=()) -> float:
    """Seconds per ``train_step`` over ``samples`` (hooked when a timer is given)."""
    t = time.perf_counter()
    if timer is None:
        for s in samples:
            trainer.train_step([s])
    else:
        with instrument(trainer, parts, timer):
            for s in samples:
                trainer.train_step([s])
    return (time.perf_counter() - t) / len(samples)


def breakdown(timer: StepTimer, steps: int) -> Dict[str, Dict[str, float]]:
    """Milliseconds per step by label: forward, backward, total (the engine's own time is the
    backward's wall time not inside any node)."""
    bwd = dict(timer.bwd)
    bwd["backward (engine)"] = timer.fwd.pop("backward (engine)", 0.0) - sum(timer.bwd.values())
    labels = list(dict.fromkeys([*timer.fwd, *bwd]))
    ms = 1000.0 / steps
    return {label: {"forward_ms": timer.fwd.get(label, 0.0) * ms, "backward_ms": bwd.get(label, 0.0) * ms,
                    "total_ms": (timer.fwd.get(label, 0.0) + bwd.get(label, 0.0)) * ms} for label in labels}


def profile(names: List[str], data: Path, max_tokens: int, count: int, rounds: int,
            optimizer: str = OPTIMIZERS[0], max_rounds: Optional[int] = None) -> dict:
    """Interleaved rounds of plain steps per system, the best round of each counting (at least
    ``rounds``, more up to ``max_rounds`` until they settle: :mod:`.rounds`), then ``rounds``
    interleaved rounds of hooked steps for the split by part (after all plain ones, so that no
    plain round follows hooked work)."""
    trainers, samples, data_s = {}, None, None
    crash_dir = tempfile.mkdtemp(prefix="profile_step_")  # not the repository's ./checkpoints
    for name in names:
        trainers[name], task = build_trainer(data, SYSTEMS[name], max_tokens, crash_dir, optimizer)
        if samples is None:
            samples, data_s = batches(task, max_tokens, count)
    for name in names:  # warm-up on every batch: optimizer state, kernels, workspaces and allocations of every shape
        run_steps(trainers[name], samples)
    timing = Rounds(rounds, max_rounds, what="profile_step")
    for r in timing:
        for name in names:
            now = run_steps(trainers[name], samples)
            print(f"round {r + 1}: {name:26s} {now:.4f} s/step (best {timing.add(name, now):.4f})",
                  file=sys.stderr, flush=True)
    hooked: Dict[str, Tuple[float, dict]] = {n: (float("inf"), {}) for n in names}
    for r in range(rounds):
        for name in names:
            timer = StepTimer()
            s = run_steps(trainers[name], samples, timer, PARTS["lstm" if name == "lstm" else "reencoder"])
            if s < hooked[name][0]:
                hooked[name] = (s, breakdown(timer, len(samples)))
            print(f"hooked round {r + 1}: {name:26s} {s:.4f} s/step (best {hooked[name][0]:.4f})",
                  file=sys.stderr, flush=True)
    shutil.rmtree(crash_dir, ignore_errors=True)
    return {"max_tokens": max_tokens, "batches": len(samples), "rounds": timing.done, "threads": torch.get_num_threads(),
            "rounds_summary": timing.summary(), **timing.report(),
            "optimizer": optimizer,
            "data_ms_per_batch": data_s * 1000,
            "systems": {n: {"s_per_step": timing.best(n), "s_per_step_hooked": hooked[n][0], "parts": hooked[n][1]}
                        for n in names}}


def print_report(res: dict) -> None:
    names = list(res["systems"])
    ref = res["systems"].get("lstm", {}).get("s_per_step")
    print(f"whole training step (fairseq Trainer.train_step) at {res['max_tokens']} tokens per batch, "
          f"{res['batches']} real batches, {res['threads']} thread(s), --optimizer {res['optimizer']}, "
          f"{res.get('rounds_summary', 'best of %s rounds' % res['rounds'])}; "
          f"building a batch: {res['data_ms_per_batch']:.1f} ms")
    for n in names:
        s = res["systems"][n]
        ratio = f", {s['s_per_step'] / ref:.2f}x the lstm's" if ref else ""
        print(f"\n{n}: {s['s_per_step'] * 1000:.1f} ms/step{ratio} (hooked {s['s_per_step_hooked'] * 1000:.1f})")
        print(f"  {'part':26s} {'forward':>9s} {'backward':>9s} {'total':>9s} {'share':>6s}")
        total = sum(p["total_ms"] for p in s["parts"].values())
        for label, p in sorted(s["parts"].items(), key=lambda kv: -kv[1]["total_ms"]):
            print(f"  {label:26s} {p['forward_ms']:9.1f} {p['backward_ms']:9.1f} {p['total_ms']:9.1f} "
                  f"{100 * p['total_ms'] / total:5.1f}%")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="work/data/tatoeba", help="data_prep folder (uses DATA/bin)")
    ap.add_argument("--systems", default="reencoder_base,reencoder_base_bf16_grads,reencoder_base_bf16_inputs,lstm",
                    help=f"comma-separated, of {','.join(SYSTEMS)}")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--batches", type=int, default=20, help="real batches per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds at least (eval/rounds.py: more until every row settles)")
    ap.add_argument("--max-rounds", type=int, help="rounds at most (default: twice --rounds)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--optimizer", choices=OPTIMIZERS, default=OPTIMIZERS[0],
                    help="every system's optimizer (default: the demo's)")
    ap.add_argument("--out", default="runs/bench/profile_step.json")
    args = ap.parse_args(argv)
    data, names = Path(args.data), args.systems.split(",")
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown or not (data / "bin" / "dict.zh.txt").exists():
        print(f"error: unknown systems {unknown}" if unknown else f"error: no binarized data in {data / 'bin'}"
              " (run `make data`)", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    res = profile(names, data, args.max_tokens, args.batches, args.rounds, args.optimizer, args.max_rounds)
    print_report(res)
    write_json(args.out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
