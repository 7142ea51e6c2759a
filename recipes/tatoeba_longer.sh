#!/usr/bin/env bash
# What budget the demo's Reencoder needs: the demo's system (reencoder_base, its learning rate and
# linear decay to zero) trained from scratch for EPOCHS epochs (default 8; the demo trains 5), the
# test set decoded once and scored against the demo's Thot and lstm outputs.  Needs a finished
# `make demo`; about 3.2 minutes of one core per epoch on the development CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
source recipes/lib.sh
RUNS=${RUNS:-runs/longer}
DEMO=${DEMO:-runs/demo}
DATA=${DATA:-work/data/tatoeba}
EPOCHS=${EPOCHS:-8}
MAX_TOKENS=${MAX_TOKENS:-512}
for f in phrase_based lstm; do
    [ -s "$DEMO/$f/test.hyp" ] || { echo "error: no $DEMO/$f/test.hyp: run make demo first" >&2; exit 2; }
done
export OMP_NUM_THREADS=1
UPDATES=$("$BIN/python" recipes/epoch_updates.py "$DATA/bin" --max-tokens "$MAX_TOKENS" --epochs "$EPOCHS")
name=reencoder_${EPOCHS}ep
train_nmt "$name" "$DATA/bin" "$UPDATES" --arch reencoder_base --max-tokens "$MAX_TOKENS" "${DEMO_OPT[@]}" \
    "${DECAY[@]}" --total-num-update "$UPDATES" --lr "$REENCODER_LR"
[ -s "$RUNS/$name/test.hyp" ] || generate_nmt "$name" "$DATA/bin" "$RUNS/$name/ckpt/checkpoint_last.pt"
"$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --baseline phrase_based \
    --system phrase_based=$DEMO/phrase_based/test.hyp --system "$name=$RUNS/$name/test.hyp" \
    --system lstm=$DEMO/lstm/test.hyp --out $RUNS/eval
