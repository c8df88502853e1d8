"""The lung-shape prior of the two-view hull: what it learns, that it stays inside the hull, that it beats the
ellipse on the CT it never saw, and that a broken file is refused with a sentence."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.reconstruct.hull import elliptic_hull, silhouettes
from core.reconstruct.metrics import dice
from core.reconstruct.prior import BANDS, GRID, ShapePrior, ct_hulls, fit_shape_prior, prior_hull, prior_hull_of
from core.types import Volume


def _two_boxes(medial_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """A hull of two box-shaped 'lungs' either side of the middle and lungs that fill only the lateral half of each
    box (as if a heart took the medial half)."""
    hull = np.zeros((12, 40, 40), dtype=bool)
    hull[:, 10:30, 4 : 20 - medial_gap] = True
    hull[:, 10:30, 20 + medial_gap : 36] = True
    lungs = np.zeros_like(hull)
    lungs[:, 10:30, 4:12] = True  # lateral half on the left
    lungs[:, 10:30, 28:36] = True  # and on the right
    return hull, lungs


def test_it_learns_which_side_is_medial_on_both_lungs():
    hull, lungs = _two_boxes(medial_gap=2)
    prior = fit_shape_prior([("boxes", hull, lungs)])
    assert prior.share.shape == (BANDS, GRID, GRID) and prior.fitted_on == ("boxes",)
    assert prior.share[:, :, :8].mean() > 0.9 and prior.share[:, :, -8:].mean() < 0.1  # lateral full, medial empty
    filled = prior_hull_of(hull, prior)
    assert dice(filled, lungs) > 0.95 and not (filled & ~hull).any()  # both sides, mirrored, never outside the hull


def test_it_is_saved_and_read_back_and_a_broken_file_is_a_sentence(tmp_path):
    hull, lungs = _two_boxes(medial_gap=2)
    prior = fit_shape_prior([("boxes", hull, lungs)])
    prior.save(tmp_path / "prior.npz")
    again = ShapePrior.load(tmp_path / "prior.npz")
    assert again.threshold == pytest.approx(prior.threshold) and again.fitted_on == ("boxes",)
    np.testing.assert_allclose(again.share, prior.share, atol=1e-3)  # stored as float16
    (tmp_path / "broken.npz").write_bytes(b"not a prior")
    with pytest.raises(InputError, match=r"not a readable lung-shape prior.*fit-shape-prior"):
        ShapePrior.load(tmp_path / "broken.npz")
    np.savez(tmp_path / "other.npz", share=np.zeros((2, 8, 8)), threshold=0.5, fitted_on=np.array(["x"]))
    with pytest.raises(InputError, match="another layout"):
        ShapePrior.load(tmp_path / "other.npz")


def test_the_shipped_prior_beats_the_ellipse_on_the_ct_it_never_saw(shared_data):
    from core.lungs.data import HELD_OUT_CT, load_ct_case

    prior = ShapePrior.load()
    assert HELD_OUT_CT not in prior.fitted_on and len(prior.fitted_on) == 3
    mu, lungs = load_ct_case(shared_data, HELD_OUT_CT, side=96)
    views = silhouettes(lungs, np.array([0.0, 90.0]))
    ours = prior_hull(views, shape=mu.shape, spacing_mm=mu.spacing_mm).data
    ellipse = elliptic_hull(views, shape=mu.shape, spacing_mm=mu.spacing_mm).data
    assert dice(ours, lungs.data) >= 0.75 and dice(ours, lungs.data) > dice(ellipse, lungs.data)
    [(_, hull, truth)] = ct_hulls(shared_data, [HELD_OUT_CT], side=96)  # the fitting path gives the same hull
    np.testing.assert_array_equal(prior_hull_of(hull, prior), ours)
    assert np.array_equal(truth, lungs.data) and isinstance(mu, Volume)
