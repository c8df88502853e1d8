"""Shared fixtures: thread limits, a data folder of its own for every test, both databases (SQLite and PostgreSQL),
and the real data beside the project."""

from __future__ import annotations

import os

# Two cores are shared by pytest, the app and the browser: one thread each keeps torch and OpenCV from
# oversubscribing them (set before any of those libraries is imported).
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import tempfile  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

# Records written at import time or by session fixtures go to a throw-away folder, never the user's; every test then
# gets a folder of its own (the autouse fixture below), so no test sees another's records.
os.environ["XRAY_HOME"] = tempfile.mkdtemp(prefix="xray-test-home-")
os.environ.pop("XRAY_DB_URL", None)

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("XRAY_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
SHARED_MISSING = (
    f"real data not found at {SHARED_DATA} (the project's ../shared/data; set XRAY_SHARED_DATA to point "
    "elsewhere). CI always has it."
)


#: A PostgreSQL server the tests may create databases on (``bash scripts/postgres.sh`` starts one and prints it).
POSTGRES_URL = os.environ.get("XRAY_TEST_POSTGRES_URL", "")
POSTGRES_MISSING = (
    "no PostgreSQL server for the tests (set XRAY_TEST_POSTGRES_URL, e.g. "
    'export XRAY_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)"). CI always has one.'
)


def skip_unless_ci(reason: str) -> None:
    """Skip with ``reason`` on a user's machine; fail in CI (``CI=true``), where nothing may be skipped silently."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run this test, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with a stated reason where it is absent."""
    if not SHARED_DATA.is_dir():
        skip_unless_ci(SHARED_MISSING)
    return SHARED_DATA


@pytest.fixture(scope="session")
def fullres_paths(shared_data: Path) -> list[Path]:
    """The 24 full-resolution chest X-rays (JPEG) of ``chest_xray_fullres``."""
    paths = sorted((shared_data / "chest_xray_fullres").glob("*/*.jpeg"))
    if not paths:
        skip_unless_ci(f"no JPEG under {shared_data / 'chest_xray_fullres'}")
    return paths


@pytest.fixture(scope="session")
def real_xray(fullres_paths: list[Path]):
    """One real full-size chest X-ray in the project's convention (1372×1588 px)."""
    from core.io import read_xray_file

    return read_xray_file(next(p for p in fullres_paths if p.name == "IM-0282-0001.jpeg"))


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test writes its records, runs and scenes into a folder of its own (order-independent tests)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XRAY_HOME", str(home))
    monkeypatch.delenv("XRAY_DB_URL", raising=False)
    return home


def _on_postgres_server(statement: str) -> None:
    """Run one statement on the test server's maintenance database (CREATE/DROP DATABASE need autocommit)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def new_postgres_database() -> str:
    """A new empty database on the test server (:data:`POSTGRES_URL`); its SQLAlchemy URL."""
    from sqlalchemy import make_url

    if not POSTGRES_URL:
        skip_unless_ci(POSTGRES_MISSING)
    name = f"xray_test_{uuid.uuid4().hex[:16]}"
    _on_postgres_server(f'CREATE DATABASE "{name}"')
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database made by :func:`new_postgres_database`, closing whatever still holds it open."""
    from sqlalchemy import make_url

    _on_postgres_server(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database for one test, on SQLite and on PostgreSQL (``XRAY_TEST_POSTGRES_URL``); its URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    url = new_postgres_database()
    yield url
    drop_postgres_database(url)


def quick_config(shared_data: Path, out: Path, **changes):
    """A :class:`~core.classify.train.TrainConfig` of a few epochs on 32 real training images per class at 64×64 px:
    seconds on one CPU thread."""
    from core.classify.train import TrainConfig

    settings = dict(data=str(shared_data / "chest_xray"), out=str(out), epochs=2, input_size=64, batch_size=16,
                    per_class_limit=32, threads=1)  # fmt: skip
    return TrainConfig(**{**settings, **changes})


@pytest.fixture(scope="session")
def quick_model(shared_data, tmp_path_factory) -> Path:
    """``model.pt`` of a 2-epoch run (calibrated on its validation images, reported on its test images): the one
    tiny trained model the whole session shares (tests that need training itself train their own)."""
    from core.classify.train import train

    return train(quick_config(shared_data, tmp_path_factory.mktemp("quick")))


@pytest.fixture(scope="session")
def second_member(shared_data, tmp_path_factory) -> Path:
    """A run like ``quick_model`` but for its seed, validated on the same patients (split seed 0): with it, an
    ensemble."""
    from core.classify.train import train

    return train(quick_config(shared_data, tmp_path_factory.mktemp("member"), seed=1, split_seed=0))
