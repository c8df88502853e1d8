"""Warnings that an image may not be a frontal chest radiograph."""

from __future__ import annotations

import numpy as np

from core.io import read_xray
from core.suitability import suitability_warnings
from tests.helpers import encode, make_dicom, ramp


def _dicom(**tags: str):
    return read_xray(make_dicom((ramp(100, 90) * 4000).astype(np.uint16), tags=tags), name="study.dcm")


def test_a_real_chest_xray_raises_no_warning(real_xray):
    assert suitability_warnings(real_xray) == []
    assert suitability_warnings(_dicom(ViewPosition="PA")) == []


def test_dicom_tags_of_another_modality_body_part_or_view_are_warned_of():
    (ct,) = suitability_warnings(_dicom(Modality="CT"))
    assert "modality is CT" in ct
    (knee,) = suitability_warnings(_dicom(BodyPartExamined="KNEE"))
    assert "KNEE" in knee
    (lateral,) = suitability_warnings(_dicom(ViewPosition="LL"))
    assert "lateral" in lateral


def test_colour_and_odd_proportions_are_warned_of():
    photo = np.zeros((100, 100, 3), dtype=np.uint8)
    photo[..., 1] = np.linspace(0, 250, 100, dtype=np.uint8)
    (colour,) = suitability_warnings(read_xray(encode(photo), name="photo.png"))
    assert "colour" in colour
    (proportions,) = suitability_warnings(read_xray(encode((ramp(80, 300) * 255).astype(np.uint8)), name="wide.png"))
    assert "300×80" in proportions
