"""Files written so that a crash never leaves a half-written one: write a temporary file beside the target, flush it
to disk, then rename it over the target (atomic on POSIX and Windows)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["file_version", "write_atomic"]


def write_atomic(path: str | Path, content: bytes | Callable[[BinaryIO], object], *, mode: int = 0o644) -> Path:
    """Write ``path`` atomically: readers see the old file or the complete new one, never a part.

    Parameters
    ----------
    path : str or Path
        The target; its folder is created if missing.
    content : bytes or callable
        The bytes, or a function that writes them to the binary file handle it is given.
    mode : int
        Permissions of the result (the temporary file is private until renamed).

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if isinstance(content, bytes | bytearray | memoryview):
                handle.write(content)
            else:
                content(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def file_version(path: str | Path) -> str:
    """The first 12 hex digits of a file's SHA-256: a model's version, whatever the file is called."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]
