#!/usr/bin/env bash
# Does bf16 training converge like fp32?  reencoder_base trained twice on the Tatoeba data from
# the same seed and batches, once in fp32 (--grid-bf16 never) and once with the grid's GEMMs in bf16
# (--grid-bf16 always), validating on dev every VALID_EVERY updates; then both loss curves in
# one plot (runs/bf16/curves.png) and the last losses side by side.  The two runs go in
# parallel with one thread each.  On a CPU without AMX or AVX512-BF16 (or a GPU), bf16 is slower than fp32
# here: this recipe is about convergence, `make bench` about speed.
source "$(dirname "$0")/tatoeba_env.sh"  # strict mode, the repository root, lib.sh; SHARED, DATA, TED
RUNS=${RUNS:-runs/bf16}
MAX_UPDATE=${MAX_UPDATE:-120}
VALID_EVERY=${VALID_EVERY:-40}
MAX_TOKENS=${MAX_TOKENS:-1024}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$RUNS"
: > "$RUNS/times.tsv"

tatoeba_data "$DATA"
ARGS=(--arch reencoder_base --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 1.0 --max-tokens "$MAX_TOKENS"
      --criterion label_smoothed_cross_entropy --label-smoothing 0.1 --lr 0.004
      --lr-scheduler inverse_sqrt --warmup-updates 50 --warmup-init-lr 1e-07
      --validate-interval-updates "$VALID_EVERY" --save-interval-updates "$VALID_EVERY"
      --keep-interval-updates 1 --log-interval 10)
stage train_fp32 train_nmt fp32 "$DATA/bin" "$MAX_UPDATE" "${ARGS[@]}" --grid-bf16 never > "$RUNS/fp32.out" 2>&1 &
pid=$!
stage train_bf16 train_nmt bf16 "$DATA/bin" "$MAX_UPDATE" "${ARGS[@]}" --grid-bf16 always > "$RUNS/bf16.out" 2>&1
wait "$pid"
"$BIN/python" -m eval.plot_training_curves "$RUNS/fp32/train.log" "$RUNS/bf16/train.log" \
    --labels fp32 bf16 --out "$RUNS/curves.png"
column -t "$RUNS/times.tsv"
