"""Tomography round trips: Shepp–Logan through radon and back, with bounded error."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.data import shepp_logan_phantom
from skimage.transform import resize

from core.errors import InputError
from core.reconstruct.metrics import psnr
from core.reconstruct.projection import cone_beam, parallel_beam
from core.reconstruct.tomography import fbp, sart
from core.types import Volume
from tests.core.reconstruct.conftest import ball


@pytest.fixture(scope="module")
def phantom() -> Volume:
    """Three slices of the Shepp–Logan phantom at 96 × 96, attenuation up to 0.02 /mm, 2 mm voxels."""
    image = resize(shepp_logan_phantom(), (96, 96), anti_aliasing=True) * 0.02
    return Volume(data=np.stack([image] * 3).astype(np.float32), spacing_mm=(2.0, 2.0, 2.0), unit="1/mm")


def _relative_error(truth: np.ndarray, estimate: np.ndarray) -> float:
    inside = truth > 0
    return float(np.abs(estimate - truth)[inside].mean() / truth[inside].mean())


def test_fbp_with_many_views_recovers_shepp_logan(phantom):
    result = fbp(parallel_beam(phantom, np.linspace(0, 180, 180, endpoint=False)))
    assert result.shape == phantom.shape and result.unit == "1/mm" and result.spacing_mm == phantom.spacing_mm
    # 180 views of a 96-px phantom: mean error inside the head below 10 % (edges and ringing account for most).
    assert _relative_error(phantom.data, result.data) < 0.10
    assert psnr(phantom.data, result.data) > 25


def test_sart_beats_fbp_with_few_views(phantom):
    views = parallel_beam(phantom, np.linspace(0, 180, 8, endpoint=False))
    done: list[float] = []
    assert (
        psnr(phantom.data, sart(views, iterations=2, progress=done.append).data)
        > psnr(phantom.data, fbp(views).data) + 2
    )
    assert len(done) == phantom.shape[0] and done == sorted(done) and done[-1] == 1.0  # a share per slice


def test_more_views_give_a_better_reconstruction(phantom):
    errors = [_relative_error(phantom.data, fbp(parallel_beam(phantom, np.linspace(0, 180, n, endpoint=False))).data)
              for n in (8, 30, 90)]  # fmt: skip
    assert errors[0] > errors[1] > errors[2]


def test_tomography_refuses_what_it_cannot_do():
    phantom = ball(24, radius_mm=8, spacing_mm=1.0)
    with pytest.raises(InputError, match="at least 2 views"):
        fbp(parallel_beam(phantom, [0]))
    with pytest.raises(InputError, match="parallel-beam"):
        fbp(cone_beam(phantom, [0, 90], source_to_axis_mm=100, source_to_detector_mm=150))
    with pytest.raises(InputError, match="Unknown filter"):
        fbp(parallel_beam(phantom, [0, 90]), filter_name="butterworth")
