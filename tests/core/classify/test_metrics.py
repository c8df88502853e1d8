"""Reported figures against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from core.classify.metrics import binary_metrics, bootstrap_interval, expected_calibration_error, roc_points
from core.errors import InputError

# 10 images: 6 pneumonia (1), 4 normal (0).
LABELS = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
PROBS = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.2, 0.55, 0.3, 0.2, 0.1])


def test_figures_at_a_threshold_match_hand_counts():
    figures = binary_metrics(LABELS, PROBS, threshold=0.5)
    # Predicted pneumonia: 0.9 0.8 0.7 0.6 (TP=4) and 0.55 (FP=1); missed 0.4 0.2 (FN=2); TN=3.
    assert figures["confusion"] == [[3, 1], [2, 4]]
    assert figures["accuracy"] == pytest.approx(7 / 10)
    assert figures["sensitivity"] == pytest.approx(4 / 6)
    assert figures["specificity"] == pytest.approx(3 / 4)
    assert figures["precision"] == pytest.approx(4 / 5)
    assert figures["f1"] == pytest.approx(2 * 4 / (2 * 4 + 1 + 2))
    # AUC = P(score of a pneumonia > score of a normal), ties count half: of 24 pairs, 4 * 4 + 3 + 1.5 = 20.5.
    assert figures["auc"] == pytest.approx(20.5 / 24)
    assert figures["n"] == 10


def test_the_threshold_is_inclusive():
    assert binary_metrics(np.array([1, 0]), np.array([0.5, 0.49]), threshold=0.5)["accuracy"] == 1.0


def test_undefined_figures_are_none_not_nan():
    figures = binary_metrics(np.array([1, 1]), np.array([0.9, 0.2]), threshold=0.5)
    assert figures["specificity"] is None and figures["auc"] is None


@pytest.mark.parametrize(
    ("labels", "probs", "message"),
    [([1, 0], [0.5], "as many labels"), ([2, 0], [0.5, 0.5], "0 \\(NORMAL\\) or 1"), ([1, 0], [0.5, 1.5], "lie in")],
)
def test_bad_inputs_are_refused(labels, probs, message):
    with pytest.raises(InputError, match=message):
        binary_metrics(np.array(labels), np.array(probs), threshold=0.5)


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_more_data():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    probs = np.clip(labels * 0.3 + rng.random(2000) * 0.7, 0, 1)
    point = binary_metrics(labels, probs, threshold=0.5)
    wide = bootstrap_interval(labels[:200], probs[:200], threshold=0.5, resamples=500)
    narrow = bootstrap_interval(labels, probs, threshold=0.5, resamples=500)
    assert narrow["accuracy"][0] <= point["accuracy"] <= narrow["accuracy"][1]
    assert narrow["auc"][0] <= point["auc"] <= narrow["auc"][1]
    # The interval's width shrinks like 1/sqrt(n): 10x the data, about a third of the width (loose bound).
    assert np.diff(narrow["auc"])[0] < 0.6 * np.diff(wide["auc"])[0]
    assert bootstrap_interval(labels, probs, threshold=0.5, resamples=500) == narrow  # seeded


def test_ece_is_zero_when_confidence_equals_accuracy():
    # Two bins: 0.8 confident (right 4 of 5 times) and 0.6 confident (right 3 of 5 times).
    labels = np.array([1, 1, 1, 1, 0, 1, 1, 1, 0, 0])
    probs = np.array([0.8] * 5 + [0.6] * 5)
    assert expected_calibration_error(labels, probs) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_an_overconfident_model():
    # Always 0.99 sure of pneumonia, right half the time: ECE = |0.5 - 0.99|.
    assert expected_calibration_error(np.array([1, 0] * 5), np.full(10, 0.99)) == pytest.approx(0.49)


def test_roc_points_run_from_0_to_1():
    roc = roc_points(LABELS, PROBS)
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == 1 and max(roc["thresholds"]) <= 1
