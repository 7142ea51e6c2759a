"""fairseq models built on the Grid LSTM (importing registers them)."""

from . import (
    grid_lstm_lm,  # noqa: F401
    reencoder,  # noqa: F401
    stacked_lstm_lm,  # noqa: F401
)
