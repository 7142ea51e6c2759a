#!/usr/bin/env bash
# The full Tatoeba recipe for one neural system (SYSTEM=reencoder, transformer or lstm): trained
# until dev loss stops improving (--patience validations) or its wall-clock budget runs out
# (BUDGET_MIN minutes of training, fairseq's --stop-time-hours, at most 60, one CPU thread), the
# AVERAGE checkpoints ending at the best dev loss averaged, beam size and length penalty tuned on the multi-reference dev set,
# then the Tatoeba test set decoded once with the tuned settings, the IWSLT15 TED tst2010 set
# (out of domain) decoded with the same settings, and a model folder exported.
# recipes/tatoeba_full_table.sh then adds Thot and prints one table per test set.
# A re-run skips every finished stage (training that reached its end, stopped early or used its
# budget; the average, each dev decode, the test and TED decodes, the export).  On a GPU:
#   DEVICE_FLAGS= MAX_TOKENS=8192 LR=0.005 VALID_EVERY=100 bash recipes/tatoeba_full.sh
# SKIP_DATA=1 uses an already prepared $DATA as it is (e.g. copied to a GPU machine);
# EXTRA_TRAIN_ARGS go to fairseq-train.  DEV_ONLY=1 stops after the dev tuning (a configuration
# being compared on dev: the test set is not read; recipes/tune_full.sh).
source "$(dirname "$0")/tatoeba_env.sh"  # strict mode, the repository root, lib.sh; SHARED, DATA, TED
RUNS=${RUNS:-runs/full}
SYSTEM=${SYSTEM:-reencoder}
PATIENCE=${PATIENCE:-8}
AVERAGE=${AVERAGE:-5}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# Per system: batch size (tokens), peak learning rate, warm-up updates, validation interval,
# schedule and budget: the configurations chosen on dev by recipes/tune_full.sh (recipes/RESULTS.md,
# "Tuning the full recipe"); each system's weight decay is the demo's (lib.sh's DEMO_DECAY_*, chosen
# on dev), WEIGHT_DECAY=X overrides it.
# SCHEDULE=inverse_sqrt: stop at the budget or early, never annealed; SCHEDULE=wallclock: decayed
# linearly to zero at the budget (the demo's --lr-scheduler wallclock_linear).
case "$SYSTEM" in
    reencoder)   ARCH_ARGS=(--arch "${ARCH:-reencoder_base}" --dropout 0.2)
                 TOK=512; PEAK=0.005; WU=200; EVERY=250; SCHED_DEFAULT=wallclock; MIN=25
                 DECAY=("${DEMO_DECAY_REENCODER[@]}") ;;
    transformer) ARCH_ARGS=("${TRANSFORMER_ARCH[@]}")
                 TOK=4096; PEAK=0.002; WU=400; EVERY=100; SCHED_DEFAULT=inverse_sqrt; MIN=60
                 DECAY=("${DEMO_DECAY_TRANSFORMER[@]}") ;;
    lstm)        ARCH_ARGS=("${LSTM_ARCH[@]}" --dropout 0.2)
                 TOK=1024; PEAK=0.003; WU=300; EVERY=250; SCHED_DEFAULT=wallclock; MIN=25
                 DECAY=("${DEMO_DECAY_LSTM[@]}") ;;
    *) echo "error: SYSTEM must be reencoder, transformer or lstm, got '$SYSTEM'" >&2; exit 2 ;;
esac
MAX_TOKENS=${MAX_TOKENS:-$TOK}; LR=${LR:-$PEAK}; WARMUP=${WARMUP:-$WU}; VALID_EVERY=${VALID_EVERY:-$EVERY}
BUDGET_MIN=${BUDGET_MIN:-$MIN}; SCHEDULE=${SCHEDULE:-$SCHED_DEFAULT}
MAX_UPDATE=${MAX_UPDATE:-0}
if [ -n "${WEIGHT_DECAY:-}" ]; then DECAY=(--weight-decay "$WEIGHT_DECAY"); fi
case "$SCHEDULE" in
    inverse_sqrt) read -r -a SCHED <<< "--stop-time-hours $(hours "$BUDGET_MIN") --lr-scheduler inverse_sqrt --warmup-init-lr 1e-07" ;;
    wallclock)    read -r -a SCHED <<< "$(budget "$BUDGET_MIN")" ;;
    *) echo "error: SCHEDULE must be inverse_sqrt or wallclock, got '$SCHEDULE'" >&2; exit 2 ;;
