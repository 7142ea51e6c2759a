#!/usr/bin/env bash
# The full Tatoeba recipe: the Reencoder trained to convergence (early stopping on dev loss),
# the last checkpoints averaged, beam size and length penalty tuned on the multi-reference dev
# set, then the test set decoded once with the tuned settings.  Hours on a 2-core CPU; minutes
# on a GPU (DEVICE_FLAGS= ARCH=reencoder_big bash recipes/tatoeba_full.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source recipes/lib.sh

SHARED=${SHARED:-../shared/data}
DATA=${DATA:-work/data/tatoeba}
RUNS=${RUNS:-runs/full}
ARCH=${ARCH:-reencoder_base}
MAX_UPDATE=${MAX_UPDATE:-40000}
PATIENCE=${PATIENCE:-8}
AVERAGE=${AVERAGE:-5}
mkdir -p "$RUNS/reencoder"
: > "$RUNS/times.tsv"

stage data "$BIN/reencoder-data" --tatoeba "$SHARED/tatoeba-cmn-eng/cmn-eng.tsv" --out "$DATA"
stage train train_nmt reencoder "$DATA/bin" "$MAX_UPDATE" --arch "$ARCH" \
    --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 1.0 --max-tokens 2048 \
    --criterion label_smoothed_cross_entropy --label-smoothing 0.1 \
    --lr 0.003 --lr-scheduler inverse_sqrt --warmup-updates 300 --warmup-init-lr 1e-07 \
    --save-interval-updates 500 --keep-interval-updates "$AVERAGE" --patience "$PATIENCE" \
    --validate-interval-updates 500
stage average "$BIN/reencoder-average" --save-dir "$RUNS/reencoder/ckpt" --last "$AVERAGE" \
    --out "$RUNS/reencoder/ckpt/checkpoint_avg.pt"

# Tune beam and length penalty on dev (fairseq-generate on the valid subset = dev, ref 0 for
# fairseq's own BLEU is ignored: we score the detokenized output against all dev references).
best=""; best_bleu=-1
for beam in 4 8; do
  for lenpen in 0.8 1.0 1.2; do
    tag="dev_b${beam}_lp${lenpen}"
    decode valid "$DATA/bin" "$RUNS/reencoder/ckpt/checkpoint_avg.pt" "$RUNS/reencoder/$tag" --beam "$beam" --lenpen "$lenpen"
    "$BIN/reencoder-eval" --refs "$DATA/split" --prefix dev --system "$tag=$RUNS/reencoder/$tag.hyp" \
        --out "$RUNS/reencoder/$tag.eval" > /dev/null
    bleu=$("$BIN/python" -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['systems'][0]['bleu'])" \
        "$RUNS/reencoder/$tag.eval/results.json")
    echo "dev beam=$beam lenpen=$lenpen BLEU=$bleu" | tee -a "$RUNS/reencoder/dev_tuning.txt"
    if "$BIN/python" -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$bleu" "$best_bleu"; then
        best="--beam $beam --lenpen $lenpen"; best_bleu=$bleu
    fi
  done
done
echo "best on dev: $best (BLEU $best_bleu)"
# shellcheck disable=SC2086
stage decode generate_nmt reencoder "$DATA/bin" "$RUNS/reencoder/ckpt/checkpoint_avg.pt" $best
stage export "$BIN/reencoder-export" --checkpoint "$RUNS/reencoder/ckpt/checkpoint_avg.pt" --data "$DATA" \
    --out "$RUNS/reencoder/model"
stage eval "$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --system "reencoder=$RUNS/reencoder/test.hyp" \
    --out "$RUNS/eval"
