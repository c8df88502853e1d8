"""Shared fixtures: thread limits, the real data beside the project, and generators of small test files."""

from __future__ import annotations

import os

# Two cores are shared by pytest, the app and the browser: one thread each keeps torch and OpenCV from
# oversubscribing them (set before any of those libraries is imported).
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

# Records written by tests (and by the app servers they start) go to a throw-away folder, never the user's.
os.environ["XRAY_HOME"] = tempfile.mkdtemp(prefix="xray-test-home-")
os.environ.pop("XRAY_DB_URL", None)

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("XRAY_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
SHARED_MISSING = (
    f"real data not found at {SHARED_DATA} (the project's ../shared/data; set XRAY_SHARED_DATA to point "
    "elsewhere). CI always has it."
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
