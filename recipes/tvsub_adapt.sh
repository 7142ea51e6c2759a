# Domain adaptation in recipes/tvsub.sh (sourced by it after its table, before the cross-domain
# matrix; its variables): every neural TVsub model fine-tuned on the Tatoeba training set for
# ADAPT_MIN minutes of one thread, so that one model translates both the dialogue of TVsub and the
# everyday sentences of Tatoeba (the demo's).
#   data:  $TATOEBA's training pairs, dev and test items in TVsub's vocabulary
#          (reencoder-data --from-prepared: TVsub's sentencepiece models and dictionaries) -> $ADAPT_DATA
#   train: $RUNS/NAME_tatoeba, from $RUNS/NAME/ckpt/checkpoint_avg.pt (--finetune-from-model: the
#          weights only; a fresh optimizer, dataloader and clock), the TVsub run's architecture,
#          batch size 512 tokens, peak learning rate ADAPT_LR after 100 warm-up updates, decayed to
#          zero at ADAPT_MIN minutes, two systems side by side
#   then as every Tatoeba system (lib.sh's after_training): DEV_GRID decoded on the Tatoeba dev set,
#          the best on dev BLEU (all references) decodes the Tatoeba test set once, a model folder
#          ($RUNS/NAME_tatoeba/model: raw Chinese in, TVsub's sentencepiece), source reliance.
# The cross-domain matrix then scores these models on every test set as tvsub+tatoeba_NAME.
ADAPT_DATA=${ADAPT_DATA:-${DATA}_tatoeba}
# ADAPT_LR: chosen on the Tatoeba dev set among 0.001, 0.002 and 0.004 (recipes/RESULTS.md, "TVsub")
ADAPT_LR=${ADAPT_LR:-0.002}

stage adapt_data "$BIN/reencoder-data" --from-prepared "$TATOEBA" --spm-dir "$DATA/spm" \
    --dict-dir "$DATA/bin" --out "$ADAPT_DATA" --quiet

# adapt_entry NAME: NAME's TVsub model fine-tuned on Tatoeba, then decoded, exported, measured
adapt_entry() {
    local name=$1
    # shellcheck disable=SC2046
    stage "adapt_$name" train_nmt "${name}_tatoeba" "$ADAPT_DATA/bin" 0 $(arch_flags "$name") "${DEMO_OPT[@]}" \
        $(budget "$ADAPT_MIN") --max-tokens 512 --lr "$ADAPT_LR" --warmup-updates 100 \
        --finetune-from-model "$RUNS/$name/ckpt/checkpoint_avg.pt" ${EXTRA_TRAIN_ARGS:-}
    DECODE_ARGS= after_training "${name}_tatoeba" "$ADAPT_DATA"
}

phase lanes_adapt adapt_entry "${NEURAL[@]}"
