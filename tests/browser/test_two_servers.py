"""Two app servers, each with its own XRAY_HOME, sharing one PostgreSQL database: the same records, scenes (their GLB
included) and pins on both. (One training job at a time across servers: tests/core/test_jobs.py.)"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from core.export.gltf import mesh_to_glb
from core.reconstruct.surface import surface
from core.store.predictions import PredictionStore
from core.store.scenes import SceneStore
from core.types import Prediction, Volume
from tests.browser.conftest import start_app, stop_app
from tests.conftest import drop_postgres_database, new_postgres_database


def _request(method: str, url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory):
    """(URL of server A, URL of server B, the database URL they share)."""
    database = new_postgres_database()
    servers = [start_app(home=tmp_path_factory.mktemp(f"home-{name}"), log_name=f"streamlit-{name}.log",
                         XRAY_DB_URL=database, XRAY_SINGLE_USER="1") for name in ("a", "b")]  # fmt: skip
    yield servers[0][0], servers[1][0], database
    for _, process in servers:
        stop_app(process)
    drop_postgres_database(database)


def test_a_scene_made_through_one_server_is_served_and_annotated_through_both(two_servers):
    first, second, database = two_servers
    mask = np.zeros((24, 24, 24), dtype=np.uint8)
    mask[6:18, 6:18, 6:18] = 1
    glb = mesh_to_glb(surface(Volume(data=mask, spacing_mm=(2.0, 2.0, 2.0), unit="mask")))
    scene = SceneStore(database).create(glb, title="Shared cube")
    for server in (first, second):
        status, body = _request("GET", f"{server}/api/scenes/{scene.id}/model.glb")
        assert status == 200 and body == glb
    status, body = _request("POST", f"{first}/api/scenes/{scene.id}/annotations",
                            {"position": [0.01, 0.02, 0.03], "label": "from A"})  # fmt: skip
    assert status == 201, body
    pin = json.loads(body)
    status, body = _request("GET", f"{second}/api/scenes/{scene.id}/annotations")
    assert status == 200 and [p["label"] for p in json.loads(body)] == ["from A"]
    assert _request("DELETE", f"{second}/api/scenes/{scene.id}/annotations/{pin['id']}")[0] == 204
    assert json.loads(_request("GET", f"{first}/api/scenes/{scene.id}/annotations")[1]) == []


@pytest.mark.browser
def test_a_record_written_once_is_listed_by_both(two_servers, browser):
    first, second, database = two_servers
    prediction = Prediction(label="PNEUMONIA", probabilities={"NORMAL": 0.2, "PNEUMONIA": 0.8}, threshold=0.5,
                            model="shared.pt (xraynet)")  # fmt: skip
    PredictionStore(database).add(owner="tester", file_name="shared-record.jpeg", sha256="c" * 64,
                                  prediction=prediction,
                                  model_version="abc123def456")  # fmt: skip
    for server in (first, second):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{server}/history")
        page.get_by_text("predictions ·").wait_for(timeout=120_000)
        # the table is drawn on a canvas; its accessible grid cells carry the text
        page.get_by_text("shared-record.jpeg").first.wait_for(state="attached", timeout=60_000)
        context.close()
