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
