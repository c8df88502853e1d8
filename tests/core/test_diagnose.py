"""The prediction path on real X-rays with the shipped model: verdicts, heat maps, faithfulness, CLI heat maps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.__main__ import main
from core.diagnose import Diagnoser
from core.io import read_xray, read_xray_file
from tests.helpers import make_dicom, ramp

# Test images the default model calls with confidence (chosen from the first 40 of each class by name): a model
# that gets these wrong is broken, not just imperfect.
CLEAR_CASES = {
    "NORMAL": ["IM-0050-0001.jpeg", "IM-0025-0001.jpeg"],
    "PNEUMONIA": ["person113_bacteria_540.jpeg", "person109_bacteria_527.jpeg"],
}


@pytest.fixture(scope="module")
def diagnoser():
    return Diagnoser()


@pytest.mark.parametrize(("label", "name"), [(label, name) for label, names in CLEAR_CASES.items() for name in names])
def test_the_default_model_gets_clear_test_images_right(diagnoser, shared_data, label, name):
    diagnosis = diagnoser.diagnose(read_xray_file(shared_data / "chest_xray" / "test" / label / name))
    assert diagnosis.prediction.label == label
    assert diagnosis.prediction.probabilities[label] > 0.9
    assert diagnosis.warnings == ()


def test_a_diagnosis_carries_the_input_the_verdict_and_a_finite_heat_map(diagnoser, real_xray):
    diagnosis = diagnoser.diagnose(real_xray, method="Grad-CAM++")
    size = diagnoser.classifier.input_size
    assert diagnosis.model_input.shape == (size, size)
    heat = diagnosis.cam.heat
    assert heat.shape == (size, size) and np.isfinite(heat).all() and 0 <= heat.min() and heat.max() <= 1
    assert heat.max() - heat.min() > 0.5  # a map, not a constant
    assert diagnosis.cam.target == diagnosis.prediction.label
    # The batch path (no heat map) gives the same verdict.
    (batch,) = diagnoser.predict([real_xray])
    assert batch.probabilities["PNEUMONIA"] == pytest.approx(diagnosis.prediction.probabilities["PNEUMONIA"])


def test_grad_cam_gradients_are_finite_and_stop_at_the_mapped_layer(diagnoser, real_xray):
    explainer = diagnoser.explainer
    captured = []
    layer = explainer.layers[0]
    handle = layer.register_forward_hook(lambda m, i, o: o.register_hook(captured.append) and None)
    try:
        inputs = diagnoser.classifier.batch([real_xray])  # as pytorch-grad-cam passes it: no input gradient
        logit = explainer._cam_model(inputs)[0]
        logit.backward()
    finally:
        handle.remove()
    (gradient,) = captured
    assert np.isfinite(gradient.numpy()).all() and gradient.abs().sum() > 0
    # nothing below the mapped layer is differentiated: no weight gradients
    assert all(p.grad is None and not p.requires_grad for p in explainer._cam_model.parameters())


def test_faithfulness_is_high_for_the_model_s_own_map_and_low_for_a_random_one(diagnoser, shared_data):
    own, random = [], []
    for label, names in CLEAR_CASES.items():
        for name in names:
            inputs = diagnoser.classifier.batch([read_xray_file(shared_data / "chest_xray" / "test" / label / name)])
            cam = diagnoser.explainer.explain(inputs, method="Grad-CAM")
            random_map = np.random.default_rng(0).random(cam.heat.shape, dtype=np.float32)
            decorative = diagnoser.explainer.faithfulness(inputs, random_map, target=cam.target, seed=1)
            own.append(cam.faithfulness.excess)
            random.append(decorative.excess)
            assert decorative.assessment == "decorative", decorative  # within what chance does on this image
    # Sure verdicts (P ≈ 1): the probability barely moves, the log-odds do. The map beats chance on every image
    # and clearly so on most (how clearly varies by image: the shipped model's median is about 1 on these four).
    assert all(a > b + 0.05 for a, b in zip(own, random, strict=True)), (own, random)
    assert np.median(own) > 0.5, own


def test_suitability_warnings_reach_the_diagnosis(diagnoser):
    ct = read_xray(make_dicom((ramp(128, 128) * 4000).astype(np.uint16), tags={"Modality": "CT"}), name="ct.dcm")
    diagnosis = diagnoser.diagnose(ct, method=None)
    assert diagnosis.cam is None and any("modality is CT" in w for w in diagnosis.warnings)


def test_predict_writes_heat_map_overlays(fullres_paths, tmp_path, capsys):
    cams = tmp_path / "cams"
    assert main(["predict", str(fullres_paths[0]), "--cam", str(cams), "--method", "Eigen-CAM", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["cam"]["method"] == "Eigen-CAM" and len(record["model_version"]) == 12
    overlay = Image.open(record["cam"]["file"])
    assert overlay.mode == "RGB" and max(overlay.size) == 768
    assert list(cams.iterdir()) == [cams / f"{fullres_paths[0].stem}.eigen-cam.png"]
    assert "faithfulness" not in record["cam"]  # on request only: it costs twice the rest
    assert main(["predict", str(fullres_paths[0]), "--cam", str(cams), "--faithfulness", "--json"]) == 0
    checked = json.loads(capsys.readouterr().out)["cam"]
    assert checked["method"] == "Grad-CAM"
    assert checked["faithfulness"]["assessment"] in ("telling", "weak", "decorative")
    assert checked["faithfulness"]["random_trials"] == 4
