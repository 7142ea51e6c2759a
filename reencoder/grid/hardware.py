"""Whether this machine runs bf16 matmuls natively: the grid's GEMMs go to bf16 by default
(``--grid-bf16 auto``) only where they are faster than fp32.

* CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and later);
* CPU: the ``amx_bf16`` flag of ``/proc/cpuinfo`` (Intel AMX, Sapphire Rapids and later: bf16
  matmuls ~6x fp32).  ``avx512_bf16`` alone only speeds up conversions and dot products by
  about 2x and AVX2-only CPUs emulate bf16 (~10x slower than fp32), so both stay in fp32.
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
    extra = " (avx512_bf16 only)" if "avx512_bf16" in cpu_flags() else ""
    return False, f"the CPU has no AMX{extra}: bf16 matmuls would be emulated or slower than fp32"
