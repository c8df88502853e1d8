"""The out-of-distribution score: unfamiliar images score higher, the threshold comes from validation only, and the
reference travels with the model."""

from __future__ import annotations

import json
import threading
from functools import partial

import numpy as np
import pytest
import torch

from core.__main__ import main
from core.classify.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint, load_model, read_meta, save_checkpoint
from core.classify.data import load_images
from core.classify.ood import (
    FLAGGED_SHARE,
    FeatureTap,
    bank_indices,
    extract_features,
    fit_ood,
    knn_distance,
    ood_threshold,
)
from core.classify.recalibrate import recalibrate
from core.classify.train import model_splits
from core.classify.transforms import model_input
from core.diagnose import Diagnoser
from core.errors import InputError, ModelError
from core.io import read_volume, read_xray_file
from core.reconstruct.volume import display_slice
from core.types import UNFAMILIAR, XRay, pixels_to_uint8


def _xray(pixels: np.ndarray, name: str) -> XRay:
    return XRay(pixels=np.asarray(pixels, dtype=np.float32), name=name, source_format="PNG", original_mode="L")


def test_the_distance_is_to_the_kth_nearest_reference_averaged_over_members():
    bank = torch.eye(4).unsqueeze(0)  # four orthogonal unit vectors
    features = torch.tensor([[[2.0, 0, 0, 0], [1.0, 1.0, 0, 0]]])  # one on a reference, one between two
    np.testing.assert_allclose(knn_distance(features, bank, 1), [0.0, 1 - 2**-0.5], atol=1e-6)
    np.testing.assert_allclose(knn_distance(features, bank, 2), [1.0, 1 - 2**-0.5], atol=1e-6)
    two = torch.cat([bank, -bank])  # a second member whose nearest reference is orthogonal to both images
    np.testing.assert_allclose(knn_distance(features.expand(2, -1, -1), two, 1), [0.5, (1 - 2**-0.5 + 1) / 2],
                               atol=1e-6)  # fmt: skip


def test_the_bank_is_a_seeded_choice_of_training_images():
    assert list(bank_indices(5, size=10)) == [0, 1, 2, 3, 4]
    chosen = bank_indices(5000, size=1000, seed=3)
    assert len(set(chosen)) == 1000 and list(chosen) == sorted(chosen)
    assert list(chosen) == list(bank_indices(5000, size=1000, seed=3))


def test_the_tap_records_the_first_pass_of_its_own_thread_only(quick_model):
    model, _ = load_model(quick_model)
    tap = FeatureTap(model)
    images = torch.rand(3, 1, 64, 64)
    seen: dict[str, list] = {}

    def other() -> None:
        with tap.recording() as sink:
            model(torch.rand(5, 1, 64, 64))
        seen["other"] = sink

    with torch.inference_mode(), tap.recording() as sink:
        model(images)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        model(torch.rand(7, 1, 64, 64))  # a later pass (a faithfulness perturbation) is not recorded
    assert [t.shape[0] for t in sink] == [3] and [t.shape[0] for t in seen["other"]] == [5]
    model(images)  # outside the block nothing is recorded
    assert len(sink) == 1
    # the same features as extract_features gives, up to the 8-bit rounding of its input
    quantised = pixels_to_uint8(images[:, 0].numpy())
    np.testing.assert_allclose(sink[0].numpy(), extract_features(model, quantised)[0], atol=0.05)


def test_the_threshold_comes_from_validation_alone(quick_model, shared_data):
    model, meta = load_model(quick_model)
    _, splits = model_splits(meta, shared_data / "chest_xray")
    prepare = partial(model_input, size=meta.input_size)
    reference = load_images(splits.train, prepare=prepare)[0]
    validation = load_images(splits.validation, prepare=prepare)[0]
    ood = fit_ood(model, reference=reference, validation=validation)
    scores = knn_distance(extract_features(model, validation), model.ood_bank, ood["neighbours"])
    assert ood["threshold"] == pytest.approx(ood_threshold(scores))
    assert (scores > ood["threshold"]).mean() <= FLAGGED_SHARE and ood["validation"]["n"] == len(validation)
    # the same images give the same threshold whatever else exists (fit_ood sees no test image)
    assert fit_ood(model, reference=reference, validation=validation)["threshold"] == ood["threshold"]
    with pytest.raises(InputError, match="at least 10 training images"):
        fit_ood(model, reference=reference[:3], validation=validation)


