#!/usr/bin/env bash
# ARCHIVED (superseded): reproduces recipes/RESULTS.md, "The previous demo Reencoder (LSTM cell, n = 96): longer budgets (2026-11-30)".
# What budget the previous demo Reencoder needed, against the lstm at the same budget: both
# systems (the then reencoder_base, the full LSTM block at 96 units, and fairseq's lstm, each with
# its learning rate and linear decay to zero) trained from scratch for EPOCHS epochs (default 8),
# the test set decoded once per system, scored against the demo's Thot output.  Needs a finished
# `make demo` (its data and Thot).  Run from anywhere: bash recipes/archive/tatoeba_longer.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source recipes/lib.sh
RUNS=${RUNS:-runs/longer}
DEMO=${DEMO:-runs/demo}
DATA=${DATA:-work/data/tatoeba}
EPOCHS=${EPOCHS:-8}
MAX_TOKENS=${MAX_TOKENS:-512}
# the schedule and peak learning rates of those runs (chosen on dev at the time): a linear decay to
# zero at --max-update after 200 warm-up updates (--total-num-update N = --max-update, since
# fairseq's own default for it does not resolve)
DECAY=(--lr-scheduler polynomial_decay --warmup-updates 200 --end-learning-rate 0 --power 1)
REENCODER_LR=0.005
LSTM_LR=0.003
REENCODER_N96=(--arch reencoder_base --grid-hidden-size 96 --grid-unshared-dims --grid-depth-transform lstm)
[ -s "$DEMO/phrase_based/test.hyp" ] || { echo "error: no $DEMO/phrase_based/test.hyp: run make demo first" >&2; exit 2; }
export OMP_NUM_THREADS=1
UPDATES=$("$BIN/python" recipes/epoch_updates.py "$DATA/bin" --max-tokens "$MAX_TOKENS" --epochs "$EPOCHS")
SYSTEMS=()
for system in reencoder lstm; do
    name=${system}_${EPOCHS}ep
    if [ "$system" = reencoder ]; then model=("${REENCODER_N96[@]}"); lr=$REENCODER_LR
    else model=("${LSTM_ARCH[@]}"); lr=$LSTM_LR; fi
    train_nmt "$name" "$DATA/bin" "$UPDATES" "${model[@]}" --max-tokens "$MAX_TOKENS" "${DEMO_OPT[@]}" \
        "${DECAY[@]}" --total-num-update "$UPDATES" --lr "$lr"
    ckpt=$RUNS/$name/ckpt/checkpoint_last.pt
    newer "$RUNS/$name/test.hyp" "$ckpt" || generate_nmt "$name" "$DATA/bin" "$ckpt"
    SYSTEMS+=($(system_flags "$name" "$RUNS/$name/test.hyp"))
done
"$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --baseline phrase_based \
    --system phrase_based=$DEMO/phrase_based/test.hyp "${SYSTEMS[@]}" --out $RUNS/eval
