#!/usr/bin/env bash
# The full Tatoeba recipe for one neural system (SYSTEM=reencoder, transformer or lstm): trained
# to convergence (early stopping on dev loss), the last checkpoints averaged, beam size and
# length penalty tuned on the multi-reference dev set, then the test set decoded once with the
# tuned settings and scored, and a model folder exported.  A re-run skips every finished stage
# (training that reached its end or stopped early, the average, each dev decode, the test decode,
# the export).  Hours on a 2-core CPU; minutes on a GPU:
#   DEVICE_FLAGS= MAX_TOKENS=8192 LR=0.005 VALID_EVERY=100 bash recipes/tatoeba_full.sh
# SKIP_DATA=1 uses an already prepared $DATA as it is (e.g. copied to a GPU machine);
# EXTRA_TRAIN_ARGS go to fairseq-train (e.g. "--stop-time-hours 2").
set -euo pipefail
cd "$(dirname "$0")/.."
source recipes/lib.sh

SHARED=${SHARED:-../shared/data}
DATA=${DATA:-work/data/tatoeba}
RUNS=${RUNS:-runs/full}
SYSTEM=${SYSTEM:-reencoder}
MAX_UPDATE=${MAX_UPDATE:-40000}
MAX_TOKENS=${MAX_TOKENS:-2048}
VALID_EVERY=${VALID_EVERY:-500}
PATIENCE=${PATIENCE:-8}
AVERAGE=${AVERAGE:-5}
case "$SYSTEM" in
    reencoder)   ARCH_ARGS=(--arch "${ARCH:-reencoder_base}"); LR=${LR:-0.003} ;;
    transformer) ARCH_ARGS=("${TRANSFORMER_ARCH[@]}"); LR=${LR:-0.002} ;;
    lstm)        ARCH_ARGS=("${LSTM_ARCH[@]}"); LR=${LR:-0.003} ;;
    *) echo "error: SYSTEM must be reencoder, transformer or lstm, got '$SYSTEM'" >&2; exit 2 ;;
esac
mkdir -p "$RUNS/$SYSTEM"
touch "$RUNS/times.tsv"

if [ "${SKIP_DATA:-0}" = 1 ] && [ -f "$DATA/manifest.json" ]; then
    echo "=== [data] using $DATA as it is (SKIP_DATA=1)" >&2
else
    stage data "$BIN/reencoder-data" --tatoeba "$SHARED/tatoeba-cmn-eng/cmn-eng.tsv" --out "$DATA"
fi
stage "train_$SYSTEM" train_nmt "$SYSTEM" "$DATA/bin" "$MAX_UPDATE" "${ARCH_ARGS[@]}" \
    --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 1.0 --max-tokens "$MAX_TOKENS" \
    --criterion label_smoothed_cross_entropy --label-smoothing 0.1 \
    --lr "$LR" --lr-scheduler inverse_sqrt --warmup-updates 300 --warmup-init-lr 1e-07 \
    --save-interval-updates "$VALID_EVERY" --keep-interval-updates "$AVERAGE" --patience "$PATIENCE" \
    --validate-interval-updates "$VALID_EVERY" ${EXTRA_TRAIN_ARGS:-}
CKPT=$RUNS/$SYSTEM/ckpt/checkpoint_avg.pt
newer "$CKPT" "$RUNS/$SYSTEM/ckpt/checkpoint_last.pt" ||
    stage "average_$SYSTEM" "$BIN/reencoder-average" --save-dir "$RUNS/$SYSTEM/ckpt" --last "$AVERAGE" --out "$CKPT"

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
# shellcheck disable=SC2086
newer "$RUNS/$SYSTEM/test.hyp" "$CKPT" || stage "decode_$SYSTEM" generate_nmt "$SYSTEM" "$DATA/bin" "$CKPT" $best
newer "$RUNS/$SYSTEM/model/config.json" "$CKPT" ||
    stage "export_$SYSTEM" "$BIN/reencoder-export" --checkpoint "$CKPT" --data "$DATA" --out "$RUNS/$SYSTEM/model"
stage "eval_$SYSTEM" "$BIN/reencoder-eval" --refs "$DATA/split" --prefix test \
    $(system_flags "$SYSTEM" "$RUNS/$SYSTEM/test.hyp") --out "$RUNS/$SYSTEM/eval"