def test_training_ends_with_a_reference_that_every_writer_keeps(quick_model, shared_data, tmp_path):
    meta = read_meta(quick_model)
    assert meta.ood is not None and meta.ood["bank"] == meta.data["train"]["NORMAL"] + meta.data["train"]["PNEUMONIA"]
    model, _ = load_model(quick_model)
    save_checkpoint(tmp_path / "copy.pt", model=model, meta=meta, half=True)
    copy, copy_meta = load_model(tmp_path / "copy.pt")
    assert copy_meta.ood == meta.ood and torch.equal(copy.ood_bank, model.ood_bank)  # the bank is float16 already
    # half a reference is refused with a sentence
    save_checkpoint(tmp_path / "half.pt", model=model, meta=meta.with_(ood=None))
    with pytest.raises(ModelError, match="features without their settings"):
        load_model(tmp_path / "half.pt")


def test_recalibration_keeps_the_reference(shared_data, tmp_path):
    site = tmp_path / "site"
    for label in ("NORMAL", "PNEUMONIA"):
        (site / label).mkdir(parents=True)
        for path in sorted((shared_data / "chest_xray" / "test" / label).iterdir())[:20]:
            (site / label / path.name).symlink_to(path)
    result = recalibrate(DEFAULT_MODEL_PATH, site, tmp_path / "site.pt")
    assert result.meta.ood == read_meta(DEFAULT_MODEL_PATH).ood
    assert torch.equal(load_model(tmp_path / "site.pt")[0].ood_bank, load_model(DEFAULT_MODEL_PATH)[0].ood_bank)


@pytest.fixture(scope="module")
def default_diagnoser() -> Diagnoser:
    return Diagnoser(DEFAULT_MODEL_PATH)


def test_unfamiliar_images_score_higher_than_the_models_own_population(default_diagnoser, shared_data):
    """The shipped model: paediatric validation images against adult films, a CT slice and photographs."""
    classifier = default_diagnoser.classifier
    _, splits = model_splits(classifier.meta, shared_data / "chest_xray")
    chosen = np.random.default_rng(0).choice(len(splits.validation), 24, replace=False)
    own = [read_xray_file(splits.validation[i].path) for i in chosen]
    adults = [read_xray_file(p) for p in sorted((shared_data / "cxr_lung_masks" / "images").iterdir())[:12]]
    ct = read_volume(shared_data / "chest_ct" / "cxr.nii.gz")
    hu = display_slice(ct, plane="axial", index=ct.shape[0] // 2)
    skimage_data = pytest.importorskip("skimage.data")
    others = [_xray(np.clip((hu + 1000) / 1400, 0, 1), "ct.png"), _xray(skimage_data.camera() / 255.0, "camera.png"),
              _xray(skimage_data.coins() / 255.0, "coins.png")]  # fmt: skip

    def scores(xrays: list[XRay]) -> np.ndarray:
        return np.array([p.out_of_distribution.score for p in classifier.predict(xrays)])

    familiar, adult, other = scores(own), scores(adults), scores(others)
    threshold = classifier.meta.ood["threshold"]
    assert np.median(adult) > np.median(familiar) and other.min() > np.quantile(familiar, 0.9)
    assert np.median(familiar) < threshold and (other > threshold).all()
    flagged = classifier.predict(others[:1])[0]
    assert flagged.unfamiliar and flagged.reading.startswith("unreliable: unfamiliar image (reads ")
    assert flagged.out_of_distribution.explanation().startswith(UNFAMILIAR)


def test_the_heat_maps_pass_gives_the_same_score_as_a_plain_verdict(default_diagnoser, fullres_paths):
    xray = read_xray_file(fullres_paths[0])
    plain = default_diagnoser.diagnose(xray, method=None).prediction.out_of_distribution
    mapped = default_diagnoser.diagnose(xray, faithfulness=True).prediction.out_of_distribution
    assert plain.score == pytest.approx(mapped.score, abs=1e-5) and not plain.flag


def test_predict_json_carries_the_score_and_fit_ood_adds_one(quick_model, shared_data, fullres_paths, tmp_path,
                                                             capsys):  # fmt: skip
    model, meta = load_model(quick_model)
    bare = tmp_path / "bare.pt"
    model._buffers.pop("ood_bank")
    save_checkpoint(bare, model=model, meta=meta.with_(ood=None))
    assert main(["predict", "--model", str(bare), "--json", str(fullres_paths[0])]) == 0
    assert json.loads(capsys.readouterr().out)["out_of_distribution"] is None  # no reference: no score, said so

    assert main(["fit-ood", "--model", str(bare), "--data", str(shared_data / "chest_xray"),
                 "--out", str(tmp_path / "fitted.pt")]) == 0  # fmt: skip
    assert "validation images flagged" in capsys.readouterr().out
    assert read_meta(tmp_path / "fitted.pt").ood["threshold"] == pytest.approx(meta.ood["threshold"], rel=1e-3)
    assert "ood_bank" in load_checkpoint(tmp_path / "fitted.pt")["state_dict"]
    assert main(["predict", "--model", str(tmp_path / "fitted.pt"), "--json", str(fullres_paths[0])]) == 0
    record = json.loads(capsys.readouterr().out)["out_of_distribution"]
    assert set(record) == {"score", "flag", "threshold"} and isinstance(record["flag"], bool)
    assert main(["fit-ood", "--model", str(bare), "--data", str(shared_data / "chest_xray_fullres")]) == 2
    assert "does not have the expected layout" in capsys.readouterr().err  # a sentence, not a traceback


@pytest.mark.parametrize(("arch", "width"), [("xraynet", 256), ("resnet18", 512), ("resnet50", 2048), ("vgg16", 512),
                                             ("efficientnet_lite0", 1280)])  # fmt: skip
def test_every_architecture_gives_its_penultimate_features(arch, width):
    from core.classify.models import build_model

    model = build_model(arch).eval()
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 64), dtype=np.uint8)
    features = extract_features(model, images)
    assert features.shape == (1, 2, width) and torch.isfinite(features).all()
    pair = build_model(arch, members=2).eval()
    assert extract_features(pair, images).shape == (2, 2, width)  # one per member


