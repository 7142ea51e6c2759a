"""The one exception type of data_prep: a user-facing, one-line error."""


class DataError(Exception):
    """Bad or missing input data.

    The message is a single line meant for users, e.g.
    ``corpus.zh:17: invalid UTF-8 at byte 4``. The CLI prints it as ``error: ...``
    and exits with status 2, without a traceback.
    """
