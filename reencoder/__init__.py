"""Reencoder: a fairseq plugin (``--user-dir reencoder``) for the 3D Grid LSTM translation model.

This module only registers: the models with fairseq, and the allow-list that lets fairseq's
checkpoints load under torch's safe (``weights_only``) unpickler.
"""

from .checkpoint_safety import allow_fairseq_checkpoints

allow_fairseq_checkpoints()

from . import models  # noqa: E402,F401  (registers --arch reencoder*)
