"""Prediction records: written, read back, filtered; images kept only on request."""

from __future__ import annotations

import datetime as dt

import pytest

from core.store.db import StoreError
from core.store.predictions import PredictionStore
from core.types import Prediction
from tests.conftest import drop_postgres_database, new_postgres_database


def _prediction(p: float, model: str = "m.pt (xraynet, epoch 3, 2026-11-24)") -> Prediction:
    label = "PNEUMONIA" if p >= 0.4 else "NORMAL"
    return Prediction(label=label, probabilities={"NORMAL": 1 - p, "PNEUMONIA": p}, threshold=0.4, model=model)


@pytest.fixture
def store(db_url):
    return PredictionStore(db_url)


def test_records_are_read_back_newest_first_with_every_field(store):
    first = store.add(owner="tester", file_name="a.jpeg", sha256="a" * 64,
                      prediction=_prediction(0.9), model_version="v1",
                      warnings=["The image is in colour."])  # fmt: skip
    second = store.add(owner="tester", file_name="b.png", sha256="b" * 64,
                       prediction=_prediction(0.1), model_version="v1")  # fmt: skip
    records = store.query(owner=None)
    assert [r.id for r in records] == [second, first]
    newest, oldest = records
    assert (oldest.file_name, oldest.sha256, oldest.label) == ("a.jpeg", "a" * 64, "PNEUMONIA")
    assert oldest.p_pneumonia == pytest.approx(0.9) and oldest.p_normal == pytest.approx(0.1)
    assert oldest.threshold == pytest.approx(0.4) and oldest.model_version == "v1"
    assert oldest.warnings == ("The image is in colour.",) and newest.warnings == ()
    assert oldest.created.tzinfo is not None
    assert abs(oldest.created - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_a_borderline_verdict_is_recorded_as_such(store):
    near = Prediction(label="PNEUMONIA", probabilities={"NORMAL": 0.58, "PNEUMONIA": 0.42}, threshold=0.4, model="m",
                      band=(0.3, 0.5))  # fmt: skip
    store.add(owner="tester", file_name="near.png", sha256="c" * 64, prediction=near, model_version="v1")
    store.add(owner="tester", file_name="far.png", sha256="d" * 64, prediction=_prediction(0.9), model_version="v1")
    far_record, near_record = store.query(owner=None)
    assert (near_record.borderline, near_record.label) == (True, "PNEUMONIA")
    assert near_record.reading == "borderline: review (leans PNEUMONIA)"
    assert (far_record.borderline, far_record.reading) == (False, "PNEUMONIA")
    assert [r.file_name for r in store.query(owner=None, borderline=True)] == ["near.png"]
    assert [r.file_name for r in store.query(owner=None, borderline=False)] == ["far.png"]


def test_the_unfamiliarity_score_and_flag_are_recorded_and_filtered(store):
    from core.types import OutOfDistribution

    def judged(score: float | None) -> Prediction:
        ood = None if score is None else OutOfDistribution(score=score, threshold=0.384)
        return Prediction(label="PNEUMONIA", probabilities={"NORMAL": 0.1, "PNEUMONIA": 0.9}, threshold=0.4,
                          model="m", band=(0.3, 0.5), out_of_distribution=ood)  # fmt: skip

    store.add(owner="tester", file_name="photo.png", sha256="a" * 64, prediction=judged(0.446), model_version="v1")
    store.add(owner="tester", file_name="chest.png", sha256="b" * 64, prediction=judged(0.047), model_version="v1")
    store.add(owner="tester", file_name="unjudged.png", sha256="c" * 64, prediction=judged(None), model_version="v1")
    unjudged, chest, photo = store.query(owner=None)
    assert (photo.unfamiliar, photo.ood_score) == (True, pytest.approx(0.446))
    assert photo.reading == "unreliable: unfamiliar image (reads PNEUMONIA)"
    assert (chest.unfamiliar, chest.ood_score, chest.reading) == (False, pytest.approx(0.047), "PNEUMONIA")
    assert (unjudged.unfamiliar, unjudged.ood_score, unjudged.reading) == (None, None, "PNEUMONIA")
    assert [r.file_name for r in store.query(owner=None, unfamiliar=True)] == ["photo.png"]
    assert [r.file_name for r in store.query(owner=None, unfamiliar=False)] == ["chest.png"]  # not assessed is neither
    assert [r.file_name for r in store.query(owner=None, unfamiliar=True, labels=["NORMAL"])] == []


def test_an_unfamiliar_image_reads_unreliable_even_in_the_borderline_band(store):
    from core.types import OutOfDistribution

    near = Prediction(label="PNEUMONIA", probabilities={"NORMAL": 0.58, "PNEUMONIA": 0.42}, threshold=0.4, model="m",
                      band=(0.3, 0.5), out_of_distribution=OutOfDistribution(0.5, 0.384))  # fmt: skip
    store.add(owner="tester", file_name="near.png", sha256="c" * 64, prediction=near, model_version="v1")
    (record,) = store.query(owner=None, borderline=True, unfamiliar=True)
    assert record.reading == near.reading == "unreliable: unfamiliar image (reads PNEUMONIA)"


def test_no_image_is_kept_unless_given(store):
    without = store.add(owner="tester", file_name="a.jpeg", sha256="a" * 64,
                        prediction=_prediction(0.9), model_version="v1")  # fmt: skip
    kept = store.add(owner="tester", file_name="b.jpeg", sha256="b" * 64,
                     prediction=_prediction(0.9), model_version="v1",
                     image=b"\xff\xd8jpeg bytes")  # fmt: skip
    by_id = {r.id: r for r in store.query(owner=None)}
    assert not by_id[without].has_image and store.image(without, owner=None) is None
    assert by_id[kept].has_image and store.image(kept, owner=None) == b"\xff\xd8jpeg bytes"


def test_filters_by_label_model_name_and_time(store):
    store.add(owner="tester", file_name="Chest_100%.jpeg", sha256="a" * 64,
              prediction=_prediction(0.9), model_version="v1")  # fmt: skip
    store.add(owner="tester", file_name="chest_1.jpeg", sha256="b" * 64,
              prediction=_prediction(0.1), model_version="v1")  # fmt: skip
    store.add(owner="tester", file_name="other.dcm", sha256="c" * 64,
              prediction=_prediction(0.2, "n.pt"), model_version="v2")  # fmt: skip
    assert {r.file_name for r in store.query(owner=None, labels=["NORMAL"])} == {"chest_1.jpeg", "other.dcm"}
    assert {r.file_name for r in store.query(owner=None, model_version="v2")} == {"other.dcm"}
    assert {r.file_name for r in store.query(owner=None, name_contains="CHEST")} == {"Chest_100%.jpeg", "chest_1.jpeg"}
    assert {r.file_name for r in store.query(owner=None, name_contains="100%")} == {"Chest_100%.jpeg"}  # % is literal
    now = dt.datetime.now(dt.UTC)
    assert len(store.query(owner=None, since=now - dt.timedelta(hours=1))) == 3
    assert store.query(owner=None, since=now + dt.timedelta(hours=1)) == []
    assert store.query(owner=None, until=now - dt.timedelta(hours=1)) == []
    assert store.model_versions(owner=None) == {"v1": "m.pt (xraynet, epoch 3, 2026-11-24)", "v2": "n.pt"}


def test_records_survive_a_new_store_on_the_same_database(db_url):
    url = db_url
    PredictionStore(url).add(owner="tester", file_name="a.jpeg", sha256="a" * 64,
                             prediction=_prediction(0.9), model_version="v1")  # fmt: skip
    assert [r.file_name for r in PredictionStore(url).query(owner=None)] == ["a.jpeg"]


def test_an_unusable_database_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="cannot be used"):
        PredictionStore("nosuchdialect://x")
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(StoreError, match="cannot be opened"):
        PredictionStore(f"sqlite:///{tmp_path / 'folder.db'}")


