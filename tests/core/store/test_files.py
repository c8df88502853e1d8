"""Atomic writes: a failed write leaves the previous file whole and no temporary behind; what is written is private
to its owner (files 0600, the folders made for them 0700)."""

from __future__ import annotations

import os
import sqlite3

import pytest

from core.store.files import private_file, private_folder, write_atomic


def _mode(path) -> str:
    return oct(path.stat().st_mode & 0o777)


def test_a_write_replaces_the_file(tmp_path):
    target = tmp_path / "sub" / "model.bin"
    write_atomic(target, b"first")
    write_atomic(target, lambda handle: handle.write(b"second"))
    assert target.read_bytes() == b"second"


@pytest.fixture
def open_umask():
    """The most common umask (022), under which a plain write or mkdir is readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_what_is_written_is_private_to_its_owner_with_the_folders_made_for_it(tmp_path, open_umask):
    (tmp_path / "shared").mkdir()  # 0755 under this umask
    target = tmp_path / "shared" / "home" / "scenes" / "scene.glb"
    write_atomic(target, b"glb")
    assert _mode(target) == "0o600"  # the finding: GLBs were 0644
    assert _mode(target.parent.parent) == _mode(target.parent) == "0o700"  # parents too, not just the last
    assert _mode(tmp_path / "shared") == "0o755"  # a folder that existed is left as it was
    write_atomic(tmp_path / "public.txt", b"x", mode=0o644)  # a file meant for others says so
    assert _mode(tmp_path / "public.txt") == "0o644"


def test_the_private_helpers_cover_a_data_folder_and_a_sqlite_database_with_its_wal(tmp_path, open_umask):
    home = tmp_path / "data"
    home.mkdir()
    assert _mode(home) == "0o755"
    assert _mode(private_folder(home)) == "0o700"  # an existing data folder is tightened
    assert _mode(private_folder(tmp_path / "a" / "b")) == _mode(tmp_path / "a") == "0o700"
    other = tmp_path / "someone_elses"
    other.mkdir()
    with pytest.MonkeyPatch.context() as patch:  # as if another user owned it (say /tmp): left alone, no failure
        patch.setattr(os, "getuid", lambda: other.stat().st_uid + 1)
        assert _mode(private_folder(other)) == "0o755"
    database = private_file(home / "workstation.db")
    connection = sqlite3.connect(database)  # SQLite gives -wal and -shm the database file's mode
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (x)")
    connection.execute("INSERT INTO t VALUES (1)")
    connection.commit()
    assert {p.name: _mode(p) for p in home.iterdir()} == {
        "workstation.db": "0o600", "workstation.db-wal": "0o600", "workstation.db-shm": "0o600"
    }  # fmt: skip
    connection.close()
    (home / "old.db").write_bytes(b"kept")
    assert _mode(private_file(home / "old.db")) == "0o600" and (home / "old.db").read_bytes() == b"kept"


def test_a_crash_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.bin"
    write_atomic(target, b"precious")

    def crash(handle):
        handle.write(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_atomic(target, crash)
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]
