"""What the image viewer is given: full-resolution grey levels that unpack to the image, the spacing (rescaled for a
resized image), orientation letters from DICOM, overlays, and a signature that changes with what is shown."""

from __future__ import annotations

import base64
import zlib

import numpy as np
import pytest

from core.export.viewer import grey_levels, orientation_marks, outline_rings, viewer_args, viewer_pane
from core.io import read_xray
from tests.helpers import encode, make_dicom


def _unpack(text: str, dtype) -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=dtype)


def test_a_dicom_pane_keeps_every_pixel_its_spacing_and_orientation():
    stored = np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (80, 1))  # 80 × 100
    xray = read_xray(make_dicom(stored, tags={"PatientOrientation": ["L", "F"]}), name="ruler.dcm")
    pane = viewer_pane(xray, title="ruler")
    assert (pane["width"], pane["height"], pane["max"]) == (100, 80, 4095) and pane["spacing"] == [0.15, 0.15]
    levels = _unpack(pane["pixels"], "<u2").reshape(80, 100)
    assert np.array_equal(levels, np.rint(xray.pixels * 4095).astype(np.uint16))  # full resolution, every level
    assert pane["orientation"] == {"right": "L", "left": "R", "bottom": "F", "top": "H"}
    half = viewer_pane(xray, title="half", pixels=xray.pixels[::2, ::2])
    assert half["spacing"] == [0.3, 0.3]  # a resized image: the same millimetres over fewer pixels


def test_an_8_bit_file_has_no_spacing_nor_orientation_and_overlays_come_along():
    xray = read_xray(encode(np.full((64, 96), 128, np.uint8)), name="plain.png")
    assert grey_levels(xray) == 255 and orientation_marks(xray) is None
    lungs = np.zeros((32, 32), bool)
    lungs[8:24, 4:12] = True
    pane = viewer_pane(xray, title="plain", heat=np.full((16, 16), np.nan, np.float32), lungs=lungs)
    assert pane["spacing"] is None and pane["orientation"] is None
    assert (_unpack(pane["heat"]["data"], np.uint8) == 0).all()  # NaN heat shows as none, never as NaN
    [group] = pane["outline"]
    assert group["colour"] == "#ffffff"
    [ring] = group["rings"]
    xs, ys = zip(*ring, strict=True)
    assert min(xs) == pytest.approx(4 * 3, abs=2) and max(ys) == pytest.approx(24 * 2, abs=2)  # in image pixels
    assert viewer_pane(xray, title="plain", lungs=np.zeros((8, 8), bool))["outline"] is None


def test_right_and_left_lungs_are_outlined_in_their_colours():
    xray = read_xray(encode(np.full((64, 64), 100, np.uint8)), name="a.png")
    right, left = np.zeros((64, 64), bool), np.zeros((64, 64), bool)
    right[10:50, 5:25], left[10:50, 40:60] = True, True
    groups = viewer_pane(xray, title="a", sides=(right, left))["outline"]
    assert [g["colour"] for g in groups] == ["#0072b2", "#e69f00"]  # Okabe-Ito blue (right), orange (left)
    assert viewer_pane(xray, title="a", sides=(right, np.zeros_like(left)))["outline"][0]["colour"] == "#0072b2"


def test_oblique_orientation_letters_are_mirrored_letter_by_letter():
    xray = read_xray(make_dicom(np.zeros((64, 64), np.uint16), tags={"PatientOrientation": ["LP", "FA"]}),
                     name="oblique.dcm")  # fmt: skip
    assert orientation_marks(xray) == {"right": "LP", "left": "RA", "bottom": "FA", "top": "HP"}


def test_the_signature_changes_with_the_images_and_the_colour_scale_not_with_the_settings():
    xray = read_xray(encode(np.full((64, 64), 100, np.uint8)), name="a.png")
    panes = [viewer_pane(xray, title="a")]
    first = viewer_args(panes, outline=True, opacity=0.3)
    assert first["signature"] == viewer_args(panes, outline=False, opacity=0.9)["signature"]  # the view is kept
    assert first["signature"] != viewer_args(panes, colourmap="viridis")["signature"]
    assert first["signature"] != viewer_args([viewer_pane(xray, title="b")])["signature"]
    assert len(first["lut"]) == 256 and first["lut"][0][3] == 0  # the colour scale, clear at 0


def test_outline_rings_are_closed_polygons_in_image_coordinates():
    mask = np.zeros((10, 10), bool)
    mask[2:8, 3:6] = True
    [ring] = outline_rings(mask, (100, 100))
    assert len(ring) >= 4 and all(0 <= x <= 100 and 0 <= y <= 100 for x, y in ring)
