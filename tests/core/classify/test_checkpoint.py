"""Checkpoints: round trip, half-precision storage, atomic writes, and refusal of foreign or mismatched files; their
metadata read once into a :class:`ModelMeta`."""

from __future__ import annotations

import pytest
import torch

from core.classify import checkpoint
from core.classify.checkpoint import (
    DEFAULT_MODEL_PATH,
    ModelMeta,
    load_checkpoint,
    load_model,
    read_meta,
    save_checkpoint,
)
from core.classify.models import build_model
from core.errors import ModelError

META = {"arch": "xraynet", "input_size": 64, "labels": ["NORMAL", "PNEUMONIA"], "temperature": 1.5,
        "threshold": 0.4, "recipe": {"epochs": 3}}  # fmt: skip


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model("xraynet").eval()


@pytest.mark.parametrize(("half", "tolerance"), [(False, 1e-6), (True, 5e-3)])
def test_round_trip_gives_the_same_outputs(tmp_path, model, half, tolerance):
    path = save_checkpoint(tmp_path / "m.pt", model=model, meta=META, half=half)
    loaded, meta = load_model(path)
    assert isinstance(meta, ModelMeta) and meta.to_dict() == META and not loaded.training
    images = torch.rand(4, 1, 64, 64)
    with torch.no_grad():
        # float16 keeps ~3 significant digits per weight; the logits move by far less than a decision needs. (A
        # loaded model's weights are channels-last, which sums in another order: float32 rounding apart.)
        torch.testing.assert_close(loaded(images), model(images), atol=tolerance, rtol=tolerance)


def test_half_precision_halves_the_file(tmp_path, model):
    full = save_checkpoint(tmp_path / "full.pt", model=model, meta=META).stat().st_size
    half = save_checkpoint(tmp_path / "half.pt", model=model, meta=META, half=True).stat().st_size
    assert half < 0.55 * full


def test_a_crash_while_writing_keeps_the_previous_file(tmp_path, model, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", model=model, meta=META)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, model=model, meta={**META, "threshold": 0.9})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="No model file"):
        load_model(tmp_path / "absent.pt")


def test_a_file_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a zip or a pickle")
    with pytest.raises(ModelError, match="not a readable model checkpoint"):
        load_model(tmp_path / "x.pt")


def test_a_torch_file_of_someone_else(tmp_path, model):
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    with pytest.raises(ModelError, match="not a checkpoint of this application"):
        load_model(tmp_path / "plain.pt")


def test_code_objects_are_never_unpickled(tmp_path):
    # weights_only=True: a pickle that would run code is refused, not executed.
    torch.save({"format": "xray-classifier", "evil": print}, tmp_path / "evil.pt")
    with pytest.raises(ModelError, match="not a readable model checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 99}, "version 99 checkpoint"),
        ({"meta": {**META, "arch": "alexnet"}}, "architecture 'alexnet'"),
        ({"meta": {**META, "labels": ["CAT", "DOG"]}}, "trained for labels"),
        ({"meta": {"arch": "xraynet"}}, "lacks metadata: input_size"),
    ],
)
def test_mismatched_checkpoints_are_refused(tmp_path, model, change, message):
    payload = {"format": "xray-classifier", "version": 1, "meta": META, "state_dict": model.state_dict(), **change}
    torch.save(payload, tmp_path / "m.pt")
    with pytest.raises(ModelError, match=message):
        load_model(tmp_path / "m.pt")


def test_weights_of_another_architecture_are_refused(tmp_path):
    resnet = build_model("resnet18")
    save_checkpoint(tmp_path / "m.pt", model=resnet, meta=META)  # claims xraynet
    with pytest.raises(ModelError, match="do not fit the 'xraynet' architecture"):
        load_model(tmp_path / "m.pt")


# ----------------------------------------------------------------------------------------------------------------
# ModelMeta

ENSEMBLE = {**META, "members": 3, "member_seeds": [0, 1, 2], "member_epochs": [50, 48, 50], "epoch": 50,
            "created": "2026-11-24T13:47:03+00:00", "threshold_rule": "Youden's J", "software": {"torch": "2.13.0"},
            "hardware": "x86_64, 2 threads", "training_seconds": 9781.7, "data": {"fingerprint": "31938c81e5e1f534"},
            "validation": {"n": 8, "accuracy": 0.75}, "test": {"n": 4, "accuracy": 0.5},
            "history": [{"epoch": 1, "val_loss": 0.6}]}  # fmt: skip


@pytest.mark.parametrize("stored", [META, ENSEMBLE, {**ENSEMBLE, "borderline": 0.8}])
def test_metadata_round_trips_through_its_dictionary(stored):
    meta = ModelMeta.from_dict(stored)
    assert meta.to_dict() == stored  # the same keys as the file: optional ones unset are left out
    assert ModelMeta.from_dict(meta.to_dict()) == meta
    assert meta.labels == ("NORMAL", "PNEUMONIA") and isinstance(meta.temperature, float)


