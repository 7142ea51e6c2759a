"""fairseq's ``lstm_lm`` with one more flag, ``--decoder-output-init``, so that the stacked LSTM
the Grid LSTM paper compares against can be tuned on the same knob as the grid models:
``fairseq-train --user-dir reencoder --arch stacked_lstm_lm``.

The output layer's initial scale bounds how fast a language model leaves its first plateau on
the algorithmic tasks (``recipes/RESULTS.md``, "The LSTM depth"); fairseq fixes it at
U(-0.1, 0.1).  Everything else is fairseq's model and architecture, unchanged.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from fairseq.models import register_model, register_model_architecture
from fairseq.models.lstm_lm import LSTMLanguageModel
from fairseq.models.lstm_lm import base_architecture as lstm_lm_architecture

from data_prep.foundation import non_negative_float

FAIRSEQ_OUTPUT_INIT = 0.1


@register_model("stacked_lstm_lm")
class StackedLSTMLanguageModel(LSTMLanguageModel):
    """fairseq's LSTM language model; its output layer, not shared with the embeddings, starts in U(-S, S)."""

    @staticmethod
    def add_args(parser):
        """fairseq's ``lstm_lm`` flags and ``--decoder-output-init``."""
        LSTMLanguageModel.add_args(parser)
        parser.add_argument('--decoder-output-init', type=non_negative_float, metavar='S',
                            help="an output layer not shared with the embeddings starts in U(-S, S) (fairseq's 0.1)")

    @classmethod
    def build_model(cls, args, task):
        model = super().build_model(args, task)
        fc_out = getattr(model.decoder, "fc_out", None)
        if isinstance(fc_out, nn.Linear):  # fairseq drew it from U(-0.1, 0.1): rescaled, no new draw
            with torch.no_grad():
                fc_out.weight.mul_(args.decoder_output_init / FAIRSEQ_OUTPUT_INIT)
        return model


@register_model_architecture("stacked_lstm_lm", "stacked_lstm_lm")
def stacked_lstm_lm(args):
    """fairseq's ``lstm_lm`` defaults, and its output init."""
    if getattr(args, "decoder_output_init", None) is None:
        args.decoder_output_init = FAIRSEQ_OUTPUT_INIT
    lstm_lm_architecture(args)
