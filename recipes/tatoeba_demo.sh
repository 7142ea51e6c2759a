#!/usr/bin/env bash
# `make demo`: Tatoeba zh-en end to end on a 2-core CPU, about 30 minutes.
#   1. data: clean, leak-free multi-reference split, sentencepiece 4k+4k, fairseq binaries
#   2. the Thot phrase-based baseline (jieba / sacremoses, tuned on dev)
#   3. the Reencoder (reencoder_base) and fairseq's lstm and transformer baselines
#   4. beam-5 decoding of the 1,000-item multi-reference test set, BLEU/chrF + paired bootstrap
# Every step calls a public CLI; re-running skips what is done.  Sizes and update counts are
# variables, e.g. `REENCODER_UPDATES=6000 make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source recipes/lib.sh

SHARED=${SHARED:-../shared/data}
DATA=${DATA:-work/data/tatoeba}
RUNS=${RUNS:-runs/demo}
REENCODER_UPDATES=${REENCODER_UPDATES:-1500}
TRANSFORMER_UPDATES=${TRANSFORMER_UPDATES:-1500}
LSTM_UPDATES=${LSTM_UPDATES:-1500}
MAX_TOKENS=${MAX_TOKENS:-2048}
mkdir -p "$RUNS"
: > "$RUNS/times.tsv"

COMMON=(--optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 1.0 --max-tokens "$MAX_TOKENS"
        --criterion label_smoothed_cross_entropy --label-smoothing 0.1
        --lr-scheduler inverse_sqrt --warmup-updates 300 --warmup-init-lr 1e-07)

stage data "$BIN/reencoder-data" --tatoeba "$SHARED/tatoeba-cmn-eng/cmn-eng.tsv" --out "$DATA"

if [ ! -s "$RUNS/phrase_based/test.hyp" ]; then
    stage phrase_based "$BIN/reencoder-baseline" run --data "$DATA" --out "$RUNS/phrase_based"
fi

stage train_reencoder train_nmt reencoder "$DATA/bin" "$REENCODER_UPDATES" \
    --arch reencoder_base "${COMMON[@]}" --lr 0.003
stage train_transformer train_nmt transformer "$DATA/bin" "$TRANSFORMER_UPDATES" \
    --arch transformer --encoder-layers 3 --decoder-layers 3 \
    --encoder-embed-dim 256 --decoder-embed-dim 256 \
    --encoder-ffn-embed-dim 1024 --decoder-ffn-embed-dim 1024 \
    --encoder-attention-heads 4 --decoder-attention-heads 4 \
    --share-decoder-input-output-embed --dropout 0.1 "${COMMON[@]}" --lr 0.001
stage train_lstm train_nmt lstm "$DATA/bin" "$LSTM_UPDATES" \
    --arch lstm --encoder-embed-dim 256 --decoder-embed-dim 256 --decoder-out-embed-dim 256 \
    --encoder-hidden-size 256 --decoder-hidden-size 256 --encoder-layers 1 --decoder-layers 1 \
    --share-decoder-input-output-embed --dropout 0.1 "${COMMON[@]}" --lr 0.002

for name in reencoder transformer lstm; do
    stage "decode_$name" generate_nmt "$name" "$DATA/bin" "$RUNS/$name/ckpt/checkpoint_last.pt"
done
stage export "$BIN/reencoder-export" --checkpoint "$RUNS/reencoder/ckpt/checkpoint_last.pt" \
    --data "$DATA" --out "$RUNS/reencoder/model"

stage eval "$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --baseline phrase_based \
    --system "phrase_based=$RUNS/phrase_based/test.hyp" \
    --system "reencoder=$RUNS/reencoder/test.hyp" \
    --system "transformer=$RUNS/transformer/test.hyp" \
    --system "lstm=$RUNS/lstm/test.hyp" \
    --out "$RUNS/eval"

echo
echo "Wall time per stage (s):"
column -t "$RUNS/times.tsv"
