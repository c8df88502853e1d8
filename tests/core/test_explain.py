"""Heat maps: every method's output shape and range, and the faithfulness figure's direction."""

from __future__ import annotations

import numpy as np
import pytest

from core.classify.predict import Classifier
from core.errors import InputError
from core.explain import CAM_METHODS, Explainer
from core.io import read_xray_file


@pytest.fixture(scope="module")
def explainer(quick_model):
    return Explainer(Classifier(quick_model))


@pytest.fixture(scope="module")
def inputs(explainer, fullres_paths):
    return explainer.classifier.batch([read_xray_file(fullres_paths[-1])])


@pytest.mark.parametrize("method", list(CAM_METHODS))
def test_every_method_gives_a_finite_map_in_unit_range(explainer, inputs, method):
    cam = explainer.explain(inputs, method=method, faithfulness=False)
    size = explainer.classifier.input_size
    assert cam.heat.shape == (size, size) and cam.heat.dtype == np.float32
    assert np.isfinite(cam.heat).all() and cam.heat.min() >= 0 and cam.heat.max() <= 1
    assert cam.target in ("NORMAL", "PNEUMONIA") and cam.method == method


def test_faithfulness_is_reported_and_seeded(explainer, inputs):
    first = explainer.explain(inputs, method="Grad-CAM", seed=3).faithfulness
    again = explainer.explain(inputs, method="Grad-CAM", seed=3).faithfulness
    assert first == again and first.removed_fraction == pytest.approx(0.2)
    assert 0 <= first.probability_cam <= 1 and 0 <= first.probability_random <= 1
    assert first.assessment in ("telling", "weak", "decorative")
    assert "log-odds of NORMAL" in first.describe("NORMAL")


def test_bad_requests_are_refused(explainer, inputs):
    with pytest.raises(InputError, match="choose one of Grad-CAM"):
        explainer.explain(inputs, method="LIME")
    with pytest.raises(InputError, match="one prepared image"):
        explainer.explain(inputs[0])


def test_predictions_do_not_feed_the_heat_map_hooks(explainer, inputs):
    # pytorch-grad-cam's hooks copy every activation they see; they must not sit on the model that predicts.
    explainer.explain(inputs, method="Grad-CAM")
    for _ in range(3):
        explainer.classifier.probabilities(inputs)
    hooks = explainer._cam("Grad-CAM").activations_and_grads
    assert hooks.activations == [] and hooks.gradients == []
