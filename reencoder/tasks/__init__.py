"""fairseq tasks and criteria of the plugin (importing registers them)."""

from . import algorithmic  # noqa: F401
