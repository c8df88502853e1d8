"""The labelled chest X-ray data set on disk: layout validation, patient identities, a patient-disjoint split.

Layout (Kermany et al. 2018, as published)::

    ROOT/train/NORMAL/*.jpeg    ROOT/train/PNEUMONIA/*.jpeg
    ROOT/val/...                ROOT/test/...

File names identify patients: ``personN_bacteria_K.jpeg`` / ``personN_virus_K.jpeg`` for pneumonia, and
``IM-NNNN-KKKK.jpeg`` / ``NORMAL2-IM-NNNN-KKKK.jpeg`` (optionally with a further ``-KKKK``) for normal studies.
Images of one patient must never sit on both sides of a train/validation split, or validation figures flatter the
model.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.io import read_xray_file
from core.types import pixels_to_uint8

__all__ = ["IMAGE_SUFFIXES", "LABELS", "SPLITS", "ImageRecord", "count_labels", "fingerprint", "load_images",
           "patient_id", "scan_dataset", "split_by_patient"]  # fmt: skip

LABELS = ("NORMAL", "PNEUMONIA")  # index = class id
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".dcm")

_PNEUMONIA_PATIENT = re.compile(r"^(person\d+)_", re.IGNORECASE)
_NORMAL_PATIENT = re.compile(r"^((?:NORMAL\d*-)?IM-\d+)-", re.IGNORECASE)


@dataclass(frozen=True)
class ImageRecord:
    """One labelled image file.

    Attributes
    ----------
    path : Path
    label : int
        Index into :data:`LABELS`.
    patient : str
        Patient identity from the file name (the file's stem where the name follows no known pattern).
    """

    path: Path
    label: int
    patient: str


def patient_id(file_name: str) -> str:
    """The patient a file of the data set belongs to, from its name.

    Examples
    --------
    >>> patient_id("person1155_virus_1934.jpeg"), patient_id("NORMAL2-IM-0402-0001.jpeg")
    ('person1155', 'NORMAL2-IM-0402')
    """
    for pattern in (_PNEUMONIA_PATIENT, _NORMAL_PATIENT):
        match = pattern.match(file_name)
        if match:
            return match.group(1)
    return Path(file_name).stem  # unknown naming: each file is its own patient


def scan_dataset(root: str | Path, *, splits: Sequence[str] = SPLITS) -> dict[str, tuple[ImageRecord, ...]]:
    """List and label every image of the data set, after checking its folder layout.

    Parameters
    ----------
    root : str or Path
        The folder holding ``train/``, ``val/`` and ``test/``.
    splits : sequence of str
        Which splits must be present and are listed.

    Returns
    -------
    dict of str to tuple of ImageRecord
        Per split, records sorted by path.

    Raises
    ------
    InputError
        Naming every problem found at once (missing folders, empty classes), with the expected layout.
    """
    root = Path(root)
    expected = "expected ROOT/{" + ",".join(splits) + "}/{" + ",".join(LABELS) + "}/ holding JPEG, PNG or DICOM files"
    if not root.is_dir():
        raise InputError(f"The data folder '{root}' does not exist or is not a folder; {expected}.")
    problems: list[str] = []
    dataset: dict[str, tuple[ImageRecord, ...]] = {}
    for split in splits:
        if not (root / split).is_dir():
            problems.append(f"'{split}/' is missing")
            continue
        records = []
        for label, name in enumerate(LABELS):
            folder = root / split / name
            if not folder.is_dir():
                problems.append(f"'{split}/{name}/' is missing")
                continue
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                problems.append(f"'{split}/{name}/' holds no image")
            records += [ImageRecord(path=p, label=label, patient=patient_id(p.name)) for p in files]
        dataset[split] = tuple(records)
    if problems:
        found = sorted(p.name + "/" for p in root.iterdir() if p.is_dir())
        raise InputError(
            f"The data folder '{root}' does not have the expected layout: {'; '.join(problems)}. It holds "
            f"{', '.join(found) or 'no folders'}; {expected}."
        )
    return dataset


def fingerprint(records: Sequence[ImageRecord], root: str | Path) -> str:
    """A short hash of the files' names (relative to ``root``) and sizes: tells whether two runs saw the same data."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(f"{record.path.relative_to(root)}:{record.path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def count_labels(records: Sequence[ImageRecord]) -> dict[str, int]:
    """Images per label, e.g. ``{"NORMAL": 1341, "PNEUMONIA": 3875}``."""
    return {name: sum(1 for r in records if r.label == label) for label, name in enumerate(LABELS)}


def split_by_patient(
    records: Sequence[ImageRecord], *, validation_fraction: float = 0.1, seed: int = 0
) -> tuple[tuple[ImageRecord, ...], tuple[ImageRecord, ...]]:
    """Carve a validation set out of ``records`` so that no patient is on both sides, stratified by label.

    Within each label, patients are shuffled with ``seed`` and moved to validation until it holds at least
    ``validation_fraction`` of that label's images, so both sets keep the class balance.

    Parameters
    ----------
    records : sequence of ImageRecord
    validation_fraction : float
        In ``(0, 1)``.
    seed : int
        Same seed, same split.

    Returns
    -------
    (train, validation) : tuple of tuple of ImageRecord
        Each sorted by path.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise InputError(f"The validation fraction must lie strictly between 0 and 1; got {validation_fraction}.")
    generator = random.Random(seed)
    validation_patients: set[tuple[int, str]] = set()
    for label in range(len(LABELS)):
        by_patient: dict[str, int] = {}
        for record in records:
            if record.label == label:
                by_patient[record.patient] = by_patient.get(record.patient, 0) + 1
        patients = sorted(by_patient)
        generator.shuffle(patients)
        target, taken = validation_fraction * sum(by_patient.values()), 0
        for patient in patients:
            if taken >= target:
                break
            validation_patients.add((label, patient))
            taken += by_patient[patient]
    # A patient is identified with its label too: a pneumonia and a normal file never share a name pattern.
    in_validation = [(r.label, r.patient) in validation_patients for r in records]
    train = tuple(sorted((r for r, v in zip(records, in_validation, strict=True) if not v), key=lambda r: r.path))
    validation = tuple(sorted((r for r, v in zip(records, in_validation, strict=True) if v), key=lambda r: r.path))
    return train, validation


def load_images(
    records: Sequence[ImageRecord],
    *,
    prepare: Callable[[np.ndarray], np.ndarray],
    threads: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode and prepare every image, for a training or evaluation pass held in memory.

    Parameters
    ----------
    records : sequence of ImageRecord
    prepare : callable
        Maps an X-ray's pixels ``(H, W)`` in ``[0, 1]`` to the model's input ``(S, S)`` in ``[0, 1]``
        (:func:`core.classify.transforms.model_input` with the model's size).
    threads : int
        Decoding threads (Pillow and OpenCV release the GIL).

    Returns
    -------
    images : ndarray of uint8, shape (N, S, S)
        8-bit, as the data set's JPEGs are; a quarter of the memory of float32.
    labels : ndarray of int64, shape (N,)

    Raises
    ------
    InputError
        Naming the file that cannot be read.
    """
    if not records:
        raise InputError("No images to load: the list of records is empty.")

    def one(record: ImageRecord) -> np.ndarray:
        try:
            return pixels_to_uint8(prepare(read_xray_file(record.path).pixels))
        except InputError as error:
            raise InputError(f"Cannot use '{record.path}' from the data set: {error}") from error

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        images = np.stack(list(pool.map(one, records)))
    return images, np.array([r.label for r in records], dtype=np.int64)
