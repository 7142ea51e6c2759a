"""The one exception type of the evaluation package: a user-facing, one-line error."""


class EvalError(Exception):
    """Bad or missing evaluation input (hypotheses, references, a model folder).

    The message is one line for users, naming the file (and line where it applies), e.g.
    ``hyp.txt: 99 lines but the references have 100``. The CLIs print it as
    ``error: ...`` and exit with status 2, without a traceback.
    """
