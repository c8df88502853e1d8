"""Atomic writes: a failed write leaves the previous file whole and no temporary behind."""

from __future__ import annotations

import pytest

from core.store.files import write_atomic


def test_a_write_replaces_the_file(tmp_path):
    target = tmp_path / "sub" / "model.bin"
    write_atomic(target, b"first")
    write_atomic(target, lambda handle: handle.write(b"second"))
    assert target.read_bytes() == b"second"
    assert oct(target.stat().st_mode & 0o777) == "0o644"


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
