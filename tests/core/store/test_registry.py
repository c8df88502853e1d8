"""The model registry: idempotent registration, one active model, no deleting the active one."""

from __future__ import annotations

import pytest

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


META = {"arch": "xraynet", "epoch": 7, "test": {"accuracy": 0.9}, "history": [{"epoch": 1}] * 50}


def test_registering_is_idempotent_and_keeps_the_figures_not_the_history(registry, tmp_path):
    path = _checkpoint(tmp_path, "a", b"weights A")
    first = registry.register(path, META, name="Model A")
    again = registry.register(path, META, name="renamed")
    assert first == again and first.version == file_version(path) and len(first.version) == 12
    assert first.meta["test"]["accuracy"] == 0.9 and "history" not in first.meta
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


def test_the_active_model_cannot_be_deleted_and_a_missing_file_cannot_be_activated(registry, tmp_path):
    path = _checkpoint(tmp_path, "a", b"A")
    a = registry.register(path, META)
    registry.activate(a.version)
    with pytest.raises(StoreError, match="active model"):
        registry.delete(a.version)
    b_path = _checkpoint(tmp_path, "b", b"B")
    b = registry.register(b_path, META)
    b_path.unlink()
    with pytest.raises(StoreError, match="is gone"):
        registry.activate(b.version)
    assert registry.delete(b.version).version == b.version
    with pytest.raises(StoreError, match="No model of version"):
        registry.get(b.version)
