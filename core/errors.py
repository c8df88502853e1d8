"""Exceptions raised by :mod:`core`.

Every error a person can cause (a bad upload, a wrong setting) is an :class:`InputError` whose message is a
complete sentence saying what is wrong, what was expected and what to do. Pages catch :class:`CoreError` and show
the message; any other exception is a bug and is left visible.
"""


class CoreError(Exception):
    """Base class of the errors that :mod:`core` raises on purpose."""


class InputError(CoreError, ValueError):
    """The input (a file, an array, a parameter) cannot be used; the message says why and how to fix it."""


class ModelError(CoreError):
    """A model cannot be built, loaded or used: a missing or foreign checkpoint, weights that cannot be fetched."""
