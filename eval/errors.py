"""The exception type of the evaluation package: a user-facing, one-line error."""
from __future__ import annotations

from data_prep.foundation import UserError


class EvalError(UserError):
    """Bad or missing evaluation input (hypotheses, a phrase-based model folder).

    The message is one line for users, naming the file (and line where it applies), e.g.
    ``hyp.txt: 99 lines but the references have 100``. The CLIs print it as
    ``error: ...`` and exit with status 2, without a traceback
    (:func:`data_prep.foundation.run_main`).
    """
