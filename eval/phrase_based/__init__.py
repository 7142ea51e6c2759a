"""Phrase-based SMT baseline on Thot (via sil-machine): train, tune on dev, translate.

Modules: :mod:`.text` (normalisation, jieba, sacremoses tokenization / detokenization),
:mod:`.casing` (Moses truecasing), :mod:`.oov` (unknown words backed off to known parts),
:mod:`.config` (the model folder and its Thot config), :mod:`.trainer` (alignment, phrase
table, LM and weight tuning on the dev set), :mod:`.tuner` (multi-reference BLEU for Thot's
simplex tuner), :mod:`.progress` (progress bar and wall times per phase), :mod:`.model`
(load and translate), :mod:`.recipe` (train / translate a data_prep folder), :mod:`.cli`
(``reencoder-baseline``).
"""
