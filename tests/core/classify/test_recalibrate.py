"""Recalibrating a model to a site's labelled images (``python -m core recalibrate``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.__main__ import main
from core.classify.card import render_model_card
from core.classify.checkpoint import DEFAULT_MODEL_PATH, read_meta
from core.classify.evaluate import evaluate_model
from core.classify.predict import Classifier
from core.classify.recalibrate import FEWEST_PER_CLASS, recalibrate
from core.errors import InputError


def _site(root, shared_data, counts: dict[str, int], *, split: str = "test"):
    """A site folder of links to the data set's images: the first ``counts[label]`` of each class."""
    site = root / "site"
    for label, n in counts.items():
        (site / label).mkdir(parents=True)
        for path in sorted((shared_data / "chest_xray" / split / label).iterdir())[:n]:
            (site / label / path.name).symlink_to(path)
    return site


def test_the_operating_point_moves_to_the_site_and_the_checkpoint_says_so(shared_data, tmp_path):
    # The test split's normal images score higher than the validation normals the default's threshold was set on
    # (the data set's acquisition shift): refitted on them, the threshold rises; the ranking cannot change.
    site = _site(tmp_path, shared_data, {"NORMAL": 40, "PNEUMONIA": 30})
    out = tmp_path / "site.pt"
    result = recalibrate(DEFAULT_MODEL_PATH, site, out)
    before, after, meta = result.before, result.after, result.meta
    original = read_meta(DEFAULT_MODEL_PATH)
    assert meta.threshold > original.threshold and before["threshold"] == pytest.approx(original.threshold)
    assert after["specificity"] >= before["specificity"] and after["auc"] == pytest.approx(before["auc"])
    assert before["n"] == after["n"] == 70 and {"accuracy", "sensitivity", "specificity", "auc"} <= set(after["ci95"])
    assert len(result.warnings) == 2  # under 100 of each class: accepted, with a warning

    stored = read_meta(out)
    record = stored.recalibration
    assert stored.threshold == meta.threshold and stored.temperature == meta.temperature
    assert record["data"]["counts"] == {"NORMAL": 40, "PNEUMONIA": 30} and len(record["data"]["fingerprint"]) == 16
    assert record["previous"]["threshold"] == original.threshold and record["previous"]["test"] == original.test
    assert record["when"][:4].isdigit() and stored.test is None and stored.validation == after
    assert read_meta(DEFAULT_MODEL_PATH) == original  # the model's own file is untouched

    classifier = Classifier(out)
    assert "recalibrated to 'site'" in classifier.description
    assert classifier.threshold_purpose.startswith("set on the site's images ('site', 70 images)")
    (tmp_path / "test").symlink_to(site)  # evaluate reads it as any model, on a split laid out as the data set's
    figures = evaluate_model(out, tmp_path, split="test")
    card = render_model_card(stored, title="site")
    assert "## Recalibration" in card and "in-sample" in card and "on the site's images 'site'" in card
    assert figures["threshold"] == pytest.approx(meta.threshold) and figures["n"] == 70
    assert figures["accuracy"] == pytest.approx(after["accuracy"])


def test_too_few_images_of_a_class_are_refused_with_a_sentence(shared_data, tmp_path):
    site = _site(tmp_path, shared_data, {"NORMAL": 40, "PNEUMONIA": FEWEST_PER_CLASS - 1})
    with pytest.raises(InputError, match=f"at least {FEWEST_PER_CLASS} images of each class.*19 PNEUMONIA"):
        recalibrate(DEFAULT_MODEL_PATH, site, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()
    with pytest.raises(InputError, match="new file"):
        recalibrate(DEFAULT_MODEL_PATH, site, DEFAULT_MODEL_PATH)


def test_a_site_whose_classes_the_model_does_not_separate_is_refused(shared_data, tmp_path):
    """Labels swapped (or images of another kind): no operating point fixes a ranking at or below chance."""
    swapped = tmp_path / "swapped"
    for label, other in (("NORMAL", "PNEUMONIA"), ("PNEUMONIA", "NORMAL")):
        (swapped / label).mkdir(parents=True)
        for path in sorted((shared_data / "chest_xray" / "test" / other).iterdir())[:25]:
            (swapped / label / path.name).symlink_to(path)
    with pytest.raises(InputError, match="does not separate the site's classes"):
        recalibrate(DEFAULT_MODEL_PATH, swapped, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_the_command_prints_before_and_after_and_writes_the_model(shared_data, tmp_path, capsys):
    site = _site(tmp_path, shared_data, {"NORMAL": 25, "PNEUMONIA": 25})
    out = tmp_path / "cli.pt"
    code = main(["recalibrate", "--model", "default", "--data", str(site), "--out", str(out), "--json",
                 "--target-sensitivity", "0.95"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and out.exists() and "warning:" in captured.err
    answer = json.loads(captured.out)
    assert answer["after"]["sensitivity"] >= 0.95 and np.isfinite(answer["threshold"])
    assert read_meta(out).threshold_rule == "sensitivity >= 0.95"
    assert main(["recalibrate", "--model", "default", "--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "does not exist; expected a folder holding NORMAL/ and PNEUMONIA/" in capsys.readouterr().err
