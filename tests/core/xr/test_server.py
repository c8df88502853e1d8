"""The viewer's routes over a real scene store (SQLite and PostgreSQL): pages, the model, the annotation API, its
validation, its methods, its headers, and its answers when the database is gone or a body never arrives."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json

import pytest
from sqlalchemy import make_url
from starlette.testclient import TestClient

from core.store.audit import AuditTrail
from core.store.scenes import MAX_LABEL_CHARS, SceneStore
from core.xr import server
from core.xr.server import MAX_BODY_BYTES, routes, standalone_app
from tests.core.store import test_scenes as store_tests

GLB = b"glTF" + bytes(60)  # the store checks the magic number only
AS_JSON = {"content-type": "application/json"}
own_url = store_tests.own_url  # a fixture: db_url, with SQLite in a folder of its own


@pytest.fixture
def store(db_url) -> SceneStore:
    return SceneStore(db_url)


@pytest.fixture
def client(store) -> TestClient:
    return TestClient(standalone_app(store))


@pytest.fixture
def scene_id(store) -> str:
    return store.create(GLB, title='Lungs <b>"bold"</b>').id


def _post(client, scene_id, payload, **kwargs):
    return client.post(f"/api/scenes/{scene_id}/annotations", json=payload, **kwargs)


def _raw(client, scene_id, body: bytes):
    return client.post(f"/api/scenes/{scene_id}/annotations", content=body, headers=AS_JSON)


def _refused(response, status: int, *words: str) -> None:
    """A refusal: ``status``, a JSON sentence containing ``words``, nosniff."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert message[0].isupper() and message.endswith("."), message
    assert all(word in message for word in words), message
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_viewer_page_names_its_scene_escapes_its_title_and_forbids_inline_script_and_framing(client, scene_id):
    response = client.get(f"/xr/{scene_id}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert f'data-scene="{scene_id}"' in response.text
    assert "Lungs &lt;b&gt;&quot;bold&quot;&lt;/b&gt;" in response.text and "<b>" not in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/xr/static/viewer.js").status_code == 200


def test_the_model_is_served_as_binary_gltf_from_the_database_by_any_server(client, scene_id, db_url):
    response = client.get(f"/api/scenes/{scene_id}/model.glb")
    assert response.status_code == 200 and response.content == GLB
    assert response.headers["content-type"] == "model/gltf-binary"
    assert response.headers["cache-control"] == "private, no-cache"  # asked each time: revocable, audited
    assert response.headers["x-content-type-options"] == "nosniff"
    again = client.get(f"/api/scenes/{scene_id}/model.glb", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    opened = [e for e in AuditTrail(db_url).query() if e.action == "open-scene"]
    assert [(e.actor, e.target) for e in opened] == [("link", scene_id)] * 2
    other_server = TestClient(standalone_app(SceneStore(db_url)))  # another process, sharing only the database
    assert other_server.get(f"/api/scenes/{scene_id}/model.glb").content == GLB


@pytest.mark.parametrize("bad", ["0" * 32, "not-a-scene", "0f" * 16 + "0", "A" * 32, "%00" * 32, "%ED%A0%80"])
def test_unknown_scenes_are_404_everywhere(client, bad):
    assert client.get(f"/xr/{bad}").status_code == 404
    assert "Scene not found" in client.get(f"/xr/{bad}").text
    _refused(client.get(f"/api/scenes/{bad}/model.glb"), 404, "No such scene")
    _refused(client.get(f"/api/scenes/{bad}/annotations"), 404)
    _refused(_post(client, bad, {"position": [0, 0, 0], "label": "x"}), 404)
    _refused(client.delete(f"/api/scenes/{bad}/annotations/1"), 404)


def test_an_annotation_round_trips_with_its_label_as_given_and_every_answer_says_nosniff(client, scene_id):
    label = "<script>alert('x')</script> & right lower lobe 😀"
    created = _post(client, scene_id, {"position": [0.01, -0.02, 0.03], "label": label})
    assert created.status_code == 201 and created.headers["x-content-type-options"] == "nosniff"
    listed = client.get(f"/api/scenes/{scene_id}/annotations")
    assert listed.headers["x-content-type-options"] == "nosniff" and listed.headers["cache-control"] == "no-store"
    assert [(a["label"], a["position"]) for a in listed.json()] == [(label, [0.01, -0.02, 0.03])]
    assert listed.json()[0]["id"] == created.json()["id"]
    renamed = client.patch(f"/api/scenes/{scene_id}/annotations/{created.json()['id']}", json={"label": "y"})
    assert renamed.status_code == 200 and renamed.headers["x-content-type-options"] == "nosniff"
    deleted = client.delete(f"/api/scenes/{scene_id}/annotations/{created.json()['id']}")
    assert deleted.status_code == 204 and deleted.headers["x-content-type-options"] == "nosniff"


def test_annotations_are_deleted_one_by_one(client, scene_id, store):
    first = _post(client, scene_id, {"position": [0, 0, 0], "label": "one"}).json()
    _post(client, scene_id, {"position": [0, 0, 0], "label": "two"})
    assert client.delete(f"/api/scenes/{scene_id}/annotations/{first['id']}").status_code == 204
    assert [a.label for a in store.annotations(scene_id)] == ["two"]
    _refused(client.delete(f"/api/scenes/{scene_id}/annotations/{first['id']}"), 404)
    other = store.create(GLB, title="other").id  # a pin is deleted only through its own scene
    second = store.annotations(scene_id)[0].id
    _refused(client.delete(f"/api/scenes/{other}/annotations/{second}"), 404)


@pytest.mark.parametrize(
    "pin", ["18446744073709551616", str(10**30), str(2**31), str(2**63), "0", "-1", "1.0", "abc", "%D9%A3", "1e3"]
)
def test_pin_ids_that_cannot_be_are_404_for_every_method(client, scene_id, store, pin):
    kept = _post(client, scene_id, {"position": [0, 0, 0], "label": "kept"}).json()
    url = f"/api/scenes/{scene_id}/annotations/{pin}"
    _refused(client.delete(url), 404, "No such")
    _refused(client.patch(url, json={"label": "x"}), 404, "No such")
    assert [(a.id, a.label) for a in store.annotations(scene_id)] == [(kept["id"], "kept")]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"position": [0, 0], "label": "x"}, "position"),
        ({"position": [0, 0, "1"], "label": "x"}, "three numbers"),
        ({"position": [0, 0, True], "label": "x"}, "three numbers"),
        ({"position": [0, 0, None], "label": "x"}, "three numbers"),
        ({"position": [0, 0, 11.0], "label": "x"}, "within"),
        ({"position": [0, 0, 10**30], "label": "x"}, "within"),
        ({"position": [0, 0, 0], "label": ""}, "1 to"),
        ({"position": [0, 0, 0], "label": "   "}, "1 to"),
        ({"position": [0, 0, 0], "label": "\u200b \u2060"}, "visible"),
        ({"position": [0, 0, 0], "label": "x" * (MAX_LABEL_CHARS + 1)}, "1 to"),
        ({"position": [0, 0, 0], "label": 42}, "label"),
        ({"position": [0, 0, 0], "label": "a\x00b"}, "control character"),
        ({"position": [0, 0, 0], "label": "a\nb"}, "control character"),
        ({"position": [0, 0, 0], "label": "a\x1bb"}, "control character"),
        ({"position": [0, 0, 0], "label": "evil \u202egnp.exe"}, "text-direction"),
        ({"position": [0, 0, 0], "label": "two\u2028lines"}, "control character"),
        ([0, 0, 0], "JSON object"),
        ("label", "JSON object"),
        (3, "JSON object"),
    ],
)
def test_bad_annotations_are_refused_with_a_reason(client, scene_id, store, payload, message):
    _refused(_post(client, scene_id, payload), 400, message)
    assert store.annotations(scene_id) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"position": [NaN, 0, 0], "label": "x"}', "NaN"),
        (b'{"position": [Infinity, 0, 0], "label": "x"}', "Infinity"),
        (b'{"position": [-Infinity, 0, 0], "label": "x"}', "Infinity"),
        (b'{"position": [1e400, 0, 0], "label": "x"}', "finite"),  # json reads it as inf
        (b'{"position": [-1e400, 0, 0], "label": "x"}', "finite"),
        (b'{"position": [1' + b"0" * 400 + b', 0, 0], "label": "x"}', "finite"),  # float() overflows
        (b'{"position": [0, 0, 0], "label": "\\ud800"}', "surrogate"),  # a lone surrogate, escaped
        (b'{"position": [0, 0, 0], "label": "a\\udc00b"}', "surrogate"),
        (b'{"position": [0, 0, 0], "label": "\\u0000"}', "control character"),
        (b'{"position": [0, 0, 0], "label": "\\u0085x\\u0007"}', "control character"),
        (b'{"position": [0, 0, 0], "label": "x", "label": "y"}', "twice"),
        (b'{"position": [0, 0, 0], "position": [1, 1, 1], "label": "x"}', "twice"),
        (b"[" * 1500 + b"]" * 1500, "nested"),
        (b'[{"":' * 560 + b"1" + b"}]" * 560, "nested"),
        (b'{"position": [0, 0', "JSON"),
        (b'{"position": [0, 0, 0], "label": "\xff"}', "JSON"),  # not UTF-8
        ('{"position": [0, 0, 0], "label": "x"}'.encode("utf-16"), "JSON"),
        (b"\xef\xbb\xbf" + b'{"position": [0, 0, 0], "label": "x"}', "JSON"),  # a byte-order mark
        (b"", "JSON"),
        (b"null", "JSON object"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_bodies_that_are_not_strict_flat_json_are_refused_with_a_reason(client, scene_id, store, body, message):
    assert len(body) <= MAX_BODY_BYTES
    _refused(_raw(client, scene_id, body), 400, message)
    assert store.annotations(scene_id) == []


def test_a_label_with_a_surrogate_pair_is_one_character_and_kept(client, scene_id):
    created = _raw(client, scene_id, b'{"position": [0, 0, 0], "label": "\\ud83d\\ude00"}')
    assert created.status_code == 201 and created.json()["label"] == "😀"
    assert b"\\ud83d\\ude00" in created.content  # the reply is ASCII JSON


def test_bodies_that_are_not_small_json_are_refused(client, scene_id, store):
    url = f"/api/scenes/{scene_id}/annotations"
    form = client.post(url, data={"position": "0", "label": "x"})  # what a form on another site could send
    _refused(form, 415, "JSON")
    _refused(client.post(url, content=b'{"label": "x"}', headers={"content-type": "text/plain"}), 415)
    huge = json.dumps({"position": [0, 0, 0], "label": "x", "padding": "y" * MAX_BODY_BYTES})
    _refused(client.post(url, content=huge, headers=AS_JSON), 413, str(MAX_BODY_BYTES))

    def chunks():  # no Content-Length: the limit still holds
        for _ in range(10):
            yield b" " * 1000

    _refused(client.post(url, content=chunks(), headers=AS_JSON), 413)
    assert store.annotations(scene_id) == []


def test_a_pin_is_relabelled_through_its_own_scene_only(client, scene_id, store):
    pin = _post(client, scene_id, {"position": [0, 0, 0.05], "label": "Look here"}).json()
    url = f"/api/scenes/{scene_id}/annotations/{pin['id']}"
    renamed = client.patch(url, json={"label": "  consolidation, right lower lobe  "})
    assert renamed.status_code == 200 and renamed.json()["label"] == "consolidation, right lower lobe"
    assert renamed.json()["position"] == [0, 0, 0.05]
    assert [a.label for a in store.annotations(scene_id)] == ["consolidation, right lower lobe"]
    _refused(client.patch(url, json={"label": ""}), 400)
    _refused(client.patch(url, json={"text": "x"}), 400)
    _refused(client.patch(url, content=b'{"label": "\\ud800"}', headers=AS_JSON), 400, "surrogate")
    _refused(client.patch(url, content=b"label=x", headers={"content-type": "text/plain"}), 415)
    other = store.create(GLB, title="other").id
    _refused(client.patch(f"/api/scenes/{other}/annotations/{pin['id']}", json={"label": "x"}), 404)
    _refused(client.patch(f"/api/scenes/{scene_id}/annotations/999", json={"label": "x"}), 404)
    assert [a.label for a in store.annotations(scene_id)] == ["consolidation, right lower lobe"]


def _methods(client, scene_id) -> None:
    """Every route answers other methods with 405 JSON and Allow; other API paths with 404 JSON."""
    pin = _post(client, scene_id, {"position": [0, 0, 0], "label": "x"}).json()["id"]
    base = f"/api/scenes/{scene_id}"
    cases = [
        ("GET", f"{base}/annotations/{pin}", "DELETE, PATCH"),
        ("POST", f"{base}/annotations/{pin}", "DELETE, PATCH"),
        ("PUT", f"{base}/annotations", "GET, HEAD, POST"),
        ("DELETE", f"{base}/annotations", "GET, HEAD, POST"),
        ("POST", f"{base}/model.glb", "GET, HEAD"),
        ("PUT", f"{base}/model.glb", "GET, HEAD"),
        ("POST", f"/xr/{scene_id}", "GET, HEAD"),
    ]
    for method, url, allow in cases:
        response = client.request(method, url)
        _refused(response, 405, method, "use")
        assert response.headers["allow"] == allow
    for url in (
        f"{base}/other",
        f"{base}/model.glb/x",
        f"{base}/annotations/",
        "/api/scenes",
        "/api/scenes/x",
        "/api",
        "/api/nope",
    ):
        _refused(client.get(url), 404, "No such")
        _refused(client.post(url, json={}), 404)
    assert client.head(f"{base}/model.glb").status_code == 200
    assert client.get(f"{base}/annotations/{pin}").status_code == 405  # the pin is still there, but not by GET
    assert len(client.get(f"{base}/annotations").json()) == 1


def test_other_methods_are_405_and_other_api_paths_404_standalone(client, scene_id):
    _methods(client, scene_id)


def test_other_methods_are_405_and_other_api_paths_404_beside_streamlit(store, scene_id, monkeypatch):
    """Inside st.App a route that only partly matches (path, not method) loses to Streamlit's catch-all, which
    answers 200 with the app's index page: every method must be answered by the routes themselves."""
    import streamlit as st
    from streamlit.runtime import Runtime

    from tests.conftest import REPO_ROOT

    # Streamlit keeps one Runtime per process and never forgets it (this test runs once per database).
    monkeypatch.setattr(Runtime, "_instance", None)
    app = st.App(str(REPO_ROOT / "app.py"), routes=routes(store))
    with TestClient(app) as client:
        _methods(client, scene_id)
        assert client.get(f"/xr/{scene_id}").status_code == 200


def test_a_database_that_goes_away_is_a_503_sentence_everywhere(own_url):
    store = SceneStore(own_url)
    client = TestClient(standalone_app(store))
    scene_id = store.create(GLB, title="t").id
    pin = _post(client, scene_id, {"position": [0, 0, 0], "label": "x"}).json()["id"]
    store_tests._take_the_database_away(own_url)
    base = f"/api/scenes/{scene_id}"
    answers = [client.get(f"{base}/model.glb"), client.get(f"{base}/annotations"),
               _post(client, scene_id, {"position": [0, 0, 0], "label": "x"}),
               client.patch(f"{base}/annotations/{pin}", json={"label": "y"}),
               client.delete(f"{base}/annotations/{pin}")]  # fmt: skip
    url = make_url(own_url)
    for response in answers:
        _refused(response, 503, "cannot be reached")
        assert url.database not in response.text and "SELECT" not in response.text
    page = client.get(f"/xr/{scene_id}")
    assert page.status_code == 503 and "cannot be reached" in page.text and url.database not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"


def test_an_app_whose_database_cannot_be_opened_answers_503_and_recovers(tmp_path, monkeypatch):
    """The default store is opened on first use; a database that cannot be opened then is a 503, and the next
    request opens it once it can be."""
    folder = tmp_path / "later"
    monkeypatch.setenv("XRAY_DB_URL", f"sqlite:///{folder / 'scenes.db'}")
    client = TestClient(standalone_app())
    _refused(client.get(f"/api/scenes/{'0' * 32}/annotations"), 503, "cannot be reached")
    assert str(tmp_path) not in client.get(f"/api/scenes/{'0' * 32}/annotations").text
    assert client.get(f"/xr/{'0' * 32}").status_code == 503
    folder.mkdir()
    _refused(client.get(f"/api/scenes/{'0' * 32}/annotations"), 404)


async def _call(app, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, dict, bytes]:
    """POST ``chunks`` to ``app`` straight through ASGI (headers as given, no client fixing them up), then stall:
    the status, headers and body of the answer."""
    chunks = list(chunks)

    async def receive() -> dict:
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": True}
        await asyncio.sleep(3600)  # the stall
        raise AssertionError("unreachable")

    messages: list[dict] = []

    async def send(message: dict) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}  # fmt: skip
    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def _run_apart(coroutine):
    """``asyncio.run`` in a thread of its own: a session's browser (Playwright's sync API) keeps an event loop running
    in the main thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def test_a_body_that_never_arrives_is_answered_408(store, scene_id, monkeypatch):
    """A client that declares 1000 bytes, sends 10 and stalls: answered after BODY_TIMEOUT_S, not waited on."""
    monkeypatch.setattr(server, "BODY_TIMEOUT_S", 0.2)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
    path = f"/api/scenes/{scene_id}/annotations"
    status, sent, body = _run_apart(_call(standalone_app(store), path, headers, [b'{"position"']))
    assert status == 408 and "did not arrive" in json.loads(body)["error"]
    assert sent[b"x-content-type-options"] == b"nosniff"
    assert store.annotations(scene_id) == []


@pytest.mark.parametrize(
    "length", ["9" * 5000, "²", "-1", "1e9", ""], ids=["5000-digits", "superscript", "negative", "float", "empty"]
)
def test_a_content_length_that_is_no_number_or_too_large_is_not_a_traceback(store, scene_id, monkeypatch, length):
    monkeypatch.setattr(server, "BODY_TIMEOUT_S", 0.2)
    # Encoded as servers decode header values (Latin-1): "²" is a digit to str.isdigit() but not to int().
    headers = [(b"content-type", b"application/json"), (b"content-length", length.encode("latin-1"))]
    path = f"/api/scenes/{scene_id}/annotations"
    status, _, body = _run_apart(_call(standalone_app(store), path, headers, [b'{"position"']))
    assert status in (408, 413) and json.loads(body)["error"].endswith(".")


def test_a_half_sent_body_over_a_real_socket_is_answered_408(store, scene_id, monkeypatch):
    """The same through uvicorn (the server Streamlit runs): 1000 bytes declared, 10 sent, then nothing."""
    import socket
    import threading
    import time

    import uvicorn

    monkeypatch.setattr(server, "BODY_TIMEOUT_S", 0.5)
    running = uvicorn.Server(uvicorn.Config(standalone_app(store), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not running.started and time.monotonic() < deadline:
            time.sleep(0.05)
        port = running.servers[0].sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(f"POST /api/scenes/{scene_id}/annotations HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               "application/json\r\nContent-Length: 1000\r\n\r\n0123456789".encode())  # fmt: skip
            reply = b""
            while b"did not arrive" not in reply and (chunk := connection.recv(65536)):  # head and body may part
                reply += chunk
            reply = reply.decode()
        assert reply.startswith("HTTP/1.1 408") and "did not arrive" in reply and "nosniff" in reply
    finally:
        running.should_exit = True
        thread.join(timeout=10)