esac
mkdir -p "$RUNS/$SYSTEM"
touch "$RUNS/times.tsv"

if [ "${SKIP_DATA:-0}" = 1 ] && [ -f "$DATA/manifest.json" ]; then
    echo "=== [data] using $DATA as it is (SKIP_DATA=1)" >&2
else
    tatoeba_data "$DATA"
fi
stage "train_$SYSTEM" train_nmt "$SYSTEM" "$DATA/bin" "$MAX_UPDATE" "${ARCH_ARGS[@]}" \
    "${DEMO_OPT[@]}" "${DECAY[@]}" --max-tokens "$MAX_TOKENS" "${SCHED[@]}" --lr "$LR" --warmup-updates "$WARMUP" \
    --save-interval-updates "$VALID_EVERY" --keep-interval-updates $((AVERAGE + PATIENCE)) --patience "$PATIENCE" \
    --validate-interval-updates "$VALID_EVERY" ${EXTRA_TRAIN_ARGS:-}
CKPT=$RUNS/$SYSTEM/ckpt/checkpoint_avg.pt
newer "$CKPT" "$RUNS/$SYSTEM/ckpt/checkpoint_last.pt" ||
    stage "average_$SYSTEM" "$BIN/reencoder-average" --save-dir "$RUNS/$SYSTEM/ckpt" --last "$AVERAGE" --around-best --out "$CKPT"

# Tune beam and length penalty on dev (fairseq-generate on the valid subset = dev), scoring the
# detokenized output against all dev references.
best=""; best_bleu=-1
for beam in 4 8; do
  for lenpen in 0.8 1.0 1.2; do
    tag="dev_b${beam}_lp${lenpen}"
    if ! newer "$RUNS/$SYSTEM/$tag.eval/results.json" "$CKPT"; then  # a re-run keeps finished decodes
        decode valid "$DATA/bin" "$CKPT" "$RUNS/$SYSTEM/$tag" --beam "$beam" --lenpen "$lenpen"
        "$BIN/reencoder-eval" --refs "$DATA/split" --prefix dev --system "$tag=$RUNS/$SYSTEM/$tag.hyp" \
            --out "$RUNS/$SYSTEM/$tag.eval" > /dev/null
    fi
    bleu=$("$BIN/python" -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['systems'][0]['bleu'])" \
        "$RUNS/$SYSTEM/$tag.eval/results.json")
    echo "dev beam=$beam lenpen=$lenpen BLEU=$bleu" | tee -a "$RUNS/$SYSTEM/dev_tuning.txt"
    if "$BIN/python" -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$bleu" "$best_bleu"; then
        best="--beam $beam --lenpen $lenpen"; best_bleu=$bleu
    fi
  done
done
echo "best on dev: $best (BLEU $best_bleu)" | tee -a "$RUNS/$SYSTEM/dev_tuning.txt"
[ "${DEV_ONLY:-0}" = 1 ] && exit 0
# shellcheck disable=SC2086
newer "$RUNS/$SYSTEM/test.hyp" "$CKPT" || stage "decode_$SYSTEM" generate_nmt "$SYSTEM" "$DATA/bin" "$CKPT" $best
# shellcheck disable=SC2086
newer "$RUNS/$SYSTEM/model/config.json" "$CKPT" || stage "export_$SYSTEM" "$BIN/reencoder-export" \
    --checkpoint "$CKPT" --data "$DATA" --out "$RUNS/$SYSTEM/model" $best
stage "eval_$SYSTEM" "$BIN/reencoder-eval" --refs "$DATA/split" --prefix test \
    $(system_flags "$SYSTEM" "$RUNS/$SYSTEM/test.hyp") --out "$RUNS/$SYSTEM/eval"

# Out of domain: TED tst2010, encoded with the Tatoeba sentencepiece models and dictionaries.
ted_data tst2010 "$DATA" "$TED"
# shellcheck disable=SC2086
newer "$RUNS/$SYSTEM/ted.hyp" "$CKPT" ||
    stage "ted_$SYSTEM" decode test "$TED/bin" "$CKPT" "$RUNS/$SYSTEM/ted" $best --max-len-a 1.5 --max-len-b 10
