"""Verdicts through :class:`core.classify.predict.Classifier`."""

from __future__ import annotations

import numpy as np
import pytest

from core.classify.predict import Classifier
from core.types import XRay


@pytest.fixture(scope="module")
def classifier(quick_model):
    return Classifier(quick_model)


def test_batch_and_single_verdicts_agree(classifier, fullres_paths):
    from core.io import read_xray_file

    xrays = [read_xray_file(p) for p in fullres_paths[:3]]
    batch = classifier.predict(xrays)
    singles = [classifier.predict([x])[0] for x in xrays]
    for b, s in zip(batch, singles, strict=True):
        assert b.label == s.label
        assert b.probabilities["PNEUMONIA"] == pytest.approx(s.probabilities["PNEUMONIA"], abs=1e-6)


def test_a_verdict_follows_the_threshold(classifier):
    below, above = classifier.verdict(classifier.threshold - 1e-6), classifier.verdict(classifier.threshold)
    assert (below.label, above.label) == ("NORMAL", "PNEUMONIA")
    assert sum(above.probabilities.values()) == pytest.approx(1.0)
    assert "xraynet" in above.model and above.threshold == classifier.threshold


def test_any_image_size_is_accepted(classifier):
    wide = XRay(pixels=np.random.default_rng(0).random((300, 900), dtype=np.float32), name="w.png",
                source_format="PNG", original_mode="L 8-bit")  # fmt: skip
    (prediction,) = classifier.predict([wide])
    assert 0.0 <= prediction.probabilities["PNEUMONIA"] <= 1.0
    assert classifier.predict([]) == []


def test_a_model_with_a_borderline_band_says_review_near_its_threshold(quick_model, tmp_path):
    from core.classify.calibration import logit
    from core.classify.checkpoint import load_model, save_checkpoint

    model, meta = load_model(quick_model)
    banded = Classifier(save_checkpoint(tmp_path / "banded.pt", model=model, meta=meta.with_(borderline=0.5)))
    low, high = banded.band
    threshold = banded.threshold
    assert low < threshold < high
    assert logit(high) - logit(threshold) == pytest.approx(0.5) and logit(threshold) - logit(low) == pytest.approx(0.5)

    leaning = banded.verdict((threshold + high) / 2)
    assert leaning.borderline and leaning.label == "PNEUMONIA"
    assert leaning.reading == "borderline: review (leans PNEUMONIA)"
    text = leaning.explanation()
    assert f"{threshold:.3f}" in text and f"{low:.3f}–{high:.3f}" in text and "leans PNEUMONIA" in text
    assert "set on validation data" in text  # what the threshold is for
    clear = banded.verdict(min(1.0, high + 0.01))
    assert not clear.borderline and clear.reading == "PNEUMONIA"
    assert f"≥ threshold {threshold:.3f}: PNEUMONIA" in clear.explanation()
    assert "borderline: review" in banded.rule() and f"{low:.3f}" in banded.rule()

    plain = Classifier(save_checkpoint(tmp_path / "plain.pt", model=model, meta=meta.with_(borderline=0.0)))
    assert plain.band is None and not plain.verdict(plain.threshold).borderline
    assert "borderline" not in plain.rule()


def test_the_threshold_says_what_it_was_chosen_for(classifier):
    figures = classifier.meta.validation
    purpose = classifier.threshold_purpose
    assert purpose.startswith("set on validation data for the best sum of sensitivity and specificity")
    assert f"{100 * figures['sensitivity']:.1f} % sensitivity" in purpose
