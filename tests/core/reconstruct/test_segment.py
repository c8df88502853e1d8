"""Lungs in the real CT, in its reconstructions and in its simulated radiographs."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.reconstruct.hull import silhouettes
from core.reconstruct.metrics import dice
from core.reconstruct.projection import parallel_beam
from core.reconstruct.segment import lungs_in_radiograph, lungs_in_volume
from core.reconstruct.single_view import inflate_frontal_mask
from core.reconstruct.tomography import fbp


def test_lungs_found_in_the_ct_match_its_labels(ct_64):
    mu, lungs = ct_64
    assert dice(lungs_in_volume(mu).data, lungs.data) > 0.93


def test_lungs_found_in_a_reconstruction_from_many_views(ct_64):
    mu, lungs = ct_64
    reconstruction = fbp(parallel_beam(mu, np.linspace(0, 180, 60, endpoint=False)))
    assert dice(lungs_in_volume(reconstruction).data, lungs.data) > 0.9


def test_lung_fields_in_a_simulated_frontal_radiograph(ct_64):
    mu, lungs = ct_64
    frontal = parallel_beam(mu, [0])
    found = lungs_in_radiograph(frontal.images[0])
    truth = silhouettes(lungs, [0]).images[0] > 0.5
    # The visible lung fields: the silhouette also covers lung hidden behind the heart and the diaphragm.
    assert (found & ~truth).sum() < 0.15 * found.sum()
    assert dice(found, truth) > 0.5
    # Two lungs, one each side of the midline.
    columns = np.nonzero(found)[1]
    assert columns.min() < 24 and columns.max() > 40


def test_segmenting_nothing_is_refused_or_empty():
    with pytest.raises(InputError, match="uniform"):
        lungs_in_radiograph(np.ones((64, 64)))
    with pytest.raises(InputError, match="2D image"):
        lungs_in_radiograph(np.ones((8, 8)))


def test_the_single_view_approximation_keeps_the_frontal_outline(ct_64):
    mu, lungs = ct_64
    outline = silhouettes(lungs, [0]).images[0] > 0.5
    volume = inflate_frontal_mask(outline, pixel_mm=(mu.spacing_mm[0], mu.spacing_mm[2]), shape=mu.shape,
                                  spacing_mm=mu.spacing_mm)  # fmt: skip
    assert (volume.data.any(axis=1) == outline).all()  # seen from the front, exactly the mask
    assert 0.4 < dice(volume.data, lungs.data) < 0.9  # a guess at depth: plausible, not exact
    with pytest.raises(InputError, match="empty"):
        inflate_frontal_mask(np.zeros_like(outline), pixel_mm=(1, 1), shape=mu.shape, spacing_mm=mu.spacing_mm)
