#!/usr/bin/env bash
# What budget the demo's Reencoder needs, against the lstm at the same budget: both demo systems
# (reencoder_base and fairseq's lstm, each with its learning rate and linear decay to zero) trained
# from scratch for EPOCHS epochs (default 8; the demo trains 5), the test set decoded once per
# system, scored against the demo's Thot output.  Needs a finished `make demo` (its data and Thot);
# about 3.2 (Reencoder) + 1.7 (lstm) minutes of one core per epoch on the development CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
source recipes/lib.sh
RUNS=${RUNS:-runs/longer}
DEMO=${DEMO:-runs/demo}
DATA=${DATA:-work/data/tatoeba}
EPOCHS=${EPOCHS:-8}
MAX_TOKENS=${MAX_TOKENS:-512}
[ -s "$DEMO/phrase_based/test.hyp" ] || { echo "error: no $DEMO/phrase_based/test.hyp: run make demo first" >&2; exit 2; }
export OMP_NUM_THREADS=1
UPDATES=$("$BIN/python" recipes/epoch_updates.py "$DATA/bin" --max-tokens "$MAX_TOKENS" --epochs "$EPOCHS")
SYSTEMS=()
for system in reencoder lstm; do
    name=${system}_${EPOCHS}ep
    if [ "$system" = reencoder ]; then model=(--arch reencoder_base); lr=$REENCODER_LR
    else model=("${LSTM_ARCH[@]}"); lr=$LSTM_LR; fi
    train_nmt "$name" "$DATA/bin" "$UPDATES" "${model[@]}" --max-tokens "$MAX_TOKENS" "${DEMO_OPT[@]}" \
        "${DECAY[@]}" --total-num-update "$UPDATES" --lr "$lr"
    ckpt=$RUNS/$name/ckpt/checkpoint_last.pt
    newer "$RUNS/$name/test.hyp" "$ckpt" || generate_nmt "$name" "$DATA/bin" "$ckpt"
    SYSTEMS+=($(system_flags "$name" "$RUNS/$name/test.hyp"))
done
"$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --baseline phrase_based \
    --system phrase_based=$DEMO/phrase_based/test.hyp "${SYSTEMS[@]}" --out $RUNS/eval
