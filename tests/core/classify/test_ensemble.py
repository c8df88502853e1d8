"""Deep ensembles: the logit is the members' mean, calibrated on their shared validation split; mismatches refused."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from core.__main__ import main
from core.classify import train as train_module
from core.classify.card import render_model_card
from core.classify.checkpoint import load_checkpoint, load_model, read_meta, save_checkpoint
from core.classify.data import load_images
from core.classify.ensemble import build_ensemble, combine
from core.classify.evaluate import evaluate_model, predict_logits
from core.classify.models import Ensemble, build_model
from core.classify.predict import Classifier
from core.classify.train import TrainConfig, dataset_splits
from core.classify.transforms import model_input
from core.errors import InputError, ModelError
from core.explain import Explainer
from core.io import read_xray_file


@pytest.fixture(scope="module")
def ensemble(quick_model, second_member, shared_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ensemble") / "ensemble.pt"
    build_ensemble([quick_model, second_member], data=shared_data / "chest_xray", out=out)
    return out


def _validation(path: Path, shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    meta = read_meta(path)
    splits = dataset_splits(TrainConfig.from_recipe(meta.recipe, data=shared_data / "chest_xray"))
    return load_images(splits.validation, prepare=partial(model_input, size=meta.input_size))


def test_the_ensemble_logit_is_the_members_mean(ensemble, quick_model, second_member, shared_data):
    images, _ = _validation(quick_model, shared_data)
    members = [predict_logits(load_model(p)[0], images) for p in (quick_model, second_member)]
    model, meta = load_model(ensemble)
    assert isinstance(model, Ensemble) and meta.members == 2 and meta.member_seeds == (0, 1)
    np.testing.assert_allclose(predict_logits(model, images), np.mean(members, axis=0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(members[0], members[1], atol=1e-3)  # two models, not one twice


def test_the_ensemble_is_calibrated_on_validation_and_reported_on_test(
    ensemble, quick_model, second_member, shared_data, monkeypatch, tmp_path
):
    meta = read_meta(ensemble)
    assert meta.validation["n"] == len(_validation(quick_model, shared_data)[1]) and meta.test["n"] > 0
    assert meta.temperature != 1.0 and 0.0 <= meta.threshold <= 1.0
    # Calibration sees only the validation images: the same temperature and threshold without any test split.
    monkeypatch.setattr(train_module, "dataset_splits", lambda config: replace(dataset_splits(config), test=()))
    again = build_ensemble([quick_model, second_member], data=shared_data / "chest_xray", out=tmp_path / "e.pt")
    assert again.test is None and "test" not in read_meta(tmp_path / "e.pt").to_dict()
    assert (again.temperature, again.threshold) == (meta.temperature, meta.threshold)
    first = read_meta(quick_model)
    assert meta.history == first.history  # the first member's curves
    assert meta.training_seconds > first.training_seconds


def test_an_ensemble_is_evaluated_explained_and_described_like_one_model(
    ensemble, quick_model, second_member, shared_data, fullres_paths
):
    figures = evaluate_model(ensemble, shared_data / "chest_xray", split="val")
    assert figures["model"]["members"] == 2 and figures["n"] == 16
    classifier = Classifier(ensemble)
    assert "2 × xraynet" in classifier.description
    explainer = Explainer(classifier)
    assert len(explainer.layers) == 2  # one layer per member, their maps averaged
    inputs = classifier.batch([read_xray_file(fullres_paths[-1])])
    heat = explainer.explain(inputs, method="Eigen-CAM", faithfulness=False).heat
    assert np.isfinite(heat).all() and heat.max() == pytest.approx(1.0, abs=1e-3)
    for member in (quick_model, second_member):
        own = Explainer(Classifier(member)).explain(inputs, method="Eigen-CAM", faithfulness=False).heat
        assert np.abs(heat - own).max() > 0.05  # neither member's map alone
    card = render_model_card(read_meta(ensemble), title="t")
    assert "a deep ensemble of 2 `xraynet` models" in card and "seeds 0, 1" in card


def test_an_ensemble_has_its_own_out_of_distribution_reference(ensemble, quick_model, fullres_paths):
    model, meta = load_model(ensemble)
    bank = model.ood_bank
    assert bank.shape[0] == 2 and meta.ood["bank"] == bank.shape[1]  # one reference per member
    assert not any(".ood_bank" in key for key in load_checkpoint(ensemble)["state_dict"])  # not the members' own
    (prediction,) = Classifier(ensemble).predict([read_xray_file(fullres_paths[0])])
    ood = prediction.out_of_distribution
    assert ood is not None and ood.threshold == meta.ood["threshold"]


def test_the_ensemble_command_writes_a_calibrated_half_precision_file(quick_model, second_member, shared_data,
                                                                       tmp_path, capsys):  # fmt: skip
    out = tmp_path / "e.pt"
    code = main(["ensemble", "--models", str(quick_model), str(second_member), "--data",
                 str(shared_data / "chest_xray"), "--out", str(out), "--half"])  # fmt: skip
    assert code == 0 and "2 members" in capsys.readouterr().out
    state = load_checkpoint(out)["state_dict"]
    assert any(k.startswith("members.1.") for k in state)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    assert sorted(os.listdir(tmp_path)) == ["e.pt"]  # no scratch file left behind


def _altered(path: Path, out: Path, **recipe_changes) -> Path:
    model, meta = load_model(path)
    return save_checkpoint(out, model=model, meta=meta.with_(recipe={**meta.recipe, **recipe_changes}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"split_seed": 7}, "validation split"),  # its validation patients are another member's training patients
        ({"mixup": 0.4}, r"recipe \(beyond the seed\)"),
    ],
)
def test_members_trained_otherwise_are_refused(quick_model, second_member, tmp_path, changes, message):
    odd = _altered(second_member, tmp_path / "odd.pt", **changes)
    with pytest.raises(InputError, match=message):
        combine([quick_model, odd], tmp_path / "e.pt")
    assert not (tmp_path / "e.pt").exists()


def test_one_model_or_an_ensemble_of_ensembles_is_refused(quick_model, ensemble, tmp_path):
    with pytest.raises(InputError, match="at least two"):
        combine([quick_model], tmp_path / "e.pt")
    with pytest.raises(InputError, match="already an ensemble"):
        combine([quick_model, ensemble], tmp_path / "e.pt")


def test_another_data_folder_is_refused(quick_model, second_member, shared_data, tmp_path):
    # The same layout, but one of the members' validation images is another file (the same picture, re-saved with
    # trailing bytes): their data cannot be confirmed, so neither can their validation split.
    source = shared_data / "chest_xray"
    copy = tmp_path / "data"
    for label in ("NORMAL", "PNEUMONIA"):
        (copy / "train" / label).mkdir(parents=True)
        for file in (source / "train" / label).iterdir():
            (copy / "train" / label / file.name).symlink_to(file)
    splits = dataset_splits(TrainConfig.from_recipe(read_meta(quick_model).recipe, data=source))
    victim = copy / splits.validation[0].path.relative_to(source)
    victim.unlink()
    victim.write_bytes(splits.validation[0].path.read_bytes() + b"\0" * 16)
    with pytest.raises(InputError, match="not the data the model was trained on"):
        build_ensemble([quick_model, second_member], data=copy, out=tmp_path / "e.pt")
    assert not (tmp_path / "e.pt").exists()


def test_build_model_makes_ensembles_and_refuses_none():
    model = build_model("xraynet", members=3).eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        expected = torch.stack([member(x) for member in model.members]).mean(dim=0)
        torch.testing.assert_close(model(x), expected)
    with pytest.raises(ModelError, match="at least one member"):
        build_model("xraynet", members=0)


def test_a_checkpoint_with_a_bad_member_count_is_refused(tmp_path, quick_model):
    model, meta = load_model(quick_model)
    with pytest.raises(ModelError, match="holds 0 models"):  # not written
        save_checkpoint(tmp_path / "m.pt", model=model, meta={**meta.to_dict(), "members": 0})
    assert not (tmp_path / "m.pt").exists()
    payload = {"format": "xray-classifier", "version": 1, "meta": {**meta.to_dict(), "members": 0},
               "state_dict": model.state_dict()}  # fmt: skip
    torch.save(payload, tmp_path / "m.pt")  # not read either
    with pytest.raises(ModelError, match="holds 0 models"):
        load_model(tmp_path / "m.pt")
