"""Whether this machine runs bf16 matmuls natively: the grid's GEMMs go to bf16 by default
(``--grid-bf16 auto``) only where they are faster than fp32.

* CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and later);
* CPU: the ``amx_bf16`` flag of ``/proc/cpuinfo`` (Intel AMX, Sapphire Rapids and later) or
  ``avx512_bf16`` (bf16 dot products in AVX-512: AMD Zen 4 and later, Intel Cooper Lake), which
  oneDNN's bf16 GEMMs use.  Measured with ``make bench`` on both kinds of CPU
  (``recipes/RESULTS.md``, "Performance": the AMX Xeon and the AMD EPYC Zen 5 with
  ``avx512_bf16``), bf16 GEMMs are faster than fp32 there; CPUs with neither (AVX2 only)
  emulate bf16, many times slower than fp32, and stay in fp32.

The model passes the chosen dtype to the grid explicitly (``compute_dtype``:
:meth:`reencoder.models.grid_decoder.GridDecoder.run_grid`).
"""

from __future__ import annotations

import functools
from typing import Tuple

import torch


@functools.lru_cache(maxsize=None)
def cpu_flags() -> frozenset:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device) -> Tuple[bool, str]:
    """``(bf16 GEMMs are native here, why)`` for ``device``."""
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
        return ok, f"{torch.cuda.get_device_name(device)} {'supports' if ok else 'does not support'} bf16"
    if "amx_bf16" in cpu_flags():
        return True, "the CPU has AMX (amx_bf16)"
    if "avx512_bf16" in cpu_flags():
        return True, "the CPU has AVX512-BF16 (avx512_bf16): bf16 dot products in hardware"
    return False, "the CPU has neither AMX nor AVX512-BF16: bf16 matmuls would be emulated, slower than fp32"


def bf16_dot_kernel_pays(device: torch.device) -> Tuple[bool, str]:
    """``(the bf16 dot-product kernel beats an fp32 GEMM here, why)``: the choice of
    ``--output-layer-bf16-inputs auto`` (``bf16_gemm.cpp``, AVX512-BF16 ``vdpbf16ps``).

    Only on a CPU with AVX512-BF16 and without AMX.  On the AMD EPYC Zen 4 the output layer's
    forward costs about a third of its fp32 time with it; on an AMX Xeon (which has AVX512-BF16
    too) it costs twice the fp32 GEMM, whose AVX-512 FMAs are faster there than the kernel's dot
    products (``recipes/RESULTS.md``, "Performance": the step by part on the AMX Xeon)."""
    if device.type != "cpu":
        return False, "a CPU kernel: elsewhere it would only add casts"
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return False, "the CPU has AMX (amx_bf16), where fp32 GEMMs are faster than the AVX512-BF16 kernel"
    if "avx512_bf16" in flags:
        return True, "the CPU has AVX512-BF16 (avx512_bf16) without AMX"
    return False, "the CPU has no AVX512-BF16: the kernel would not run"
