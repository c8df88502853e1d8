"""The model registry: idempotent registration, one active model, no deleting the active one."""

from __future__ import annotations

import pytest

import core.store.db as db
from core.classify.meta import ModelMeta
from core.store.db import StoreError
from core.store.files import file_version
from core.store.registry import ModelRegistry


@pytest.fixture
def registry(db_url):
    return ModelRegistry(db_url)


def _checkpoint(tmp_path, name: str, content: bytes):
    path = tmp_path / f"{name}.pt"
    path.write_bytes(content)
    return path


META = ModelMeta(arch="xraynet", input_size=64, labels=("NORMAL", "PNEUMONIA"), temperature=1.0, threshold=0.5,
                 epoch=7, test={"accuracy": 0.9}, history=[{"epoch": 1}] * 50)  # fmt: skip


def test_registering_is_idempotent_and_keeps_the_figures_not_the_history(registry, tmp_path):
    path = _checkpoint(tmp_path, "a", b"weights A")
    first = registry.register(path, META, name="Model A")
    again = registry.register(path, META, name="renamed")
    assert first == again and first.version == file_version(path) and len(first.version) == 12
    assert first.meta.test["accuracy"] == 0.9 and first.meta.history is None
    assert first.meta == META.with_(history=None)
    assert [m.name for m in registry.models()] == ["Model A"] and registry.active() is None


def test_one_model_is_active_at_a_time(registry, tmp_path):
    a = registry.register(_checkpoint(tmp_path, "a", b"A"), META)
    b = registry.register(_checkpoint(tmp_path, "b", b"B"), META)
    registry.activate(a.version)
    registry.activate(b.version)
    assert registry.active().version == b.version
    assert [m.active for m in registry.models() if m.version == a.version] == [False]
    registry.deactivate()
    assert registry.active() is None


def test_the_active_model_stays_and_one_without_file_or_copy_cannot_be_activated(registry, db_url, tmp_path):
    path = _checkpoint(tmp_path, "a", b"A")
    a = registry.register(path, META)
    registry.activate(a.version)
    with pytest.raises(StoreError, match="active model"):
        registry.delete(a.version)
    b_path = _checkpoint(tmp_path, "b", b"B")
    b = registry.register(b_path, META)
    b_path.unlink()
    with db._engine(db_url).begin() as connection:  # as registered before the database kept the bytes
        connection.exec_driver_sql(f"DELETE FROM model_files WHERE version = '{b.version}'")
    with pytest.raises(StoreError, match="is gone"):
        registry.activate(b.version)
    assert registry.delete(b.version).version == b.version
    with pytest.raises(StoreError, match="No model of version"):
        registry.get(b.version)


def test_a_model_registered_on_one_server_is_usable_on_another(db_url, tmp_path, monkeypatch):
    """Two servers share the database, not their folders: the checkpoint's bytes travel through the database."""
    monkeypatch.setenv("XRAY_HOME", str(tmp_path / "server-a"))
    path = _checkpoint(tmp_path, "trained-on-a", b"weights trained on server A")
    entry = ModelRegistry(db_url).register(path, META, name="From A")
    path.unlink()  # server B cannot see server A's file
    monkeypatch.setenv("XRAY_HOME", str(tmp_path / "server-b"))
    on_b = ModelRegistry(db_url)
    assert on_b.activate(entry.version).active
    local = on_b.local_path(entry.version)
    assert local.is_relative_to(tmp_path / "server-b") and local.read_bytes() == b"weights trained on server A"
    assert on_b.local_path(entry.version) == local  # written once
    on_b.deactivate()
    on_b.delete(entry.version)
    with pytest.raises(StoreError, match="No model of version"):
        on_b.local_path(entry.version)
