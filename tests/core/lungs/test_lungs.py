"""The lung U-Net: masks on real films above a floor, right and left apart, the command line, and the measures
that use lungs (heat inside them, the Hausdorff distance)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.__main__ import main
from core.errors import ModelError
from core.export.heatmap import describe_heat_in_lungs, draw_outline, heat_inside
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
    # a right lung in two pieces beside a smaller left lung: all three kept, each on its side
    upper, lower, small_left = _disc(shape, (30, 25), 12), _disc(shape, (70, 25), 12), _disc(shape, (50, 75), 10)
    right, left = split_sides(upper | lower | small_left)
    assert np.array_equal(right, upper | lower) and np.array_equal(left, small_left)
    # a joined pair and a third large piece: the pair is still cut, the piece goes to its side
    right, left = split_sides(joined | _disc(shape, (88, 80), 11))
    assert right[:, :40].sum() == joined[:, :40].sum() and left[85:91, 77:83].all()


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
    assert "suspect" in describe_heat_in_lungs(0.3, "PNEUMONIA", 0.35)  # no more on the lungs than a flat map
    assert "suspect" not in describe_heat_in_lungs(0.3, "NORMAL", 0.35)
    assert describe_heat_in_lungs(0.72, "PNEUMONIA", 0.3) == (
        "Heat inside the lungs: 72 % of the map, on lungs that cover 30 % of the image."
    )


def test_outlines_and_sides_are_drawn():
    grey = np.full((100, 120), 0.5, np.float32)
    mask = _disc((100, 120), (50, 60), 30)
    drawn = draw_outline(grey, mask)
    assert drawn.shape == (100, 120, 3) and (drawn.min(axis=2) > 180).sum() > 100  # a white ring (anti-aliased)
    assert np.array_equal(draw_outline(grey, None), draw_outline(grey, np.zeros_like(mask)))


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


def test_only_train_ok_rows_train_and_the_evaluation_rows_split_by_the_fixed_rule(tmp_path):
    import csv
    import hashlib

    from core.errors import InputError

    names = [f"film{i}.jpeg" for i in range(40)]
    rows = [{"image": name, "mask": name.replace(".jpeg", ".png"), "view": "PA",
             "use": "train-ok" if i < 10 else "evaluation-only"} for i, name in enumerate(names)]  # fmt: skip
    with (tmp_path / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    parts = {pair.name: pair.part for pair in real_pairs(tmp_path)}
    assert {name for name, part in parts.items() if part == "train"} == set(names[:10])
    for name in names[10:]:
        expected = "validation" if hashlib.sha256(name.encode()).hexdigest()[0] in "01234567" else "test"
        assert parts[name] == expected
    rows[0]["use"] = "research-only"
    with (tmp_path / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(InputError, match="Unknown use 'research-only'"):
        real_pairs(tmp_path)


def test_lungs_are_an_extra_the_verdict_never_waits_for(tmp_path, fullres_paths):
    from core.diagnose import Diagnoser
    from core.errors import InputError
    from core.io import read_xray_file

    (tmp_path / "broken.pt").write_bytes(b"not a model")
    broken = Diagnoser(lung_model=tmp_path / "broken.pt")
    assert broken.segmenter is None and "not a readable lung model" in broken.lung_problem
    diagnosis = broken.diagnose(read_xray_file(fullres_paths[0]), faithfulness=False)
    assert diagnosis.lungs is None and diagnosis.heat_in_lungs is None and diagnosis.prediction.label
    assert Diagnoser(lung_model=None).lung_problem is None
    with pytest.raises(InputError, match="not finite"):
        LungSegmenter().find(np.full((64, 64), np.nan, np.float32))


def test_segment_never_overwrites_a_mask_it_wrote(fullres_paths, tmp_path, capsys):
    twin = tmp_path / "other" / fullres_paths[0].name
    twin.parent.mkdir()
    twin.write_bytes(fullres_paths[0].read_bytes())
    code = main(["segment", str(fullres_paths[0]), str(twin), "--out", str(tmp_path / "masks"), "--json"])
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert code == 1 and "mask" in first and "already written" in second["error"]
