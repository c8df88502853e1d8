"""Temperature scaling and the decision threshold."""

from __future__ import annotations

import numpy as np
import pytest

from core.classify.calibration import choose_threshold, fit_temperature, sigmoid
from core.classify.metrics import binary_metrics, expected_calibration_error
from core.errors import InputError


def test_fit_temperature_recovers_a_known_overconfidence():
    # Labels drawn from sigmoid(z / 3), then the model reports z: three times too sure. T must come out near 3.
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 6, 20_000)
    labels = (rng.random(20_000) < sigmoid(logits / 3.0)).astype(int)
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(3.0, rel=0.05)  # maximum likelihood on 20 000 draws: a few % off at most
    before = expected_calibration_error(labels, sigmoid(logits))
    after = expected_calibration_error(labels, sigmoid(logits / temperature))
    assert after < 0.3 * before


def test_temperature_does_not_change_the_ranking():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, 300)
    labels = (rng.random(300) < sigmoid(logits)).astype(int)
    t = fit_temperature(logits, labels)
    auc = binary_metrics(labels, sigmoid(logits), threshold=0.5)["auc"]
    assert binary_metrics(labels, sigmoid(logits / t), threshold=0.5)["auc"] == pytest.approx(auc)


def test_youden_threshold_separates_separable_classes_halfway():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    assert choose_threshold(labels, probs) == pytest.approx(0.45)  # halfway between 0.3 and 0.6


def test_youden_threshold_maximises_sensitivity_plus_specificity():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 400)
    probs = np.clip(0.35 * labels + 0.65 * rng.random(400), 0, 1)
    chosen = choose_threshold(labels, probs)

    def j(threshold):
        f = binary_metrics(labels, probs, threshold=threshold)
        return f["sensitivity"] + f["specificity"] - 1

    assert j(chosen) >= max(j(t) for t in np.linspace(0, 1, 201)) - 1e-12


def test_target_sensitivity_is_reached_with_the_highest_such_threshold():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    probs = np.array([0.9, 0.8, 0.4, 0.2, 0.5, 0.3, 0.1, 0.05])
    threshold = choose_threshold(labels, probs, target_sensitivity=0.75)
    assert binary_metrics(labels, probs, threshold=threshold)["sensitivity"] >= 0.75
    assert threshold == pytest.approx((0.4 + 0.3) / 2)  # keeps 0.4 positive, the next score (0.3) is not


def test_one_class_cannot_be_calibrated():
    with pytest.raises(InputError, match="both classes"):
        fit_temperature(np.array([1.0, 2.0]), np.array([1, 1]))
    with pytest.raises(InputError, match="both classes"):
        choose_threshold(np.array([0, 0]), np.array([0.1, 0.2]))
