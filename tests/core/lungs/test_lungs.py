"""The lung U-Net: masks on real films above a floor, right and left apart, the command line, and the measures
that use lungs (heat inside them, the Hausdorff distance)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.__main__ import main
from core.errors import ModelError
from core.export.heatmap import describe_heat_in_lungs, draw_outline, heat_inside, lungs_overlay
from core.lungs.data import HELD_OUT_CT, real_pairs, simulated_pairs
from core.lungs.model import DEFAULT_LUNG_MODEL, load_lung_model
from core.lungs.segment import LungSegmenter, split_sides
from core.reconstruct.metrics import dice, hausdorff95


def _disc(shape, centre, radius):
    rows, columns = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 <= radius**2


def test_two_lungs_are_told_apart_by_side_and_a_joined_pair_is_cut_where_thinnest():
    shape = (100, 100)
    image_left, image_right = _disc(shape, (50, 25), 15), _disc(shape, (50, 75), 15)
    right, left = split_sides(image_left | image_right | _disc(shape, (5, 50), 1))  # a speck is left out
    assert np.array_equal(right, image_left) and np.array_equal(left, image_right)  # the patient's right: image left
    joined = image_left | image_right
    joined[48:52, 25:75] = True  # a bridge behind the heart
    right, left = split_sides(joined)
    assert right.any() and left.any() and not (right & left).any() and np.array_equal(right | left, joined)
    assert right[:, 60:].sum() == 0 and left[:, :40].sum() == 0
    assert not any(side.any() for side in split_sides(np.zeros(shape, bool)))


def test_the_hausdorff_distance_measures_the_outlines_offset():
    a = np.zeros((60, 60), bool)
    a[10:40, 10:40] = True
    b = np.roll(a, 3, axis=1)
    assert hausdorff95(a, a) == 0.0 and hausdorff95(a, b) == pytest.approx(3.0)
    assert hausdorff95(a, np.zeros_like(a)) is None


def test_the_heat_inside_the_lungs_is_one_all_inside_and_zero_all_outside():
    lungs = np.zeros((200, 300), bool)
    lungs[40:160, 30:270] = True
    inside, outside = np.zeros((224, 224)), np.zeros((224, 224))
    inside[80:120, 60:160] = 1.0  # the map is on the model's square input: the mask is stretched to it
    outside[:20, :] = 1.0
    assert heat_inside(inside, lungs) == pytest.approx(1.0) and heat_inside(outside, lungs) == pytest.approx(0.0)
    assert heat_inside(np.zeros((224, 224)), lungs) is None
    assert "suspect" in describe_heat_in_lungs(0.2, "PNEUMONIA") and "suspect" not in describe_heat_in_lungs(
        0.2, "NORMAL"
    )
    assert describe_heat_in_lungs(0.72, "PNEUMONIA") == "Heat inside the lungs: 72 % of the map."


def test_outlines_and_sides_are_drawn():
    grey = np.full((100, 120), 0.5, np.float32)
    mask = _disc((100, 120), (50, 60), 30)
    drawn = draw_outline(grey, mask)
    assert drawn.shape == (100, 120, 3) and (drawn.min(axis=2) > 180).sum() > 100  # a white ring (anti-aliased)
    assert np.array_equal(draw_outline(grey, None), draw_outline(grey, np.zeros_like(mask)))
    sides = lungs_overlay(grey, _disc((100, 120), (50, 30), 15), _disc((100, 120), (50, 90), 15))
    assert sides[50, 30, 2] > sides[50, 30, 0] and sides[50, 90, 0] > sides[50, 90, 2]  # blue right, orange left


@pytest.fixture(scope="module")
def segmenter() -> LungSegmenter:
    if not DEFAULT_LUNG_MODEL.is_file():
        pytest.fail("the shipped lung model core/data/models/lungs.pt is missing")
    return LungSegmenter()


def test_the_shipped_model_is_small_and_says_how_it_was_made(segmenter):
    assert DEFAULT_LUNG_MODEL.stat().st_size <= 10 * 1024 * 1024
    meta = segmenter.meta
    assert meta["recipe"]["held_out_ct"] == HELD_OUT_CT and meta["data"]["real"] == 89
    assert meta["training_seconds"] > 0 and meta["hardware"]


def test_a_foreign_file_is_refused_with_a_sentence(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable lung model"):
        load_lung_model(tmp_path / "x.pt")
    with pytest.raises(ModelError, match="No lung model at"):
        load_lung_model(tmp_path / "none.pt")


def test_masks_of_evaluation_films_overlap_the_drawn_ones(segmenter, shared_data):
    from core.io import read_xray_file

    pairs = [p for p in real_pairs(shared_data / "cxr_lung_masks") if p.part == "validation" and p.view == "PA"][:6]
    scores = []
    for pair in pairs:
        pixels = read_xray_file(pair.image).pixels
        found = segmenter.segment(pixels)
        truth = cv2.imread(str(pair.mask), cv2.IMREAD_GRAYSCALE) > 127
        assert found.lungs.shape == pixels.shape and found.right.any() and found.left.any()
        scores.append(dice(found.lungs, truth))
    assert np.median(scores) >= 0.88


def test_a_simulated_lateral_of_the_held_out_ct_is_found(segmenter, shared_data):
    images, masks = simulated_pairs(shared_data, HELD_OUT_CT, (90.0,), size=256)
    assert dice(segmenter.find(images[0] * 7.0, 90.0), masks[0] >= 0.5) >= 0.8  # any range: scaled first


def test_segment_writes_masks_at_the_inputs_size_and_answers_a_bad_file(fullres_paths, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    code = main(["segment", str(fullres_paths[0]), str(bad), "--out", str(tmp_path / "masks"), "--json"])
    assert code == 1
    good, refused = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    mask = cv2.imread(good["mask"], cv2.IMREAD_UNCHANGED)
    assert good["mask"].endswith(f"{fullres_paths[0].stem}.png") and list(mask.shape) == good["size"]
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert 0.1 < good["lung_area_share"] < 0.6 and good["right_found"] and good["left_found"]
    assert refused["file"] == str(bad) and "error" in refused and "Traceback" not in refused["error"]