def test_a_bad_url_never_echoes_its_password():
    with pytest.raises(StoreError) as error:
        PredictionStore("nosuchdialect://admin:s3cret@db.example/xray")
    assert "s3cret" not in str(error.value)


def test_file_names_with_nul_or_lone_surrogates_are_recorded_readably(store):
    """PostgreSQL refuses NUL characters and neither database stores a lone surrogate: such a (user-given) name is
    recorded with the characters replaced, not refused and never a traceback."""
    first = store.add(owner="tester", file_name="a\x00b.dcm", sha256="a" * 64,
                      prediction=_prediction(0.9), model_version="v1",
                      warnings=["odd \ud800 tag"])  # fmt: skip
    (record,) = store.query(owner=None)
    assert record.id == first and record.file_name == "a\ufffdb.dcm" and record.warnings == ("odd ? tag",)


def test_a_non_finite_probability_is_never_a_prediction():
    from core.errors import ModelError

    with pytest.raises(ModelError, match="no verdict"):
        Prediction(label="NORMAL", probabilities={"NORMAL": float("nan"), "PNEUMONIA": float("nan")}, threshold=0.4,
                   model="m")  # fmt: skip


def test_a_database_that_goes_away_is_a_sentence_without_sql():
    url = new_postgres_database()
    store = PredictionStore(url)
    drop_postgres_database(url)  # the server closes the store's connections; the database is gone
    with pytest.raises(StoreError) as error:
        store.add(owner="tester", file_name="a.jpeg", sha256="a" * 64, prediction=_prediction(0.9), model_version="v1")
    message = str(error.value)
    assert "could not record the prediction for 'a.jpeg'" in message
    assert "INSERT" not in message and "postgres" not in message
