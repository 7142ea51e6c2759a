"""Reencoder: a fairseq plugin (``--user-dir reencoder``) for the 3D Grid LSTM translation model.

This module only registers: the models, the algorithmic task and its criterion and the
wall-clock learning-rate schedule with fairseq, and the allow-list that lets fairseq's
checkpoints load under torch's safe (``weights_only``) unpickler.
"""

import logging

from .checkpoint_safety import allow_fairseq_checkpoints

# fairseq's speech task logs "Please install tensorboardX" at import, noise for a text plugin
logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)

allow_fairseq_checkpoints()

from . import (  # noqa: E402  (after the allow-list, which the models' import needs)
    models,  # noqa: E402,F401  (registers --arch reencoder*)
    optim,  # noqa: E402,F401  (registers --optimizer fused_adam, --lr-scheduler wallclock_linear)
    tasks,  # noqa: E402,F401  (registers --task algorithmic, --criterion sequence_accuracy)
)
