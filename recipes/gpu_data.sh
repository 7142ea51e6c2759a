#!/usr/bin/env bash
# `make gpu-data`: what `make gpu-check` needs on an accelerator machine, which has the repository
# but neither ../shared nor internet, prepared here into ignored folders to carry there:
#   work/gpu_data   the first GPU_DATA_PAIRS (100000) TVsub training pairs and the corpus's dev set,
#                   prepared by reencoder-data --tvsub --tvsub-limit (its own sentencepiece models):
#                   the fairseq bin and the manifest, ~6 MB
#   .whl            wheels of the packages the plugin needs besides torch (fairseq and what it
#                   imports that a CUDA image lacks), for GPU_PYTHON (3.12) on x86-64 Linux, at the
#                   versions of this venv; recipes/gpu_check.sh installs them there when fairseq is missing
# and prints the `carry` list for the device tool.  Re-running reuses the prepared slice.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
SHARED=${SHARED:-../shared/data}
PAIRS=${GPU_DATA_PAIRS:-100000}
GPU_PYTHON=${GPU_PYTHON:-3.12}
PREP=work/gpu_prep/tvsub_$PAIRS
OUT=work/gpu_data
WHEELS=.whl

"$BIN/reencoder-data" --tvsub "$SHARED/tvsub-zh-en" --tvsub-limit "$PAIRS" --tok-limit 1000 --quiet --out "$PREP"
rm -rf "$OUT"
mkdir -p "$OUT"
cp -r "$PREP/bin" "$PREP/manifest.json" "$OUT/"

# the versions installed here, so that the machine runs the fairseq the tests ran
version() { "$BIN/python" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
mkdir -p "$WHEELS"
rm -f "$WHEELS"/*.whl
"$BIN/python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version "$GPU_PYTHON" --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$WHEELS" \
    "ve-fairseq==$(version ve-fairseq)" "hydra-core==$(version hydra-core)" "omegaconf==$(version omegaconf)" \
    "bitarray==$(version bitarray)"
# antlr4-python3-runtime (omegaconf's parser) is published as a source archive only: built here (pure Python)
"$BIN/python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$WHEELS" \
    "antlr4-python3-runtime==$(version antlr4-python3-runtime)"

du -sh "$OUT" "$WHEELS" >&2
echo "gpu-data: ready; on the accelerator machine run \`make gpu-check\` with carry [\"$OUT\", \"$WHEELS\"]"
