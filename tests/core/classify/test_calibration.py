"""Temperature scaling and the decision threshold."""

from __future__ import annotations

import numpy as np
import pytest

from core.classify.calibration import (
    BAND_ACCURACY,
    BAND_MINIMUM_IMAGES,
    band_edges,
    choose_band,
    choose_threshold,
    fit_temperature,
    in_band,
    logit,
    sigmoid,
)
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


def _scores_at(distances: np.ndarray, threshold: float) -> np.ndarray:
    """Probabilities at these signed log-odds distances from the threshold."""
    return sigmoid(logit(threshold) + distances)


def test_band_holds_the_images_near_the_threshold_that_are_mostly_misclassified():
    threshold = 0.3
    # 12 images within 0.05..0.6 log-odds: half of them wrong; beyond 1.0 log-odds: all right
    near = np.linspace(0.05, 0.6, 12) * np.where(np.arange(12) % 2, 1, -1)
    far = np.concatenate([np.linspace(1.0, 4.0, 40), -np.linspace(1.0, 4.0, 40)])
    distances = np.concatenate([near, far])
    labels = (distances >= 0).astype(int)
    labels[:12:2] = 1 - labels[:12:2]  # every other near image is on the wrong side
    band = choose_band(labels, _scores_at(distances, threshold), threshold)
    # the band closes between the 12th image (0.6, accuracy 50 %) and the first of the far ones (1.0)...
    inside = np.abs(distances) < band
    assert inside.sum() >= BAND_MINIMUM_IMAGES
    assert ((distances[inside] >= 0) == labels[inside].astype(bool)).mean() < BAND_ACCURACY
    # ...at the largest such distance: one image more and the accuracy reaches 80 %
    assert 0.6 < band < 4.0
    low, high = band_edges(threshold, band)
    assert low < threshold < high
    assert in_band(threshold, threshold, band) and in_band(high - 1e-9, threshold, band)
    assert not in_band(high + 1e-6, threshold, band) and not in_band(low - 1e-6, threshold, band)


def test_no_band_when_even_the_nearest_images_are_classified_well():
    threshold = 0.5
    distances = np.concatenate([np.linspace(0.01, 3, 50), -np.linspace(0.01, 3, 50)])
    labels = (distances >= 0).astype(int)
    labels[0] = 0  # one error among the nearest ten: 90 % >= 80 %
    assert choose_band(labels, _scores_at(distances, threshold), threshold) == 0.0
    assert not in_band(0.5, 0.5, 0.0)
    assert not in_band(np.array([0.4, 0.5, 0.6]), 0.5, 0.0).any()


def test_a_few_errors_on_the_threshold_do_not_make_a_band():
    """Fewer than the minimum count of images cannot open a band, however wrong they are."""
    threshold = 0.5
    distances = np.concatenate([[0.01, -0.02, 0.03], np.linspace(1, 3, 30), -np.linspace(1, 3, 30)])
    labels = (distances >= 0).astype(int)
    labels[:3] = 1 - labels[:3]  # the three nearest are all wrong: 3 wrong of the nearest 10 is 70 %...
    band = choose_band(labels, _scores_at(distances, threshold), threshold)
    inside = np.abs(distances) < band
    # ...so the band holds those 10 and more, up to where accuracy reaches 80 % (3 wrong of 15)
    assert BAND_MINIMUM_IMAGES <= inside.sum() < 15


def test_saturated_scores_and_a_chance_threshold_give_a_finite_band():
    """Scores of exactly 0 or 1 (log-odds beyond ±37) must not make the band infinite, which no checkpoint stores."""
    from core.classify.calibration import BAND_WIDEST

    threshold = 0.5
    near = _scores_at(np.linspace(-0.5, 0.5, 40), threshold)
    labels = np.r_[np.arange(40) % 10 < 7, np.ones(20, dtype=bool)].astype(int)  # 70 % right near, then sure ones
    near_labels = (near >= threshold).astype(int)
    labels[:40] = np.where(np.arange(40) % 10 < 7, near_labels, 1 - near_labels)
    band = choose_band(labels, np.r_[near, np.ones(20)], threshold)
    assert np.isfinite(band) and 0.5 < band <= BAND_WIDEST
    everything_wrong = np.r_[np.zeros(15), np.ones(15)].astype(int)
    assert choose_band(everything_wrong, np.r_[np.ones(15), np.zeros(15)], threshold) == BAND_WIDEST
    assert choose_band(labels, np.r_[near, np.ones(20)], 1.0) == 0.0  # a threshold no score reaches: no band
