"""Every page under Streamlit's AppTest: runs without exception, and its happy path by widget keys."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT
from tests.helpers import encode, make_dicom

TIMEOUT_S = 120  # first runs import OpenCV, scikit-image and Plotly


def _run(page: str) -> AppTest:
    """Open ``page`` the way a user does: through the router (``app.py``), which sets up navigation."""
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S)
    app.run()
    if page != "app.py":
        app.switch_page(page).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def test_router_opens_home_with_the_research_notice():
    app = _run("app.py")
    text = " ".join(m.value for m in app.markdown)
    assert "Chest X-ray workstation" in app.title[0].value
    assert "not a medical device" in " ".join(w.body for w in app.warning)
    assert "Preprocessing lab" in text


def test_home_page_links_to_the_lab():
    app = _run("pages/home.py")
    assert "not a medical device" in " ".join(w.body for w in app.warning)
    assert any("preprocessing_lab" in str(link.proto.page) for link in app.get("page_link"))


def test_lab_shows_a_sample_processed_by_default():
    app = _run("pages/preprocessing_lab.py")
    assert app.selectbox(key="lab_sample").value.label == "NORMAL"
    captions = " ".join(c.value for c in app.caption)
    assert "IM-0249-0001.jpeg" in captions
    table = app.dataframe[0].value
    assert list(table["Step"]) == ["Input", "Median filter 3×3", "CLAHE (clip 2, 8×8 tiles)"]


def test_lab_noise_then_median_is_measured():
    app = _run("pages/preprocessing_lab.py")
    app.toggle(key="noise_on").set_value(True).run()
    app.slider(key="noise_amount").set_value(0.1).run()
    assert not app.exception
    table = app.dataframe[0].value.set_index("Step")
    noisy = table.loc["Salt-and-pepper noise (10% of pixels)", "PSNR (dB)"]
    filtered = table.loc["Median filter 3×3", "PSNR (dB)"]
    assert filtered > noisy + 10


def test_lab_every_control_runs(fullres_paths):
    app = _run("pages/preprocessing_lab.py")
    app.file_uploader(key="lab_upload").upload(fullres_paths[0].name, fullres_paths[0].read_bytes()).run()
    app.radio(key="contrast").set_value("Histogram equalisation").run()
    app.selectbox(key="morph_op").set_value("tophat").run()
    app.radio(key="norm").set_value("Z-score").run()
    app.toggle(key="resize_on").set_value(True).run()
    app.radio(key="resize_mode").set_value("Stretch").run()
    app.select_slider(key="resize_side").set_value(128).run()
    assert not app.exception, [e.message for e in app.exception]
    assert fullres_paths[0].name in " ".join(c.value for c in app.caption)
    table = app.dataframe[0].value
    assert table["Step"].iloc[-1] == "Resize to 128×128 (stretched)"
    assert np.isnan(table["PSNR (dB)"].iloc[-1])  # z-scored: not comparable
    assert app.get("download_button")


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("notes.png", b"not an image at all\n" * 20, "not an image"),
        ("tiny.png", encode(np.zeros((10, 10), dtype=np.uint8)), "at least 64×64"),
    ],
)
def test_lab_bad_upload_is_a_sentence_not_a_traceback(name, data, expected):
    app = _run("pages/preprocessing_lab.py")
    app.file_uploader(key="lab_upload").upload(name, data).run()
    assert not app.exception
    assert expected in app.error[0].value


def test_lab_shows_what_the_loader_did_with_a_monochrome1_dicom():
    stored = np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (80, 1))
    app = _run("pages/preprocessing_lab.py")
    app.file_uploader(key="lab_upload").upload("chest.dcm", make_dicom(stored, photometric="MONOCHROME1")).run()
    assert not app.exception and not app.error
    captions = " ".join(c.value for c in app.caption)
    assert "chest.dcm** · DICOM · MONOCHROME1 12-bit · 100×80 px · 0.15×0.15 mm/px" in captions
    assert "inverted so that bone is white" in captions
    assert "Modality: DX" in captions and "Test^Patient" not in captions


def test_classifier_page_shows_the_default_models_figures_and_curves():
    app = _run("pages/classifier.py")
    metrics = {m.label: m.value for m in app.metric}
    assert set(metrics) == {"Accuracy", "Sensitivity", "Specificity", "AUC", "Threshold"}
    assert metrics["Accuracy"].endswith("%")
    assert "Test split, n = 624" in " ".join(c.value for c in app.caption)
    confusion = app.dataframe[0].value
    assert int(confusion.to_numpy().sum()) == 624
    assert "Model card" in app.expander[0].label
