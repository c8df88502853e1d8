"""The viewer's routes over a real scene store: pages, the model file, the annotation API and its validation."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from core.store.scenes import MAX_LABEL_CHARS, SceneStore
from core.xr.server import MAX_BODY_BYTES, standalone_app

GLB = b"glTF" + bytes(60)  # the store checks the magic number only


@pytest.fixture
def store(tmp_path) -> SceneStore:
    return SceneStore(f"sqlite:///{tmp_path}/scenes.db", folder=tmp_path / "scenes")


@pytest.fixture
def client(store) -> TestClient:
    return TestClient(standalone_app(store))


@pytest.fixture
def scene_id(store) -> str:
    return store.create(GLB, title='Lungs <b>"bold"</b>').id


def _post(client, scene_id, payload, **kwargs):
    return client.post(f"/api/scenes/{scene_id}/annotations", json=payload, **kwargs)


def test_the_viewer_page_names_its_scene_escapes_its_title_and_forbids_inline_script(client, scene_id):
    response = client.get(f"/xr/{scene_id}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert f'data-scene="{scene_id}"' in response.text
    assert "Lungs &lt;b&gt;&quot;bold&quot;&lt;/b&gt;" in response.text and "<b>" not in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert client.get("/xr/static/viewer.js").status_code == 200


def test_the_model_is_served_as_binary_gltf(client, scene_id):
    response = client.get(f"/api/scenes/{scene_id}/model.glb")
    assert response.status_code == 200 and response.content == GLB
    assert response.headers["content-type"] == "model/gltf-binary"


@pytest.mark.parametrize("bad", ["0" * 32, "not-a-scene", "0f" * 16 + "0", "A" * 32])
def test_unknown_scenes_are_404_everywhere(client, bad):
    assert client.get(f"/xr/{bad}").status_code == 404
    assert "Scene not found" in client.get(f"/xr/{bad}").text
    assert client.get(f"/api/scenes/{bad}/model.glb").status_code == 404
    assert client.get(f"/api/scenes/{bad}/annotations").status_code == 404
    assert _post(client, bad, {"position": [0, 0, 0], "label": "x"}).status_code == 404


def test_an_annotation_round_trips_with_its_label_as_given(client, scene_id):
    label = "<script>alert('x')</script> & right lower lobe"
    created = _post(client, scene_id, {"position": [0.01, -0.02, 0.03], "label": label})
    assert created.status_code == 201
    listed = client.get(f"/api/scenes/{scene_id}/annotations").json()
    assert [(a["label"], a["position"]) for a in listed] == [(label, [0.01, -0.02, 0.03])]
    assert listed[0]["id"] == created.json()["id"]


def test_annotations_are_deleted_one_by_one(client, scene_id, store):
    first = _post(client, scene_id, {"position": [0, 0, 0], "label": "one"}).json()
    _post(client, scene_id, {"position": [0, 0, 0], "label": "two"})
    assert client.delete(f"/api/scenes/{scene_id}/annotations/{first['id']}").status_code == 204
    assert [a.label for a in store.annotations(scene_id)] == ["two"]
    assert client.delete(f"/api/scenes/{scene_id}/annotations/{first['id']}").status_code == 404
    other = store.create(GLB, title="other").id  # a pin is deleted only through its own scene
    second = store.annotations(scene_id)[0].id
    assert client.delete(f"/api/scenes/{other}/annotations/{second}").status_code == 404


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"position": [0, 0], "label": "x"}, 400, "position"),
        ({"position": [0, 0, "1"], "label": "x"}, 400, "three numbers"),
        ({"position": [0, 0, True], "label": "x"}, 400, "three numbers"),
        ({"position": [0, 0, 11.0], "label": "x"}, 400, "within"),
        ({"position": [0, 0, 0], "label": ""}, 400, "1 to"),
        ({"position": [0, 0, 0], "label": "   "}, 400, "1 to"),
        ({"position": [0, 0, 0], "label": "x" * (MAX_LABEL_CHARS + 1)}, 400, "1 to"),
        ({"position": [0, 0, 0], "label": 42}, 400, "label"),
        ([0, 0, 0], 400, "JSON object"),
    ],
)
def test_bad_annotations_are_refused_with_a_reason(client, scene_id, store, payload, status, message):
    response = _post(client, scene_id, payload)
    assert response.status_code == status and message in response.json()["error"]
    assert store.annotations(scene_id) == []


def test_bodies_that_are_not_small_json_are_refused(client, scene_id, store):
    url = f"/api/scenes/{scene_id}/annotations"
    as_json = {"content-type": "application/json"}
    nan = client.post(url, content=b'{"position": [NaN, 0, 0], "label": "x"}', headers=as_json)
    assert nan.status_code == 400
    broken = client.post(url, content=b'{"position": [0, 0', headers=as_json)
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]
    form = client.post(url, data={"position": "0", "label": "x"})  # what a form on another site could send
    assert form.status_code == 415
    huge = json.dumps({"position": [0, 0, 0], "label": "x", "padding": "y" * MAX_BODY_BYTES})
    assert client.post(url, content=huge, headers=as_json).status_code == 413
    assert store.annotations(scene_id) == []


def test_a_pin_is_relabelled_through_its_own_scene_only(client, scene_id, store):
    pin = _post(client, scene_id, {"position": [0, 0, 0.05], "label": "Look here"}).json()
    url = f"/api/scenes/{scene_id}/annotations/{pin['id']}"
    renamed = client.patch(url, json={"label": "  consolidation, right lower lobe  "})
    assert renamed.status_code == 200 and renamed.json()["label"] == "consolidation, right lower lobe"
    assert renamed.json()["position"] == [0, 0, 0.05]
    assert [a.label for a in store.annotations(scene_id)] == ["consolidation, right lower lobe"]
    assert client.patch(url, json={"label": ""}).status_code == 400
    assert client.patch(url, json={"text": "x"}).status_code == 400
    assert client.patch(url, content=b"label=x", headers={"content-type": "text/plain"}).status_code == 415
    other = store.create(GLB, title="other").id
    assert client.patch(f"/api/scenes/{other}/annotations/{pin['id']}", json={"label": "x"}).status_code == 404
    assert client.patch(f"/api/scenes/{scene_id}/annotations/999", json={"label": "x"}).status_code == 404
    assert [a.label for a in store.annotations(scene_id)] == ["consolidation, right lower lobe"]


def test_a_database_that_cannot_be_reached_is_a_sentence_not_a_traceback(client, scene_id, store, monkeypatch):
    from core.store.db import StoreError

    def unreachable(*args, **kwargs):
        raise StoreError("the database file is locked")

    monkeypatch.setattr(store, "annotations", unreachable)
    response = client.get(f"/api/scenes/{scene_id}/annotations")
    assert response.status_code == 503 and "locked" in response.json()["error"]
