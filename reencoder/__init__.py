"""Reencoder: a fairseq plugin (``--user-dir reencoder``) for the 3D Grid LSTM translation model.

This module only registers: the models, the algorithmic task and its criterion and the
wall-clock learning-rate schedule with fairseq, the allow-list that lets fairseq's
checkpoints load under torch's safe (``weights_only``) unpickler, and a fix that makes
``--no-repeat-ngram-size`` block n-grams without fairseq's CUDA extension (:mod:`.ngram_block_fix`).
"""

import logging

from .checkpoint_safety import allow_fairseq_checkpoints

# fairseq's speech task logs "Please install tensorboardX" at import, noise for a text plugin
logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)

allow_fairseq_checkpoints()

from . import (  # noqa: E402  (after the allow-list, which the models' import needs)
    models,  # noqa: E402,F401  (registers --arch reencoder*)
    ngram_block_fix,  # noqa: E402  (imports fairseq: after the logging level above)
    optim,  # noqa: E402,F401  (registers --optimizer fused_adam, --lr-scheduler wallclock_linear)
    tasks,  # noqa: E402,F401  (registers --task algorithmic, --criterion sequence_accuracy)
)

ngram_block_fix.install()
