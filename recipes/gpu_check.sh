#!/usr/bin/env bash
# `make gpu-check`: eval/gpu_check.py on an accelerator machine that has this repository and what
# `make gpu-data` prepared (carried: work/gpu_data, .whl), but no ../shared, no internet and an
# unknown Python: the Python that imports torch (this repo's venv, else python3); when fairseq is
# not importable, the wheels in .whl installed into GPU_SITE (default /tmp/reencoder_site), which goes
# on PYTHONPATH; the check then records in its JSON whatever still fails.  DRY_RUN=1: the same check
# on the CPU at tiny sizes (tests/e2e/test_gpu_check.py, in `make test`).  Arguments go to
# eval/gpu_check.py (--budget-s, --train-s, --out).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ] && .venv/bin/python -c "import torch" 2>/dev/null; then PY=.venv/bin/python; else PY=python3; fi
fi
"$PY" -c "import torch" || { echo "error: gpu-check: $PY cannot import torch (PY=... names a Python that can)" >&2; exit 2; }
export PYTHONUNBUFFERED=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if [ -z "${DRY_RUN:-}" ] || [ "${DRY_RUN}" = 0 ]; then
    # CUDA tensors take the eager gate math: no C++ kernel build for a stray CPU tensor
    export REENCODER_GATE_KERNELS=0
fi
if ! "$PY" -c "import fairseq" > /dev/null 2>&1; then
    SITE=${GPU_SITE:-/tmp/reencoder_site}
    if ls .whl/*.whl > /dev/null 2>&1; then
        echo "gpu-check: fairseq is not importable by $PY: installing .whl/*.whl into $SITE" >&2
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
            && export PYTHONPATH=$PYTHONPATH:$SITE GPU_CHECK_WHEELS="$(cd .whl && echo *.whl)"
    else
        echo "gpu-check: fairseq is not importable by $PY and .whl holds no wheels (make gpu-data downloads them; carry .whl)" >&2
    fi
fi
exec "$PY" -m eval.gpu_check "$@"