@pytest.mark.parametrize(("n", "exceeding"), [(10, 0), (19, 0), (20, 1), (100, 5), (523, 26)])
def test_the_threshold_lets_at_most_five_percent_of_validation_exceed_it(n, exceeding):
    scores = np.random.default_rng(n).random(n)
    assert (scores > ood_threshold(scores)).sum() == exceeding


def test_recording_blocks_nest(quick_model):
    model, _ = load_model(quick_model)
    tap = FeatureTap(model)
    with torch.inference_mode(), tap.recording() as outer:
        with tap.recording() as inner:
            model(torch.rand(2, 1, 64, 64))
        model(torch.rand(3, 1, 64, 64))
    assert [t.shape[0] for t in inner] == [2] and [t.shape[0] for t in outer] == [3]


def test_a_reference_that_does_not_fit_is_refused_and_fit_ood_repairs_it(quick_model, shared_data, tmp_path):
    model, meta = load_model(quick_model)
    broken = tmp_path / "broken.pt"
    model.ood_bank = model.ood_bank[:, :, :7]  # features of another width
    save_checkpoint(broken, model=model, meta=meta)
    with pytest.raises(ModelError, match=r"unusable out-of-distribution reference \(features of shape.*fit-ood"):
        load_model(broken)
    incomplete = tmp_path / "incomplete.pt"
    save_checkpoint(
        incomplete, model=load_model(quick_model)[0], meta=meta.with_(ood={"threshold": 0.3, "neighbours": 10})
    )
    with pytest.raises(ModelError, match="its settings lack method"):
        load_model(incomplete)
    assert main(["fit-ood", "--model", str(broken), "--data", str(shared_data / "chest_xray")]) == 0
    repaired, repaired_meta = load_model(broken)
    assert repaired.ood_bank.shape == load_model(quick_model)[0].ood_bank.shape
    assert repaired_meta.ood["threshold"] == pytest.approx(meta.ood["threshold"], rel=1e-3)


def test_recalibrating_on_images_the_model_finds_unfamiliar_warns(shared_data, tmp_path):
    site = tmp_path / "site"
    for label, source in (("NORMAL", shared_data / "chest_xray" / "test" / "NORMAL"),
                          ("PNEUMONIA", shared_data / "cxr_lung_masks" / "images")):  # fmt: skip
        (site / label).mkdir(parents=True)
        for path in sorted(source.iterdir())[:20]:
            (site / label / path.name).symlink_to(path)
    warnings = recalibrate(DEFAULT_MODEL_PATH, site, tmp_path / "site.pt").warnings
    assert any("are unlike the images the model learned from" in w and "not what the model has seen" in w
               for w in warnings)  # fmt: skip
