"""Exceptions raised by :mod:`core`.

Every error a person can cause (a bad upload, a wrong setting) is an :class:`InputError` whose message is a
complete sentence saying what is wrong, what was expected and what to do. Pages catch :class:`CoreError` and show
the message; any other exception is a bug and is left visible.

Every error class of :mod:`core` is defined here (and re-exported where it was first defined, e.g.
``core.store.db.StoreError``), so that callers find the whole hierarchy in one place::

    CoreError
    ├── InputError (also a ValueError)
    ├── ModelError
    └── StoreError
        └── SceneNotFound
"""


class CoreError(Exception):
    """Base class of the errors that :mod:`core` raises on purpose."""


class InputError(CoreError, ValueError):
    """The input (a file, an array, a parameter) cannot be used; the message says why and how to fix it."""


class ModelError(CoreError):
    """A model cannot be built, loaded or used: a missing or foreign checkpoint, weights that cannot be fetched."""


class StoreError(CoreError):
    """The database cannot be opened or written, or a stored thing (a model, a job) refuses the request."""


class SceneNotFound(StoreError):
    """No scene with that id (answered with 404 by the server)."""
