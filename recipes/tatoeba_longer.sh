#!/usr/bin/env bash
# The demo's Reencoder trained on to 8 epochs from runs/demo (the same inverse-sqrt schedule as
# EPOCHS=8), the test set decoded once and scored against the demo's Thot and lstm outputs.
# Needs a finished `make demo`; about 10 minutes of one core.
set -euo pipefail
cd "$(dirname "$0")/.."
source recipes/lib.sh
RUNS=${RUNS:-runs/longer}
DEMO=${DEMO:-runs/demo}
DATA=${DATA:-work/data/tatoeba}
EPOCHS=${EPOCHS:-8}
[ -s "$DEMO/reencoder/ckpt/checkpoint_last.pt" ] || { echo "error: no $DEMO/reencoder/ckpt/checkpoint_last.pt: run make demo first" >&2; exit 2; }
mkdir -p $RUNS/reencoder/ckpt
[ -s $RUNS/reencoder/ckpt/checkpoint_last.pt ] || cp $DEMO/reencoder/ckpt/checkpoint_last.pt $RUNS/reencoder/ckpt/
export OMP_NUM_THREADS=1
train_nmt reencoder "$DATA/bin" 0 --arch reencoder_base --max-epoch "$EPOCHS" --max-tokens 512 \
    "${DEMO_TRAIN[@]}" --lr "$REENCODER_LR"
generate_nmt reencoder "$DATA/bin" "$RUNS/reencoder/ckpt/checkpoint_last.pt"
"$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --baseline phrase_based \
    --system phrase_based=$DEMO/phrase_based/test.hyp --system reencoder_${EPOCHS}ep=$RUNS/reencoder/test.hyp \
    --system lstm=$DEMO/lstm/test.hyp --out $RUNS/eval
