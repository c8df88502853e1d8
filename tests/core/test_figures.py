"""The 3D intensity surface."""

import numpy as np
import pytest

from core.errors import InputError
from core.export.figures import downsample_for_surface, intensity_surface
from tests.helpers import ramp


def test_downsampling_caps_the_long_side_and_keeps_aspect(real_xray):
    small = downsample_for_surface(real_xray.pixels, max_side=100)
    assert max(small.shape) == 100
    height, width = real_xray.shape
    assert small.shape[1] / small.shape[0] == pytest.approx(width / height, rel=0.02)
    assert small.mean() == pytest.approx(real_xray.pixels.mean(), abs=0.01)  # area averaging keeps the mean


def test_small_images_are_not_enlarged():
    assert downsample_for_surface(ramp(40, 60), max_side=100).shape == (40, 60)


def test_surface_heights_are_intensities_over_image_coordinates(real_xray):
    figure = intensity_surface(real_xray.pixels, max_side=64, colorscale="Gray", title="t")
    surface = figure.data[0]
    z = np.asarray(surface.z)
    assert max(z.shape) == 64
    assert surface.x[-1] == real_xray.shape[1] - 1 and surface.y[-1] == real_xray.shape[0] - 1
    assert 0.0 <= z.min() and z.max() <= 1.0
    assert figure.layout.scene.yaxis.autorange == "reversed"  # row 0 at the back, as in the image


def test_too_coarse_a_surface_is_refused():
    with pytest.raises(InputError, match="at least 8"):
        downsample_for_surface(ramp(), max_side=4)
