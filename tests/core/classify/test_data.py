"""The data set's layout, patient identities and the patient-disjoint validation split."""

from __future__ import annotations

import pytest

from core.classify.data import LABELS, count_labels, patient_id, scan_dataset, split_by_patient
from core.errors import InputError


@pytest.fixture(scope="module")
def dataset(shared_data):
    return scan_dataset(shared_data / "chest_xray")


def test_counts_match_the_published_split(dataset):
    # Counts from ../shared/data/README.md.
    assert count_labels(dataset["train"]) == {"NORMAL": 1341, "PNEUMONIA": 3875}
    assert count_labels(dataset["val"]) == {"NORMAL": 8, "PNEUMONIA": 8}
    assert count_labels(dataset["test"]) == {"NORMAL": 234, "PNEUMONIA": 390}


@pytest.mark.parametrize(
    ("name", "patient"),
    [
        ("person1155_virus_1934.jpeg", "person1155"),
        ("person58_bacteria_272.jpeg", "person58"),
        ("IM-0629-0001-0002.jpeg", "IM-0629"),
        ("NORMAL2-IM-0402-0001.jpeg", "NORMAL2-IM-0402"),
        ("scan.png", "scan"),
    ],
)
def test_patient_ids(name, patient):
    assert patient_id(name) == patient


def test_validation_split_is_patient_disjoint_stratified_and_seeded(dataset):
    train, validation = split_by_patient(dataset["train"], validation_fraction=0.1, seed=0)
    assert len(train) + len(validation) == len(dataset["train"])
    assert not {r.patient for r in train} & {r.patient for r in validation}
    counts = count_labels(validation)
    # Whole patients are moved, so each class overshoots 10 % by at most one patient's few images.
    assert counts["NORMAL"] == pytest.approx(134, abs=5)
    assert counts["PNEUMONIA"] == pytest.approx(388, abs=10)
    assert split_by_patient(dataset["train"], seed=0) == (train, validation)
    assert split_by_patient(dataset["train"], seed=1)[1] != validation


def _layout(root, spec):
    for relative, files in spec.items():
        folder = root / relative
        folder.mkdir(parents=True)
        for name in files:
            (folder / name).write_bytes(b"\xff\xd8\xff")


def test_a_complete_small_layout_is_accepted(tmp_path):
    _layout(tmp_path, {f"{s}/{label}": [f"person{i}_virus_1.jpeg" for i in range(2)] for s in ("train", "val", "test")
                       for label in LABELS})  # fmt: skip
    assert {split: len(records) for split, records in scan_dataset(tmp_path).items()} == {
        "train": 4,
        "val": 4,
        "test": 4,
    }


def test_a_wrong_layout_names_every_problem(tmp_path):
    _layout(tmp_path, {"train/NORMAL": ["a.jpeg"], "train/PNEUMONIA": [], "images": ["x.jpeg"]})
    with pytest.raises(InputError) as caught:
        scan_dataset(tmp_path)
    message = str(caught.value)
    for problem in ("'train/PNEUMONIA/' holds no image", "'val/' is missing", "'test/' is missing", "images/"):
        assert problem in message
    assert "expected ROOT/{train,val,test}/{NORMAL,PNEUMONIA}/" in message


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        scan_dataset(tmp_path / "nowhere")


def test_bad_fraction_is_refused():
    with pytest.raises(InputError, match="strictly between"):
        split_by_patient([], validation_fraction=1.0)
