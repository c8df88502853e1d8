"""Scenes and their annotations, on SQLite and PostgreSQL: kept across store instances (and servers), validated
before the database sees them, unknown ids refused, the pin limit held under concurrency, and a database that
cannot be reached answered with a sentence."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from core.errors import InputError
from core.store.db import StoreError
from core.store.scenes import (
    MAX_ANNOTATIONS,
    MAX_GLB_BYTES,
    MAX_LABEL_CHARS,
    MAX_PIN_ID,
    MAX_TITLE_CHARS,
    SceneNotFound,
    SceneStore,
)

GLB = b"glTF\x02\x00\x00\x00" + b"\x00" * 64


@pytest.fixture
def store(db_url):
    return SceneStore(db_url)


def test_annotations_and_the_model_survive_a_new_store_and_keep_their_text_as_given(store, db_url):
    scene = store.create(GLB, title="Lungs (demo CT)")
    assert len(scene.id) == 32 and store.model(scene.id) == GLB
    store.annotate(scene.id, (0.01, 0.12, -0.03), "  <script>alert(1)</script> nodule?  ")
    store.annotate(scene.id, (0.0, 0.0, 0.0), "apex 😀")  # a character outside the BMP is fine
    again = SceneStore(db_url)  # e.g. another app server on the same database
    assert again.get(scene.id) == scene and again.model(scene.id) == GLB
    pins = again.annotations(scene.id)
    assert [p.label for p in pins] == ["<script>alert(1)</script> nodule?", "apex 😀"]  # stored as text, not run
    assert pins[0].position == pytest.approx((0.01, 0.12, -0.03))
    again.delete_annotation(scene.id, pins[1].id)
    assert [p.label for p in again.annotations(scene.id)] == ["<script>alert(1)</script> nodule?"]


def test_the_model_lives_in_the_database_not_in_a_servers_folder(store, tmp_path):
    scene = store.create(GLB, title="t")
    for folder in (Path(os.environ["XRAY_HOME"]), tmp_path):
        assert not [p for p in folder.rglob("*") if p.is_file() and p.read_bytes() == GLB]
    assert store.model(scene.id) == GLB


def test_a_scene_from_before_models_were_in_the_database_is_still_read_from_its_file(store, db_url, tmp_path):
    glb_file = tmp_path / "old.glb"
    glb_file.write_bytes(GLB)
    engine = create_engine(db_url)
    with engine.begin() as connection:  # the row an older version wrote: the GLB's path in scenes.glb
        connection.execute(text("INSERT INTO scenes (id, title, created, glb) VALUES (:id, 'old', :created, :glb)"),
                           {"id": "ab" * 16, "created": dt.datetime.now(dt.UTC), "glb": str(glb_file)})  # fmt: skip
    missing = tmp_path / "gone.glb"
    with engine.begin() as connection:  # and one whose file is gone
        connection.execute(text("INSERT INTO scenes (id, title, created, glb) VALUES (:id, 'old', :created, :glb)"),
                           {"id": "cd" * 16, "created": dt.datetime.now(dt.UTC), "glb": str(missing)})  # fmt: skip
    engine.dispose()
    for call in (store.get, store.model, store.annotations):
        with pytest.raises(SceneNotFound):
            call("cd" * 16)
    assert store.get("ab" * 16).title == "old"
    store.annotate("ab" * 16, (0, 0, 0), "still works")
    assert store.model("ab" * 16) == GLB  # read from its file, and moved into the database
    store._adopt("ab" * 16, GLB)  # as a request that read the file at the same time: no error, nothing changed
    glb_file.unlink()  # e.g. another server, without the file
    assert store.model("ab" * 16) == GLB and [p.label for p in store.annotations("ab" * 16)] == ["still works"]


def test_bad_annotations_and_unknown_scenes_are_refused(store):
    scene = store.create(GLB, title="t")
    with pytest.raises(SceneNotFound):
        store.annotations("0" * 32)
    for bad_id in ("no-such-scene", "\x00" * 32, "\ud800" * 32, "AB" * 16, None, 12):  # never reach the database
        with pytest.raises(SceneNotFound):
            store.annotate(bad_id, (0, 0, 0), "x")
        with pytest.raises(SceneNotFound):
            store.get(bad_id)
    positions = [(float("nan"), 0, 0), (float("inf"), 0, 0), (100.0, 0, 0), ("a", 0, 0), ("1.5", 0, 0),
                 (True, 0, 0), (0, 0), (0, 0, 0, 0), (10**400, 0, 0), (-(10**30), 0, 0), None, "abc"]  # fmt: skip
    for position in positions:
        with pytest.raises(InputError, match="position"):
            store.annotate(scene.id, position, "x")
    labels = ["", "   ", "\u200b\u200b", "x" * (MAX_LABEL_CHARS + 1), "a\x00b", "\ud800", "a\ud83d", "line\nbreak",
              "bell\x07", "del\x7f", "c1\x85c", 42, None]  # fmt: skip
    for label in labels:
        with pytest.raises(InputError, match="label"):
            store.annotate(scene.id, (0, 0, 0), label)
    assert store.annotations(scene.id) == []
    with pytest.raises(InputError, match="GLB"):
        store.create(b"not a glb", title="t")
    with pytest.raises(InputError, match="8 MB"):
        store.create(b"glTF" + bytes(MAX_GLB_BYTES), title="t")


def test_the_store_bounds_glbs_as_the_exporter_does():
    from core.export import gltf

    assert MAX_GLB_BYTES == gltf.MAX_GLB_BYTES


@pytest.mark.parametrize("title", ["a\x00b", "\ud800", "tab\there"])
def test_titles_that_no_database_can_store_are_refused_with_a_reason(store, title):
    with pytest.raises(InputError, match="title"):
        store.create(GLB, title=title)


def test_titles_are_stripped_cut_and_never_empty(store):
    assert store.create(GLB, title="  ").title == "3D scene"
    assert store.create(GLB, title="é" * (MAX_TITLE_CHARS + 50)).title == "é" * MAX_TITLE_CHARS


@pytest.mark.parametrize("pin", [0, -1, MAX_PIN_ID + 1, 2**63, 2**64, 10**30, True, "1", 1.0, None])
def test_pin_ids_that_cannot_be_are_not_found_without_asking_the_database(store, pin):
    scene = store.create(GLB, title="t")
    store.annotate(scene.id, (0, 0, 0), "kept")
    with pytest.raises(SceneNotFound):
        store.relabel(scene.id, pin, "x")
    with pytest.raises(SceneNotFound):
        store.delete_annotation(scene.id, pin)
    assert [p.label for p in store.annotations(scene.id)] == ["kept"]
    with pytest.raises(SceneNotFound):
        store.relabel(scene.id, MAX_PIN_ID, "x")  # the largest id the column holds: asked, and not there


def test_the_pin_limit_holds_under_concurrent_requests(store, db_url):
    """20 threads × 30 pins, each thread with its own store (as if on its own server): exactly the limit is kept."""
    scene = store.create(GLB, title="t")
    start = threading.Barrier(20)
    refused, failures = [], []

    def drop() -> None:
        mine = SceneStore(db_url)
        start.wait()
        for i in range(30):
            try:
                mine.annotate(scene.id, (0, 0, 0), f"pin {i}")
            except InputError as error:
                refused.append(str(error))
            except Exception as error:  # reported below: any other failure is the bug
                failures.append(repr(error))

    threads = [threading.Thread(target=drop) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(store.annotations(scene.id)) == MAX_ANNOTATIONS
    assert len(refused) == 20 * 30 - MAX_ANNOTATIONS and f"{MAX_ANNOTATIONS} annotations" in refused[0]


def _take_the_database_away(url: str) -> None:
    """The database goes away under a running store: its SQLite folder is removed (and open connections closed),
    or its PostgreSQL database is dropped (connections terminated)."""
    from core.store.db import _engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        shutil.rmtree(os.path.dirname(parsed.database))
        _engine(url).dispose()
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def own_url(db_url, tmp_path):
    """``db_url``, but a SQLite file in a folder of its own (so that the folder can be removed)."""
    if make_url(db_url).get_backend_name() == "sqlite":
        (tmp_path / "db").mkdir()
        return f"sqlite:///{tmp_path / 'db' / 'scenes.db'}"
    return db_url


def _assert_a_sentence_without_secrets(error: StoreError, url: str) -> None:
    message = str(error)
    assert message.endswith(".") and "cannot be reached" in message
    parsed = make_url(url)
    for secret in (parsed.database, parsed.password, parsed.host, "SELECT", "INSERT", "sqlite3", "psycopg"):
        assert not secret or secret not in message


def test_a_database_that_goes_away_is_a_sentence_not_a_traceback(own_url):
    store = SceneStore(own_url)
    scene = store.create(GLB, title="t")
    pin = store.annotate(scene.id, (0, 0, 0), "x")
    _take_the_database_away(own_url)
    calls = [lambda: store.get(scene.id), lambda: store.model(scene.id), lambda: store.annotations(scene.id),
             lambda: store.annotate(scene.id, (0, 0, 0), "y"), lambda: store.relabel(scene.id, pin.id, "z"),
             lambda: store.delete_annotation(scene.id, pin.id), lambda: store.create(GLB, title="t")]  # fmt: skip
    for call in calls:
        with pytest.raises(StoreError) as caught:
            call()
        assert type(caught.value) is StoreError  # not SceneNotFound: a 503, not a 404
        _assert_a_sentence_without_secrets(caught.value, own_url)


def test_a_database_that_cannot_be_opened_is_a_sentence(db_url, tmp_path):
    if make_url(db_url).get_backend_name() == "sqlite":
        url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'scenes.db'}"
    else:  # a port nothing listens on
        url = make_url(db_url).set(port=1, password="secret-password").render_as_string(hide_password=False)
    with pytest.raises(StoreError) as caught:
        SceneStore(url)
    _assert_a_sentence_without_secrets(caught.value, url)
