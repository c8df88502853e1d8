"""Heat-map overlays and the per-image report."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from core.diagnose import Diagnosis
from core.errors import InputError
from core.explain import CamMap, Faithfulness
from core.export.heatmap import AGREEMENT_RGB, agreement_overlay, colour_bar, heat_overlay, heat_table
from core.export.report import diagnosis_report
from core.types import Prediction


def test_overlay_keeps_the_image_proportions_and_blends_by_opacity(real_xray):
    heat = np.zeros((128, 128), dtype=np.float32)
    overlay = heat_overlay(real_xray.pixels, heat, opacity=0.0, max_side=400)
    height, width = real_xray.shape
    assert overlay.shape == (400, round(400 * width / height), 3) or overlay.shape == (
        round(400 * height / width),
        400,
        3,
    )
    assert (overlay[..., 0] == overlay[..., 1]).all()  # opacity 0: the grey X-ray alone
    coloured = heat_overlay(real_xray.pixels, heat + 1.0, opacity=1.0, colourmap="jet", max_side=400)
    assert (coloured == coloured[0, 0]).all() and tuple(coloured[0, 0]) == tuple(colour_bar("jet")[0, -1])
    # where there is no evidence the film shows through untinted, whatever the opacity (no blue cast)
    plain = heat_overlay(real_xray.pixels, heat, opacity=0.0, max_side=400)
    weak = heat_overlay(real_xray.pixels, heat + 0.1, opacity=1.0, max_side=400)
    assert np.array_equal(weak, plain)


def test_the_heat_colour_table_is_clear_where_there_is_no_evidence():
    table = heat_table("inferno")
    assert table.shape == (256, 4) and table.dtype == np.uint8
    assert (table[: int(0.15 * 255), 3] == 0).all() and table[-1, 3] == 255  # clear below 0.15, opaque at the top
    assert (np.diff(table[:, 3].astype(int)) >= 0).all()


def test_agreement_colours_are_told_apart_with_every_colour_vision():
    first = np.array([[1, 1, 0, 0]], dtype=bool)
    second = np.array([[1, 0, 1, 0]], dtype=bool)
    rgb = agreement_overlay(first, second)
    assert [tuple(c) for c in rgb[0]] == [AGREEMENT_RGB["both"], AGREEMENT_RGB["first"], AGREEMENT_RGB["second"],
                                          (0, 0, 0)]  # fmt: skip
    with pytest.raises(InputError, match="differ in shape"):
        agreement_overlay(first, second.T)


def test_overlay_refuses_bad_settings(real_xray):
    with pytest.raises(InputError, match="colour map"):
        heat_overlay(real_xray.pixels, np.zeros((8, 8)), colourmap="rainbow-unicorn")
    with pytest.raises(InputError, match="opacity"):
        heat_overlay(real_xray.pixels, np.zeros((8, 8)), opacity=1.5)


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_report_is_a_png_or_pdf(real_xray, fmt, magic):
    heat = np.outer(np.hanning(64), np.hanning(64)).astype(np.float32)
    diagnosis = Diagnosis(
        xray=real_xray,
        model_input=np.zeros((64, 64), dtype=np.float32),
        prediction=Prediction(
            label="NORMAL", probabilities={"NORMAL": 0.8, "PNEUMONIA": 0.2}, threshold=0.3, model="m"
        ),
        cam=CamMap(
            heat=heat, method="Grad-CAM", target="NORMAL", faithfulness=Faithfulness(0.2, 0.8, 0.3, 0.79, 2.2, 0.05)
        ),
        warnings=("The image is in colour.",),
    )
    model = {"version": "abc", "test": {"accuracy": 0.9, "sensitivity": 0.9, "specificity": 0.9, "auc": 0.95}}
    report = diagnosis_report(diagnosis, model=model, fmt=fmt, created=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    assert report.startswith(magic) and len(report) > 20_000
    with pytest.raises(InputError, match="png or pdf"):
        diagnosis_report(diagnosis, fmt="docx")


def _judged(xray, ood) -> Diagnosis:
    prediction = Prediction(label="PNEUMONIA", probabilities={"NORMAL": 0.2, "PNEUMONIA": 0.8}, threshold=0.3,
                            model="m", out_of_distribution=ood)  # fmt: skip
    return Diagnosis(xray=xray, model_input=np.zeros((64, 64), dtype=np.float32), prediction=prediction, cam=None,
                     warnings=())  # fmt: skip


def test_a_report_on_an_unfamiliar_image_says_its_verdict_is_unreliable(real_xray):
    from core.export.report import _lines
    from core.types import OutOfDistribution

    created = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    diagnosis = _judged(real_xray, OutOfDistribution(score=0.446, threshold=0.384))
    lines = _lines(diagnosis, {}, created)
    assert lines[0] == "Verdict: unreliable: unfamiliar image (reads PNEUMONIA)"
    assert lines[1].startswith("Warning: This image is unlike the images the model learned from (unfamiliarity 0.446 > "
                               "0.384") and "the verdict is unreliable" in lines[1]  # fmt: skip
    assert lines[2].startswith("Pneumonia score 0.800")
    assert "Unfamiliarity: 0.446 (threshold 0.384)" in lines
    assert diagnosis_report(diagnosis, fmt="png", created=created).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("ood", "line"),
    [
        (0.047, "Unfamiliarity: 0.047 (threshold 0.384)"),
        (None, "Unfamiliarity: not assessed (the model has no reference)"),
    ],
)
def test_a_report_on_a_familiar_or_unassessed_image_gives_the_plain_verdict(real_xray, ood, line):
    from core.export.report import _lines
    from core.types import OutOfDistribution

    diagnosis = _judged(real_xray, None if ood is None else OutOfDistribution(score=ood, threshold=0.384))
    lines = _lines(diagnosis, {}, dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    assert lines[0] == "Verdict: PNEUMONIA" and line in lines
    assert not any("unlike the images" in text or "unreliable" in text for text in lines)
    assert lines[1].startswith("Pneumonia score 0.800")


def test_a_report_names_the_file_by_its_pseudonym_unless_asked(real_xray):
    from core.export.report import _lines

    diagnosis = _judged(real_xray, None)
    created = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    (line,) = [text for text in _lines(diagnosis, {}, created) if text.startswith("File:")]
    assert line.startswith(f"File: image-{real_xray.sha256[:12]}.jpeg (") and real_xray.name not in line
    (line,) = [text for text in _lines(diagnosis, {}, created, real_xray.name) if text.startswith("File:")]
    assert line.startswith(f"File: {real_xray.name} (")
