"""Scenes and their annotations: kept across store instances, validated, unknown ids refused."""

from __future__ import annotations

import pytest

from core.errors import InputError
from core.store.scenes import MAX_LABEL_CHARS, SceneNotFound, SceneStore


@pytest.fixture
def store(tmp_path):
    return SceneStore(f"sqlite:///{tmp_path / 'scenes.db'}", folder=tmp_path / "scenes")


GLB = b"glTF\x02\x00\x00\x00" + b"\x00" * 64


def test_annotations_survive_a_new_store_and_keep_their_text_as_given(store, tmp_path):
    scene = store.create(GLB, title="Lungs (demo CT)")
    assert len(scene.id) == 32 and scene.path.read_bytes() == GLB
    store.annotate(scene.id, (0.01, 0.12, -0.03), "  <script>alert(1)</script> nodule?  ")
    store.annotate(scene.id, (0.0, 0.0, 0.0), "apex")
    again = SceneStore(f"sqlite:///{tmp_path / 'scenes.db'}", folder=tmp_path / "scenes")
    pins = again.annotations(scene.id)
    assert [p.label for p in pins] == ["<script>alert(1)</script> nodule?", "apex"]  # stored as text, not run
    assert pins[0].position == pytest.approx((0.01, 0.12, -0.03))
    again.delete_annotation(scene.id, pins[1].id)
    assert [p.label for p in again.annotations(scene.id)] == ["<script>alert(1)</script> nodule?"]


def test_bad_annotations_and_unknown_scenes_are_refused(store):
    scene = store.create(GLB, title="t")
    with pytest.raises(SceneNotFound):
        store.annotations("0" * 32)
    with pytest.raises(SceneNotFound):
        store.annotate("no-such-scene", (0, 0, 0), "x")
    for position in ((float("nan"), 0, 0), (100.0, 0, 0), ("a", 0, 0)):
        with pytest.raises(InputError, match="position"):
            store.annotate(scene.id, position, "x")
    for label in ("", "   ", "x" * (MAX_LABEL_CHARS + 1)):
        with pytest.raises(InputError, match="label"):
            store.annotate(scene.id, (0, 0, 0), label)
    with pytest.raises(InputError, match="GLB"):
        store.create(b"not a glb", title="t")
