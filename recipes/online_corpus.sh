#!/usr/bin/env bash
# A larger corpus for users with internet and a GPU: news_commentary (69k pairs) or opus-100
# (1M pairs) from HuggingFace `datasets`, single-reference dev/test (--min-refs 1), a bigger
# Reencoder on CUDA.  Usage: CORPUS=Helsinki-NLP/opus-100:en-zh bash recipes/online_corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE_FLAGS=${DEVICE_FLAGS-}   # CUDA unless told otherwise
source recipes/lib.sh
CORPUS=${CORPUS:-Helsinki-NLP/news_commentary:en-zh}
DATA=${DATA:-work/data/$(echo "$CORPUS" | tr '/:' '__')}
RUNS=${RUNS:-runs/online}
ARCH=${ARCH:-reencoder_big}
mkdir -p "$RUNS/reencoder"
: > "$RUNS/times.tsv"

stage data "$BIN/reencoder-data" --hf "$CORPUS" --min-refs 1 --dev-size 2000 --test-size 2000 \
    --spm-vocab-zh 16000 --spm-vocab-en 16000 --out "$DATA"
# multi-GPU on one node: add --distributed-world-size N; several nodes: see README
stage train train_nmt reencoder "$DATA/bin" 100000 --arch "$ARCH" \
    --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 1.0 --max-tokens 8192 \
    --criterion label_smoothed_cross_entropy --label-smoothing 0.1 --lr 0.002 \
    --lr-scheduler inverse_sqrt --warmup-updates 2000 --patience 10 \
    --save-interval-updates 2000 --keep-interval-updates 5 --validate-interval-updates 2000
stage average "$BIN/reencoder-average" --save-dir "$RUNS/reencoder/ckpt" --last 5 --out "$RUNS/reencoder/ckpt/checkpoint_avg.pt"
stage decode generate_nmt reencoder "$DATA/bin" "$RUNS/reencoder/ckpt/checkpoint_avg.pt" --batch-size 128
stage eval "$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --system "reencoder=$RUNS/reencoder/test.hyp" --out "$RUNS/eval"
stage export "$BIN/reencoder-export" --checkpoint "$RUNS/reencoder/ckpt/checkpoint_avg.pt" --data "$DATA" --out "$RUNS/reencoder/model"
