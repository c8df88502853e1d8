"""Accounts in the app (AppTest): visitors see Home and the sign-in form only; each doctor sees their own records and
scenes; admins see all; audited actions write their rows; file names are pseudonymised by default."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.samples import list_samples
from core.store.audit import AuditTrail
from core.store.predictions import PredictionStore
from core.store.scenes import SceneStore
from core.types import Prediction
from tests.conftest import REPO_ROOT
from tests.pages.conftest import TIMEOUT_S
from tests.pages.conftest import open_page as _open
from ui.navigation import PAGES, PUBLIC_PAGES

GLB = b"glTF" + bytes(60)


def _sign_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input(key="sign_in_name").set_value(name)
    app.text_input(key="sign_in_password").set_value(password)
    app.button[[b.label for b in app.button].index("Sign in")].click().run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def _as(name: str, page: str) -> AppTest:
    """``page`` opened and signed in to by ``name`` (the accounts fixture's password)."""
    return _sign_in(_open(page), name, name * 2 if len(name) >= 8 else name * 3)


def _record(owner: str, name: str, image: bytes | None = None) -> int:
    prediction = Prediction(label="NORMAL", probabilities={"NORMAL": 0.9, "PNEUMONIA": 0.1}, threshold=0.5,
                            model="m.pt")  # fmt: skip
    return PredictionStore().add(file_name=name, sha256="e" * 64, prediction=prediction, model_version="v1",
                                 image=image, owner=owner)  # fmt: skip


def test_a_visitor_gets_the_sign_in_form_and_nothing_of_any_page(accounts):
    _record("doctor-a", "a-secret-name.png")
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S)
    app.run()
    for page in [p for p in PAGES if p not in PUBLIC_PAGES]:
        app.switch_page(page).run()  # by its URL, as anyone could
        assert not app.exception, [e.message for e in app.exception]
        assert [s.value for s in app.subheader] == ["Sign in"], page
        assert not app.dataframe and not app.get("file_uploader") and not app.title, page
        assert "a-secret-name" not in str(app), page


def test_home_needs_no_sign_in_and_a_server_without_accounts_says_how_to_make_the_first(monkeypatch):
    monkeypatch.delenv("XRAY_SINGLE_USER", raising=False)
    home = _open("app.py")
    assert home.title[0].value == "Chest X-ray workstation"
    app = _open("pages/history.py")
    assert "python -m core add-user NAME --admin" in app.info[0].value and "XRAY_SINGLE_USER=1" in app.info[0].value
    assert not app.get("form")


def test_a_wrong_password_is_refused_and_both_attempts_are_audited(accounts):
    app = _open("pages/history.py")
    _sign_in(app, "doctor-a", "not the password")
    assert "Wrong account or password" in app.error[0].value and not app.title
    _sign_in(app, "Doctor-A", "doctor-adoctor-a")  # names are not case-sensitive
    assert app.title[0].value == "History"
    assert any("Signed in as **doctor-a** (doctor)" in c.value for c in app.sidebar.caption)
    rows = [(e.actor, e.action) for e in AuditTrail().query()]
    assert rows[:2] == [("doctor-a", "sign-in"), ("doctor-a", "sign-in-failed")]
    app.button(key="sign_out").click().run()
    assert [s.value for s in app.subheader] == ["Sign in"] and AuditTrail().query()[0].action == "sign-out"


def test_a_doctor_sees_only_their_own_records_and_an_admin_sees_all(accounts):
    mine, theirs = _record("doctor-a", "mine.png"), _record("doctor-b", "theirs.png")
    history = _as("doctor-a", "pages/history.py")
    assert list(history.dataframe[0].value["Id"]) == [mine]
    assert "Account" not in history.dataframe[0].value.columns
    history.text_input(key="history_name").set_value("theirs").run()  # a filter reaches nothing more
    assert not history.dataframe
    admin = _as("admin", "pages/history.py")
    table = admin.dataframe[0].value
    assert set(table["Id"]) == {mine, theirs} and set(table["Account"]) == {"doctor-a", "doctor-b"}


