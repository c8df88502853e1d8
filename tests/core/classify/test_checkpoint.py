"""Checkpoints: round trip, half-precision storage, atomic writes, and refusal of foreign or mismatched files."""

from __future__ import annotations

import pytest
import torch

from core.classify import checkpoint
from core.classify.checkpoint import load_checkpoint, load_model, save_checkpoint
from core.classify.models import build_model
from core.errors import ModelError

META = {"arch": "xraynet", "input_size": 64, "labels": ["NORMAL", "PNEUMONIA"], "temperature": 1.5,
        "threshold": 0.4, "recipe": {"epochs": 3}}  # fmt: skip


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model("xraynet").eval()


@pytest.mark.parametrize(("half", "tolerance"), [(False, 0.0), (True, 5e-3)])
def test_round_trip_gives_the_same_outputs(tmp_path, model, half, tolerance):
    path = save_checkpoint(tmp_path / "m.pt", model=model, meta=META, half=half)
    loaded, meta = load_model(path)
    assert meta == META and not loaded.training
    images = torch.rand(4, 1, 64, 64)
    with torch.no_grad():
        # float16 keeps ~3 significant digits per weight; the logits move by far less than a decision needs.
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
