"""The grid's C++ CPU kernels, built into one extension on first use: the LSTM gate math
(``gate_kernels.cpp``), the fused wavefront's row gather/scatter of its additive input
(``row_kernels.cpp``) and a GEMM on bf16 operands with fp32 results (``bf16_gemm.cpp``, used by
:mod:`reencoder.models.low_precision` and :mod:`.row_step`).

With torch ops, :func:`reencoder.grid.gate_math.gates_forward` / ``gates_backward`` run eq. 3 as
separate ops (~8 passes over memory forward, ~20 backward, each with its temporaries); the C++
kernels do one pass per row, parallel over rows.  :func:`gather_rows_sum` and
:func:`scatter_rows_add` move the additive input's rows (sums of parts, and their gradients)
without ``index_select`` temporaries.  The kernels are compiled with
:func:`torch.utils.cpp_extension.load` (the host compiler, ``-O3 -march=native``, IEEE arithmetic kept)
into torch's extension cache the first time a CPU grid needs them (one build per version of the
sources, flags, torch and CPU: :func:`_build_name`); ``make install`` builds them once, so
training and tests find them ready.

``REENCODER_GATE_KERNELS=0`` keeps the torch ops (also the fallback, with one warning, when no
compiler is available); :func:`available` says which path runs.  GPU tensors and dtypes other
than float32 / float64 always take the torch ops.  A caller chooses the torch ops for itself
with ``kernels="torch"`` (:data:`CHOICES`), an option of the gate math and of
:func:`reencoder.grid.fused_wavefront.run_grid_fused` (the benchmarks' comparison rows).
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import warnings
from pathlib import Path

import torch

SOURCES = [Path(__file__).with_name(f) for f in ("gate_kernels.cpp", "row_kernels.cpp", "bf16_gemm.cpp")]
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp"]


def _cpu_tag() -> str:
    """A short hash of this CPU's feature flags: ``-march=native`` builds are per CPU type."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = platform.processor()
    return hashlib.sha1(flags.encode()).hexdigest()[:8]


def _build_name() -> str:
    """The extension's name: a hash of its sources, flags, torch version and CPU, so a build is
    reused exactly while all of them are the same (and checkouts of different code never rebuild
    each other's)."""
    h = hashlib.sha1()
    for p in SOURCES:
        h.update(p.read_bytes())
    h.update(" ".join([*FLAGS, torch.__version__, _cpu_tag()]).encode())
    return f"reencoder_gates_{h.hexdigest()[:12]}"


def _build_dir(name: str) -> Path:
    """Where the extension is built: under ``$TORCH_EXTENSIONS_DIR`` (torch's own variable) or
    ``~/.cache/torch_extensions``."""
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "torch_extensions")
    return Path(root) / "reencoder" / name


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether the compiled kernels are loaded (building them on first call).  A finished build
    (its library there and no build holding the lock) is loaded directly: importing torch's
    extension builder and asking ninja whether it is up to date cost every process ~0.15 s."""
    if os.environ.get("REENCODER_GATE_KERNELS", "1") == "0":
        return False
    name = _build_name()
    build_dir = _build_dir(name)
    library = build_dir / f"{name}.so"
    if library.exists() and not (build_dir / "lock").exists():
        torch.ops.load_library(str(library))
        return True
    try:
        from torch.utils.cpp_extension import load

        build_dir.mkdir(parents=True, exist_ok=True)
        load(name=name, sources=[str(p) for p in SOURCES], extra_cflags=FLAGS, extra_ldflags=["-fopenmp"],
             build_directory=str(build_dir), is_python_module=False, verbose=False)
    except Exception as e:  # no compiler / ninja: torch ops, said once
        last = (str(e).strip().splitlines() or [""])[-1]  # a build error's last line names the cause
        warnings.warn(f"reencoder: the C++ gate kernels could not be built ({type(e).__name__}: {last}); "
                      "using torch ops", stacklevel=2)
        return False
    return True


#: The ``kernels`` option of the gate math and the fused wavefront: these C++ kernels where they
#: apply (``"cpp"``), or torch ops (``"torch"``).
CHOICES = ("cpp", "torch")


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the kernels take these tensors: CPU, float32 / float64, unit inner stride."""
    t = tensors[0]
    return (t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64)
            and all(x.stride(-1) == 1 for x in tensors) and available())


def lstm_forward(G, m_in, m_idx, N: int, k0: int, h_out, m_out, T, gate_then_tanh: bool) -> None:
    """Eq. 3 in place (see ``gate_kernels.cpp``); ``m_in`` is ``[R, F, n]`` (``m_idx`` None) or
    a ``[lines, n]`` buffer whose line ``m_idx[r N + k0 + k]`` is side ``k`` of row ``r``."""
    torch.ops.reencoder_gates.lstm_forward(G, m_in, m_idx, N, k0, h_out, m_out, T, gate_then_tanh)


def lstm_backward(G, T, m_in, m_new, dh, dm, m_idx, N: int, k0: int, gate_then_tanh: bool, dG, dm_in) -> None:
    """The derivatives of eq. 3; ``m_in`` and ``dm_in`` as ``m_in`` of :func:`lstm_forward`."""
    torch.ops.reencoder_gates.lstm_backward(G, T, m_in, m_new, dh, dm, m_idx, N, k0, gate_then_tanh, dG, dm_in)


def rows_usable(*tensors: torch.Tensor) -> bool:
    """Whether the row kernels take these tensors: contiguous CPU float32 / float64."""
    return all(t.is_contiguous() for t in tensors) and usable(*tensors)


def gather_rows_sum(out, parts, idx) -> None:
    """``out[c] = Σ_a parts[a][idx[a][c]]`` (rows of ``[C, W]`` / ``[L_a, W]`` matrices)."""
    torch.ops.reencoder_rows.gather_rows_sum(out, list(parts), list(idx))


def scatter_rows_add(acc, idx, src) -> None:
    """``acc[idx[c]] += src[c]`` (repeated indices summed)."""
    torch.ops.reencoder_rows.scatter_rows_add(acc, idx, src)


def report() -> str:
    """Build the kernels now (``make install``) and say which gate math CPU grids run."""
    return "C++ gate kernels: " + ("built, in use on CPU" if available() else "not available, torch ops")
