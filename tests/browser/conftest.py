"""A running app and a headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, skip_unless_ci

CHROMIUM = os.environ.get("XRAY_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("XRAY_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))
STARTUP_TIMEOUT_S = 90
#: The accounts of the app with accounts (:func:`accounts_url`): name → (role, password).
ACCOUNTS = {"admin": ("admin", "browser test password"), "doctor-a": ("doctor", "doctor a password"),
            "doctor-b": ("doctor", "doctor b password")}  # fmt: skip


#: The app with accounts is one server for the session: its tests run on one worker (under pytest-xdist). The shared
#: single-user app (:func:`app_url`) is one server per worker instead, each with its own log, so that its many
#: browser tests spread over both workers rather than queueing on one.
_ACCOUNTS_APP = {"accounts_url", "accounts_db"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups, however the tests were named
def pytest_collection_modifyitems(items):
    """Under pytest-xdist (``scripts/test.sh`` runs two workers), the tests of the app with accounts go to one
    worker; every other browser test goes to either."""
    for item in items:
        if _ACCOUNTS_APP & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("accounts"))


def app_log_name() -> str:
    """The log of this worker's shared app: ``streamlit.log``, or ``streamlit-gwN.log`` under pytest-xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"streamlit-{worker}.log" if worker else "streamlit.log"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(*, home: Path, log_name: str = "streamlit.log", **env: str) -> tuple[str, subprocess.Popen]:
    """Start ``streamlit run app.py`` on a free loopback port with its own ``XRAY_HOME`` (and ``env`` added, e.g.
    ``XRAY_DB_URL``); return its URL once it answers, and its process (stop it with :func:`stop_app`)."""
    port = _free_port()
    inherited = {k: v for k, v in os.environ.items() if k != "XRAY_SINGLE_USER"}  # accounts unless asked
    env = {**inherited, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "XRAY_HOME": str(home), **env}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / log_name).open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return url, server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"the app did not start within {STARTUP_TIMEOUT_S} s; see {ARTIFACTS / log_name}")
            time.sleep(0.5)


def stop_app(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="session")
def app_home(tmp_path_factory) -> Path:
    """The ``XRAY_HOME`` of the app under test (its SQLite database): tests that plant records or scenes for the app
    write there."""
    return tmp_path_factory.mktemp("app-home")


@pytest.fixture(scope="session")
def app_scenes(app_home):
    """The scene store of the app under test (its own database)."""
    from core.store.scenes import SceneStore

    return SceneStore(f"sqlite:///{app_home / 'workstation.db'}")


@pytest.fixture(scope="session")
def app_url(app_home) -> Iterator[str]:
    """Start ``streamlit run app.py`` in single-user mode on a free loopback port (one per pytest-xdist worker, its
    log :func:`app_log_name`); yield its URL; stop it afterwards. (Accounts have their own server:
    :func:`accounts_url`.)"""
    url, server = start_app(home=app_home, log_name=app_log_name(), XRAY_SINGLE_USER="1")
    yield url
    stop_app(server)


@pytest.fixture(scope="session")
def accounts_db(tmp_path_factory) -> Iterator[str]:
    """The database of the app with accounts, holding :data:`ACCOUNTS`: a PostgreSQL one where the tests have a
    server (CI always does), so that the accounts and admin flows run on PostgreSQL while the shared app's run on
    SQLite; else a SQLite file."""
    from core.store.users import UserStore
    from tests.conftest import POSTGRES_URL, drop_postgres_database, new_postgres_database

    url = new_postgres_database() if POSTGRES_URL else f"sqlite:///{tmp_path_factory.mktemp('accounts-db') / 'a.db'}"
    users = UserStore(url)
    for name, (role, password) in ACCOUNTS.items():
        users.add(name, role=role, password=password)
    yield url
    if POSTGRES_URL:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def accounts_url(accounts_db, tmp_path_factory) -> Iterator[str]:
    """The app as shipped (sign-in needed) with :data:`ACCOUNTS` on :func:`accounts_db`, on a free loopback port;
    its URL."""
    url, server = start_app(home=tmp_path_factory.mktemp("accounts-home"), log_name="streamlit-accounts.log",
                            XRAY_DB_URL=accounts_db)  # fmt: skip
    yield url
    stop_app(server)


def sign_in(page, url: str, name: str) -> None:
    """Open ``url`` in ``page`` and sign in there as ``name`` (one of :data:`ACCOUNTS`)."""
    page.goto(url)
    page.get_by_role("heading", name="Sign in").wait_for(timeout=120_000)  # a server's first page takes a while
    page.get_by_label("Account", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(ACCOUNTS[name][1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {name}").wait_for(timeout=120_000)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium; skipped with the reason where Debian's chromium is not installed (CI installs it)."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        skip_unless_ci(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=["--use-angle=swiftshader"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()
