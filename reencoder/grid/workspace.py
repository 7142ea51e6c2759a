"""Reused scratch memory for the fused wavefront's large buffers.

A training step of the grid needs a few buffers of hundreds of MB (every hidden and memory
vector of the grid, their gradients, the gate activations).  Freshly allocated memory is paged
in by the kernel on first touch, and on the 2-core development VM that first touch cost more
than the arithmetic done in the memory; glibc returns such large blocks to the system on free,
so every step paid it again (``make bench``'s row "same, workspace not reused",
``recipes/RESULTS.md``, "Performance").  A :class:`Workspace` keeps released flat tensors and
hands out views of them; :func:`reencoder.grid.fused_wavefront.run_grid_fused` takes one as an
option (default :data:`WORKSPACE`).

A tensor taken from the workspace belongs to the caller until it is given back; giving back
a tensor that is still read elsewhere is a bug of the caller.  Views of a taken tensor must
not outlive its release (copy what leaves the caller).
"""

from __future__ import annotations

import atexit
import math
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

Key = Tuple[torch.device, torch.dtype]


class Workspace:
    """A small pool of flat tensors per (device, dtype).

    Args:
        keep: how many released tensors to keep per (device, dtype); the smallest are dropped.
        slack: a request of ``numel`` values takes a kept tensor of at most ``slack * numel``
            values, so a small request does not pin a huge buffer.
    """

    def __init__(self, keep: int = 8, slack: float = 4.0):
        self.keep, self.slack = keep, slack
        self.free: Dict[Key, List[Tensor]] = {}

    def take(self, shape, like: Tensor) -> Tensor:
        """An uninitialised tensor of ``shape`` on ``like``'s device and dtype."""
        numel = math.prod(shape)
        pool = self.free.setdefault((like.device, like.dtype), [])
        fits = [t for t in pool if numel <= t.numel() <= self.slack * max(numel, 1)]
        if fits:
            flat = min(fits, key=Tensor.numel)
            del pool[next(i for i, t in enumerate(pool) if t is flat)]
        else:  # a little headroom, so slowly growing requests reuse it
            flat = like.new_empty(int(numel * 1.125) + 1024)
        return flat[:numel].view(shape)

    def give(self, *tensors: Tensor) -> None:
        """Return tensors obtained from :meth:`take` (or views of them): their whole storage is
        kept.  Inference tensors (made under ``torch.inference_mode``) are not kept, since
        autograd refuses to save them later."""
        for t in tensors:
            if t.is_inference():
                continue
            storage = t.untyped_storage()
            pool = self.free.setdefault((t.device, t.dtype), [])
            if any(p.untyped_storage().data_ptr() == storage.data_ptr() for p in pool):
                continue
            # made outside inference mode: a handle made inside it would be an inference tensor,
            # and every later take() outside it would hand out views that refuse in-place writes
            with torch.inference_mode(False):
                pool.append(t.new_empty(0).set_(storage, 0, (storage.nbytes() // t.element_size(),)))
            pool.sort(key=Tensor.numel, reverse=True)
            del pool[self.keep :]

    def clear(self) -> None:
        self.free.clear()


WORKSPACE = Workspace()


class Scratch:
    """Named scratch buffers carved from one tensor of ``workspace`` (default :data:`WORKSPACE`),
    each as large as its largest use: a loop that needs a fresh ``[R, W]`` temporary per
    iteration takes ``scratch("name", R, W)`` instead, already paged in.  A view is valid until
    the next call with the same name; :meth:`release` gives the memory back."""

    def __init__(self, like: Tensor, workspace: Optional[Workspace] = None, **numels: int):
        self.workspace = WORKSPACE if workspace is None else workspace
        self.flat = self.workspace.take((sum(numels.values()),), like)
        self.bufs, off = {}, 0
        for name, size in numels.items():
            self.bufs[name] = self.flat[off : off + size]
            off += size

    def __call__(self, name: str, *shape: int) -> Tensor:
        return self.bufs[name][: math.prod(shape)].view(shape)

    def release(self) -> None:
        self.workspace.give(self.flat)
# let go of the kept buffers before the interpreter (and CUDA) shut down
atexit.register(WORKSPACE.clear)
