"""The database layer: additive schema upgrades on both databases, owner-only files for SQLite."""

from __future__ import annotations

import stat

from sqlalchemy import inspect

import core.store.db as db
from core.store.predictions import PredictionStore


def test_a_table_from_an_older_version_gets_its_new_columns_and_indexes(db_url):
    PredictionStore(db_url)  # creates the tables
    engine = db._engine(db_url)
    with engine.begin() as connection:  # make it look like a database made before 'warnings' and an index existed
        connection.exec_driver_sql("DROP INDEX ix_predictions_label")
        connection.exec_driver_sql("ALTER TABLE predictions DROP COLUMN warnings")
    db._schema_ready.pop(engine)  # a new server start
    store = PredictionStore(db_url)
    inspector = inspect(engine)
    assert "warnings" in {c["name"] for c in inspector.get_columns("predictions")}
    assert "ix_predictions_label" in {i["name"] for i in inspector.get_indexes("predictions")}
    assert store.query(owner=None) == []


def test_records_from_before_the_borderline_band_read_as_not_borderline(db_url):
    """A boolean column added to a table with rows: they take its default on both databases."""
    store = PredictionStore(db_url)
    engine = db._engine(db_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE predictions DROP COLUMN borderline")
        connection.exec_driver_sql(
            "INSERT INTO predictions (created, file_name, sha256, label, p_normal, p_pneumonia, threshold, model, "
            "model_version, warnings) VALUES (CURRENT_TIMESTAMP, 'old.png', 'ab', 'NORMAL', 0.9, 0.1, 0.4, 'm', "
            "'v', '[]')"
        )
    db._schema_ready.pop(engine)
    (record,) = PredictionStore(db_url).query(owner=None)
    assert (record.file_name, record.borderline, record.reading) == ("old.png", False, "NORMAL")
    del store


def test_records_from_before_the_unfamiliarity_check_read_as_not_assessed(db_url):
    """Nullable columns added to a table with rows: its rows read NULL (not assessed), new rows keep their values."""
    from core.types import OutOfDistribution, Prediction

    store = PredictionStore(db_url)
    engine = db._engine(db_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE predictions DROP COLUMN ood_score")
        connection.exec_driver_sql("ALTER TABLE predictions DROP COLUMN unfamiliar")
        connection.exec_driver_sql(
            "INSERT INTO predictions (created, file_name, sha256, label, p_normal, p_pneumonia, threshold, borderline, "
            "model, model_version, warnings) VALUES (CURRENT_TIMESTAMP, 'old.png', 'ab', 'NORMAL', 0.9, 0.1, 0.4, "
            "FALSE, 'm', 'v', '[]')"
        )
    assert not {"ood_score", "unfamiliar"} & {c["name"] for c in inspect(engine).get_columns("predictions")}
    db._schema_ready.pop(engine)
    upgraded = PredictionStore(db_url)
    assert {"ood_score", "unfamiliar"} <= {c["name"] for c in inspect(engine).get_columns("predictions")}
    (record,) = upgraded.query(owner=None)
    assert (record.file_name, record.ood_score, record.unfamiliar, record.reading) == ("old.png", None, None, "NORMAL")
    flagged = Prediction(label="NORMAL", probabilities={"NORMAL": 0.9, "PNEUMONIA": 0.1}, threshold=0.4, model="m",
                         out_of_distribution=OutOfDistribution(0.5, 0.384))  # fmt: skip
    upgraded.add(owner="tester", file_name="new.png", sha256="cd", prediction=flagged, model_version="v")
    assert [(r.file_name, r.unfamiliar) for r in upgraded.query(owner=None, unfamiliar=True)] == [("new.png", True)]
    assert upgraded.query(owner=None, unfamiliar=False) == []
    del store


def test_the_data_folder_and_the_sqlite_files_are_owner_only(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("XRAY_HOME", str(home))
    store = PredictionStore()
    store.query(owner=None)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = sorted(home.glob("workstation.db*"))
    assert {p.name for p in files} >= {"workstation.db", "workstation.db-wal", "workstation.db-shm"}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
