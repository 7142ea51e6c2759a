"""fairseq models built on the Grid LSTM (importing registers them)."""

from . import reencoder  # noqa: F401
