"""Accounts, the audit trail and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from core.errors import InputError
from core.store.audit import AuditTrail
from core.store.predictions import PredictionStore
from core.store.retention import apply_retention, delete_records, retention_days
from core.store.scenes import SceneNotFound, SceneStore
from core.store.users import UserStore
from core.types import Prediction, pseudonym

GLB = b"glTF" + bytes(60)


def _prediction() -> Prediction:
    return Prediction(label="NORMAL", probabilities={"NORMAL": 0.8, "PNEUMONIA": 0.2}, threshold=0.5, model="m")


def _record(store: PredictionStore, owner: str, name: str = "a.png") -> int:
    return store.add(file_name=name, sha256="a" * 64, prediction=_prediction(), model_version="v1", owner=owner)


def test_accounts_have_one_name_whatever_its_case_and_the_last_admin_stays(db_url):
    users = UserStore(db_url)
    users.add("Alice", role="admin", password="correct horse")
    users.add("bob", password="battery staple", email="Bob@Example.org")
    assert users.get("ALICE").is_admin and not users.get("bob").is_admin
    assert users.by_email("bob@example.org").name == "bob"
    with pytest.raises(InputError, match="already taken"):
        users.add("alice", password="another password")
    with pytest.raises(InputError, match="account name"):
        users.add("robert'); drop table users;--", password="correct horse")
    for reserved in ("local", "App", "link"):  # single-user mode's records, the retention job's and links' rows
        with pytest.raises(InputError, match="the app uses itself"):
            users.add(reserved, password="correct horse")
    with pytest.raises(InputError, match="last admin"):
        users.update("alice", role="doctor")
    users.update("bob", disabled=True)
    assert users.password_hash("bob") is None  # a disabled account signs in no more
    assert users.by_email("bob@example.org") is None
    assert [u.name for u in users.all()] == ["alice", "bob"] and users.count() == 2


def test_the_audit_trail_is_append_only_in_the_database_itself(db_url):
    trail = AuditTrail(db_url)
    trail.record("alice", "sign-in")
    trail.record("alice", "verdict", 7, "NORMAL")
    expected = [("alice", "verdict", "7"), ("alice", "sign-in", "")]
    assert [(e.actor, e.action, e.target) for e in trail.query()] == expected
    engine = create_engine(db_url)
    try:
        for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
            with pytest.raises(SQLAlchemyError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
    finally:
        engine.dispose()
    assert len(trail.query()) == 2
    with pytest.raises(ValueError):
        trail.record("alice", "something unheard of")


def test_a_doctor_reads_and_deletes_only_their_own_records(db_url):
    store = PredictionStore(db_url)
    mine, theirs = _record(store, "alice"), _record(store, "bob")
    assert [r.id for r in store.query(owner="alice")] == [mine]
    assert {r.id for r in store.query(owner=None)} == {mine, theirs}  # an admin
    assert store.image(theirs, owner="alice") is None
    assert store.delete(owner="alice", ids=[theirs]) == []  # not hers: nothing happens
    assert store.delete(owner="alice", ids=[mine, theirs]) == [mine]
    assert [r.id for r in store.query(owner=None)] == [theirs]


def test_the_same_content_by_the_same_owner_reuses_its_scene_and_a_revoked_link_is_gone(db_url):
    scenes = SceneStore(db_url)
    first = scenes.create(GLB, title="lungs", owner="alice")
    scenes.annotate(first.id, (0.0, 0.0, 0.0), "apex")
    assert scenes.create(GLB, title="lungs again", owner="alice").id == first.id  # pins kept
    other = scenes.create(GLB, title="lungs", owner="bob")
    assert other.id != first.id  # another owner's scene is never shared
    assert [(s.id, s.pins) for s in scenes.owned(owner="alice")] == [(first.id, 1)]
    with pytest.raises(SceneNotFound):
        scenes.revoke(first.id, owner="bob")
    scenes.revoke(first.id, owner="alice")
    with pytest.raises(SceneNotFound):
        scenes.get(first.id)
    assert scenes.owned(owner="alice") == []
    assert scenes.create(GLB, title="lungs", owner="alice").id != first.id  # a new link after a revoked one


def test_retention_deletes_what_is_old_and_nothing_else_and_says_so(db_url):
    store, scenes, trail = PredictionStore(db_url), SceneStore(db_url), AuditTrail(db_url)
    old, new = _record(store, "alice"), _record(store, "bob")
    old_scene = scenes.create(GLB, title="old", owner="alice")
    reused = scenes.create(b"glTF" + bytes(68), title="old but reopened", owner="alice")
    engine = create_engine(db_url)
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE predictions SET created = :t WHERE id = :i"), {"t": long_ago, "i": old})
            for scene in (old_scene, reused):
                connection.execute(text("UPDATE scenes SET created = :t WHERE id = :i"), {"t": long_ago, "i": scene.id})
    finally:
        engine.dispose()
    assert scenes.create(b"glTF" + bytes(68), title="again", owner="alice").id == reused.id  # its retention restarts
    new_scene = scenes.create(b"glTF" + bytes(64), title="new", owner="alice")
    assert apply_retention(None, url=db_url).records == ()  # off: nothing
    deleted = apply_retention(365, url=db_url)
    assert (deleted.records, deleted.scenes) == ((old,), (old_scene.id,))
    assert [r.id for r in store.query(owner=None)] == [new]
    assert {s.id for s in scenes.owned(owner=None)} == {new_scene.id, reused.id}
    event = trail.query()[0]
    assert (event.actor, event.action, event.target) == ("app", "retention", f"#{old}")
    assert apply_retention(365, url=db_url).records == ()
    assert len(trail.query()) == 1  # nothing deleted: nothing to audit
    gone = delete_records(actor="bob", action="delete-records", owner="bob", ids=[new], url=db_url)
    assert gone.records == (new,) and trail.query()[0].action == "delete-records"


def test_the_retention_setting_is_checked(monkeypatch):
    monkeypatch.delenv("XRAY_RETENTION_DAYS", raising=False)
    assert retention_days() == 365
    monkeypatch.setenv("XRAY_RETENTION_DAYS", "off")
    assert retention_days() is None
    monkeypatch.setenv("XRAY_RETENTION_DAYS", "-3")
    with pytest.raises(InputError, match="whole number"):
        retention_days()


def test_a_pseudonym_keeps_the_extension_and_nothing_of_the_name():
    name = pseudonym("DOE_JANE_MRN123456.DCM", "3fa2b1c4d5e6" + "0" * 52)
    assert name == "image-3fa2b1c4d5e6.dcm"
    assert pseudonym("x.exe", "b" * 64) == "image-bbbbbbbbbbbb"
