"""The exception type of data_prep: a user-facing, one-line error."""
from __future__ import annotations

from .foundation import UserError


class DataError(UserError):
    """Bad or missing input data.

    The message is a single line meant for users, e.g.
    ``corpus.zh:17: invalid UTF-8 at byte 4``. The CLIs print it as ``error: ...``
    and exit with status 2, without a traceback (:func:`data_prep.foundation.run_main`).
    """