def test_unknown_keys_are_kept_and_written_back(tmp_path, model):
    stored = {**ENSEMBLE, "written_by": "a newer version", "calibration": {"method": "isotonic"}}
    meta = ModelMeta.from_dict(stored)
    assert meta.extra == {"written_by": "a newer version", "calibration": {"method": "isotonic"}}
    assert meta.to_dict() == stored and ModelMeta.from_dict(meta.to_dict()) == meta
    single = meta.with_(members=1, member_seeds=None, member_epochs=None)
    path = save_checkpoint(tmp_path / "m.pt", model=model, meta=single)
    assert read_meta(path) == single
    assert torch.load(path, weights_only=True)["meta"]["written_by"] == "a newer version"


def test_the_fields_read_what_the_writers_wrote():
    meta = ModelMeta.from_dict(ENSEMBLE)
    assert (meta.members, meta.member_seeds, meta.member_epochs) == (3, (0, 1, 2), (50, 48, 50))
    assert meta.architecture_label == "3 × xraynet" and ModelMeta.from_dict(META).architecture_label == "xraynet"
    assert meta.test == {"n": 4, "accuracy": 0.5} and meta.recipe == {"epochs": 3}
    assert meta.borderline == 0.0 and "borderline" not in meta.to_dict()  # no band: the file format is unchanged
    bare = ModelMeta.from_dict(META)
    assert (bare.members, bare.epoch, bare.test, bare.history, bare.data, bare.extra) == (1, None, None, None, {}, {})
    changed = meta.with_(threshold=0.3, borderline=0.5)
    assert (changed.threshold, changed.borderline, meta.threshold) == (0.3, 0.5, 0.4)  # a copy; meta is frozen


def test_the_shipped_model_reads_into_metadata_with_its_figures():
    meta = read_meta(DEFAULT_MODEL_PATH)
    assert isinstance(meta, ModelMeta) and meta.arch == "efficientnet_lite0" and meta.members == 1
    assert meta.borderline > 0 and meta.threshold_rule == "Youden's J"
    for figures in (meta.validation, meta.test):
        assert {"n", "accuracy", "sensitivity", "specificity", "auc", "confusion"} <= set(figures)
    assert meta.history and meta.epoch and meta.recipe["epochs"] >= meta.epoch and not meta.extra
    stored = torch.load(DEFAULT_MODEL_PATH, map_location="cpu", weights_only=True)["meta"]
    assert meta.to_dict() == stored and ModelMeta.from_dict(stored) == meta  # a version 1 file, read as it is


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"threshold": None}, r"'m\.pt' gives its threshold as None; expected a probability"),
        ({"threshold": "0.4"}, r"'m\.pt' gives its threshold as '0\.4'"),
        ({"temperature": "hot"}, r"'m\.pt' gives its temperature as 'hot'; expected a positive number\."),
        ({"temperature": 0.0}, r"temperature as 0\.0"),
        ({"input_size": 64.0}, r"'m\.pt' gives its input size as 64\.0; expected a whole number of pixels\."),
        ({"input_size": True}, "input size as True"),
        ({"members": "3"}, r"'m\.pt' says it holds '3' models; expected a whole number of at least 1\."),
        ({"borderline": -1.0}, r"borderline band as -1\.0"),
        ({"arch": "alexnet"}, r"'m\.pt' uses architecture 'alexnet', which this code does not know \(xraynet, "),
        ({"labels": "NORMAL"}, "trained for labels NORMAL"),
    ],
)
def test_wrong_metadata_is_a_sentence_naming_the_file(change, message):
    with pytest.raises(ModelError, match=message):
        ModelMeta.from_dict({**META, **change}, source="m.pt")


@pytest.mark.parametrize("missing", ["arch", "input_size", "labels", "temperature", "threshold"])
def test_missing_metadata_is_named(missing):
    with pytest.raises(ModelError, match=f"^'m\\.pt' lacks metadata: {missing}\\.$"):
        ModelMeta.from_dict({k: v for k, v in META.items() if k != missing}, source="m.pt")
    with pytest.raises(ModelError, match=r"^This model lacks metadata"):
        ModelMeta.from_dict({k: v for k, v in META.items() if k != missing})


def test_a_checkpoint_whose_metadata_would_not_load_is_not_written(tmp_path, model):
    with pytest.raises(ModelError, match=r"'m\.pt' gives its temperature as 'hot'"):
        save_checkpoint(tmp_path / "m.pt", model=model, meta={**META, "temperature": "hot"})
    with pytest.raises(ModelError, match="holds 0 models"):
        save_checkpoint(tmp_path / "m.pt", model=model, meta=ModelMeta.from_dict(META).with_(members=0))
    assert list(tmp_path.iterdir()) == []
    torch.save({"format": "xray-classifier", "version": 1, "meta": {**META, "input_size": "64"},
                "state_dict": model.state_dict()}, tmp_path / "m.pt")  # fmt: skip
    with pytest.raises(ModelError, match=r"'m\.pt' gives its input size as '64'"):
        load_model(tmp_path / "m.pt")
