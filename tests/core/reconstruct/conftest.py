"""Phantoms with known answers, and the real CT (skipped with a reason where ../shared is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from core.types import Volume


def ball(side: int = 48, *, radius_mm: float = 15.0, spacing_mm: float = 1.5, mu: float = 0.02) -> Volume:
    """A uniform ball of attenuation ``mu`` centred in a ``side³`` grid."""
    centre = side // 2  # on the rotation axis (core.reconstruct.volume.axis_centre)
    z, y, x = np.mgrid[:side, :side, :side]
    inside = ((z - centre) ** 2 + (y - centre) ** 2 + (x - centre) ** 2) * spacing_mm**2 <= radius_mm**2
    return Volume(data=(inside * mu).astype(np.float32), spacing_mm=(spacing_mm,) * 3, unit="1/mm")


@pytest.fixture(scope="session")
def ct_dir(shared_data):
    return shared_data / "chest_ct"


@pytest.fixture(scope="session")
def ct_64(ct_dir):
    """The real CT's attenuation and lung mask, axial slices at 64 × 64."""
    from core.io import read_volume
    from core.reconstruct.volume import attenuation, label_mask, resample_to

    mu = resample_to(attenuation(read_volume(ct_dir / "cxr.nii.gz")), side=64)
    lungs = resample_to(label_mask(read_volume(ct_dir / "mask.nii.gz", unit="label")), side=64)
    return mu, lungs