def test_a_doctor_cannot_open_the_admin_pages(accounts):
    for page in ("pages/train.py", "pages/models.py", "pages/accounts.py"):
        app = _as("doctor-a", page)
        assert not app.dataframe and not any(b.label.startswith("Start training") for b in app.button)
        assert not any("Accounts and audit" == t.value for t in app.title)


def test_a_verdict_is_recorded_under_a_pseudonym_owned_and_audited(accounts):
    sample = next(s for s in list_samples() if s.label == "NORMAL")
    app = _as("doctor-a", "pages/diagnose.py")
    app.multiselect(key="diagnose_samples").set_value([sample]).run()
    assert not app.exception, [e.message for e in app.exception]
    (record,) = PredictionStore().query(owner="doctor-a")
    assert record.file_name.startswith("image-") and record.file_name == f"image-{record.sha256[:12]}.jpeg"
    assert sample.path.name not in str(app.dataframe[0].value) and sample.path.name not in str(app.markdown)
    assert (AuditTrail().query()[0].action, AuditTrail().query()[0].target) == ("verdict", str(record.id))
    assert PredictionStore().query(owner="doctor-b") == []


def test_a_doctor_deletes_their_own_records_after_confirming(accounts):
    mine, _ = _record("doctor-a", "one.png"), _record("doctor-a", "two.png")
    theirs = _record("doctor-b", "theirs.png")
    app = _as("doctor-a", "pages/history.py")
    app.session_state["history_delete_ids"] = [mine, theirs]  # even a forged request deletes only her own
    app.run()
    app.button(key="history_delete_confirm").click().run()
    assert not app.exception and "1 record deleted." in app.success[0].value
    remaining = {r.id for r in PredictionStore().query(owner=None)}
    assert mine not in remaining and theirs in remaining and len(remaining) == 2
    event = AuditTrail().query()[0]
    assert (event.actor, event.action, event.target) == ("doctor-a", "delete-records", f"#{mine}")


def test_my_scenes_lists_only_mine_and_revokes_a_link(accounts):
    scenes = SceneStore()
    mine = scenes.create(GLB, title="my lungs", owner="doctor-a")
    scenes.create(b"glTF" + bytes(64), title="their lungs", owner="doctor-b")
    app = _as("doctor-a", "pages/scenes.py")
    assert list(app.dataframe[0].value["Title"]) == ["my lungs"]
    app.button(key="scenes_revoke").click().run()
    app.button(key="scenes_revoke_confirm").click().run()
    assert not app.exception and scenes.owned(owner="doctor-a") == []
    assert (AuditTrail().query()[0].action, AuditTrail().query()[0].target) == ("revoke-scene", mine.id)


def test_the_admin_adds_an_account_and_reads_the_audit_trail(accounts):
    app = _as("admin", "pages/accounts.py")
    app.text_input(key="accounts_add_name").set_value("doctor-c")
    app.text_input(key="accounts_add_password").set_value("a long password")
    app.button[[b.label for b in app.button].index("Add")].click().run()
    assert not app.exception and "Added doctor 'doctor-c'." in app.success[0].value
    assert accounts.get("doctor-c").role == "doctor"
    app.run()
    trail = app.dataframe[1].value
    assert list(trail["Action"][:2]) == ["added an account", "signed in"]


def test_single_user_mode_says_so_and_records_as_its_one_user():
    app = _open("pages/history.py")
    assert app.title[0].value == "History"
    assert any("Single-user mode" in i.value for i in app.sidebar.info)


def test_single_user_mode_serves_this_computer_by_every_form_of_its_address():
    from ui.auth import _loopback

    for local in (None, "127.0.0.1", "::1", "::ffff:127.0.0.1"):  # a dual-stack server sees IPv4 clients as mapped
        assert _loopback(local), local
    for remote in ("10.0.0.7", "::ffff:10.0.0.7", "2001:db8::1", "not an address"):
        assert not _loopback(remote), remote
