"""User-facing errors: one line, naming the file, line or field at fault.

The CLI prints `str(error)` and exits non-zero without a traceback for these; anything else is a bug
and keeps its traceback.
"""


class LegoError(Exception):
    """A user mistake (bad file, bad config, incompatible model) with a one-line explanation."""
