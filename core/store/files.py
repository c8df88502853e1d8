"""Files written so that a crash never leaves a half-written one: write a temporary file beside the target, flush it
to disk, then rename it over the target (atomic on POSIX and Windows).

The workstation's files (the database, scenes, checkpoints, records) may hold patient data, so they are private to
the user the app runs as: files 0600, the folders created for them 0700. Other users on the same machine read
nothing; the app itself (one user) reads everything it wrote.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["FILE_MODE", "FOLDER_MODE", "file_version", "private_file", "private_folder", "write_atomic"]

FILE_MODE = 0o600  # read and write for the owner only
FOLDER_MODE = 0o700  # list, enter and create for the owner only


def _make_folders(path: Path) -> None:
    """Create ``path`` and its missing parents, each :data:`FOLDER_MODE` (``mkdir(parents=True)`` would give the
    parents the umask's mode); existing folders are left as they are."""
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, FOLDER_MODE)  # whatever the umask took away or left


def private_folder(path: str | Path) -> Path:
    """Make ``path`` a folder only its owner can read: created :data:`FOLDER_MODE` with any missing parents, or, when
    it exists and belongs to this user, changed to :data:`FOLDER_MODE` (for the app's own data folder, not for a
    folder a user named for their output).

    Parameters
    ----------
    path : str or Path
        The folder.

    Returns
    -------
    Path
    """
    path = Path(path)
    _make_folders(path)
    if not hasattr(os, "getuid") or path.stat().st_uid == os.getuid():
        os.chmod(path, FOLDER_MODE)  # another user's folder (say /tmp) is left alone: the files in it are 0600 anyway
    return path


def private_file(path: str | Path) -> Path:
    """Make ``path`` a file only its owner can read: created empty :data:`FILE_MODE` where missing (its folder must
    exist), else changed to :data:`FILE_MODE`. SQLite gives a database's ``-wal`` and ``-shm`` files the mode of
    the database file, so calling this on the database before the first connection keeps all three private.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a folder, not a file", str(path))
    try:  # an existing file is never opened: closing a descriptor drops every POSIX lock this process holds on the
        # file, SQLite's included (another process would then checkpoint and delete a WAL still in use)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    os.chmod(path, FILE_MODE)
    return path


def write_atomic(path: str | Path, content: bytes | Callable[[BinaryIO], object], *, mode: int = FILE_MODE) -> Path:
    """Write ``path`` atomically: readers see the old file or the complete new one, never a part.

    Parameters
    ----------
    path : str or Path
        The target; its folder, where missing, is created with its missing parents, each :data:`FOLDER_MODE`.
    content : bytes or callable
        The bytes, or a function that writes them to the binary file handle it is given.
    mode : int
        Permissions of the result: :data:`FILE_MODE` (the owner only) unless a file is meant for others (the
        temporary file is private until renamed).

    Returns
    -------
    Path
    """
    path = Path(path)
    _make_folders(path.parent)
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
