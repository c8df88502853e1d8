"""Training on a small real subset: the loss falls, a crashed run resumes exactly, choices use validation only."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.classify import train as train_module
from core.classify import transforms
from core.classify.checkpoint import load_checkpoint, load_model, read_meta
from core.classify.train import TrainConfig, finalize, train
from core.errors import InputError
from tests.conftest import quick_config


def test_a_short_run_lowers_the_training_loss(shared_data, tmp_path):
    train(quick_config(shared_data, tmp_path, epochs=6, augment="none"))
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5, 6]
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_auc", "lr", "seconds"} <= set(history[0])


def test_the_result_carries_its_recipe_data_and_figures(quick_model):
    _, meta = load_model(quick_model)
    assert meta.arch == "xraynet" and meta.input_size == 64
    assert meta.recipe["per_class_limit"] == 32 and meta.data["train"] == {"NORMAL": 32, "PNEUMONIA": 32}
    assert 0.05 <= meta.temperature <= 20 and 0.0 <= meta.threshold <= 1.0
    for figures in (meta.validation, meta.test):
        assert {"accuracy", "sensitivity", "specificity", "auc", "ece", "ci95", "confusion"} <= set(figures)
    assert meta.epoch in (1, 2) and len(meta.history) == 2  # the whole run, not up to the chosen epoch


class _Crash(RuntimeError):
    pass


def test_a_crashed_run_resumes_where_it_stopped_with_the_same_result(shared_data, tmp_path):
    straight = quick_config(shared_data, tmp_path / "straight", epochs=3)
    train(straight)

    def crash_after_first_epoch(record):
        if record["epoch"] == 1:
            raise _Crash

    crashed = quick_config(shared_data, tmp_path / "crashed", epochs=3)
    with pytest.raises(_Crash):
        train(crashed, on_epoch=crash_after_first_epoch)
    assert len(json.loads((tmp_path / "crashed" / "history.json").read_text())) == 1
    lines: list[str] = []
    train(crashed, log=lines.append)
    assert any("resuming after epoch 1 of 3" in line for line in lines)
    a = json.loads((tmp_path / "straight" / "history.json").read_text())
    b = json.loads((tmp_path / "crashed" / "history.json").read_text())
    # Same seed, same per-epoch generators, restored optimiser, scheduler and dropout RNG: the same numbers.
    for x, y in zip(a, b, strict=True):
        assert x["train_loss"] == pytest.approx(y["train_loss"], rel=1e-5)
        assert x["val_loss"] == pytest.approx(y["val_loss"], rel=1e-5)


def test_averaged_weights_are_what_is_validated_kept_and_resumed(shared_data, tmp_path):
    straight = quick_config(shared_data, tmp_path / "straight", epochs=3, ema_decay=0.9, select="last")
    train(straight)
    raw = load_checkpoint(tmp_path / "straight" / "last.pt")
    averaged = load_checkpoint(tmp_path / "straight" / "model.pt")
    assert averaged["meta"].epoch == 3  # select="last": the last epoch, whatever its validation loss
    name = next(k for k in averaged["state_dict"] if k.endswith("weight"))
    assert not torch.equal(raw["state_dict"][name].float(), averaged["state_dict"][name].float())
    assert int(raw["training"]["average"]["n_averaged"]) > 1

    def crash_after_first_epoch(record):
        if record["epoch"] == 1:
            raise _Crash

    crashed = quick_config(shared_data, tmp_path / "crashed", epochs=3, ema_decay=0.9, select="last")
    with pytest.raises(_Crash):
        train(crashed, on_epoch=crash_after_first_epoch)
    train(crashed)
    a = json.loads((tmp_path / "straight" / "history.json").read_text())
    b = json.loads((tmp_path / "crashed" / "history.json").read_text())
    # The average is resumed too: validation (on the averaged weights) gives the same numbers.
    assert [x["val_loss"] for x in a] == pytest.approx([y["val_loss"] for y in b], rel=1e-5)


def test_resuming_with_other_settings_is_refused(shared_data, tmp_path):
    train(quick_config(shared_data, tmp_path, epochs=1))
    with pytest.raises(InputError, match="other settings \\(learning_rate differ\\)"):
        train(quick_config(shared_data, tmp_path, epochs=1, learning_rate=0.1))


def test_temperature_threshold_and_band_come_from_validation_only(quick_model, tmp_path, shared_data):
    # finalize() again with the test labels inverted: temperature, threshold and borderline band must not move.
    from core.classify.calibration import choose_band, sigmoid
    from core.classify.evaluate import predict_logits

    before = read_meta(quick_model)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (34, 64, 64), dtype=np.uint8)
    validation = (images[:30], np.array([0, 1] * 15))
    first = finalize(quick_model, validation=validation, test=(images[30:], np.array([0, 1, 0, 1])),
                     out=tmp_path / "a.pt")  # fmt: skip
    second = finalize(quick_model, validation=validation, test=(images[30:], np.array([1, 0, 1, 0])),
                      out=tmp_path / "b.pt")  # fmt: skip
    assert first.temperature == second.temperature and first.threshold == second.threshold
    assert first.borderline == second.borderline
    assert first.test["accuracy"] + second.test["accuracy"] == pytest.approx(1.0)
    assert before.temperature != first.temperature  # refitted on the new validation data

    # the band is the rule's on the validation images (noise: a model no better than chance there has one)
    model, _ = load_model(quick_model)
    probabilities = sigmoid(predict_logits(model, validation[0]) / first.temperature)
    assert first.borderline == pytest.approx(choose_band(validation[1], probabilities, first.threshold))
    assert first.borderline > 0
    counted = first.validation["borderline"]
    assert counted["n"] == 30 and counted["count"] >= 10 and counted["accuracy_inside"] < 0.8
    assert first.test["borderline"]["count"] == second.test["borderline"]["count"]
    assert read_meta(tmp_path / "a.pt").borderline == first.borderline  # stored in the checkpoint


def test_class_weights_balance_the_classes():
    weights = train_module._sample_weights(torch.tensor([0, 1, 1, 1]))
    assert weights[0] * 1 == pytest.approx(float(weights[1:].sum()))  # equal total weight per class
    assert float(weights.mean()) == pytest.approx(1.0)


def test_the_sampler_draws_classes_equally_often():
    labels = torch.tensor([0] * 100 + [1] * 300)
    order = train_module._epoch_order(labels, "sampler", torch.Generator().manual_seed(0))
    share = float(labels[order].float().mean())
    assert share == pytest.approx(0.5, abs=0.06)  # 400 draws: binomial standard deviation 0.025


def test_a_stored_recipe_gives_back_the_same_settings(tmp_path):
    config = TrainConfig(data=str(tmp_path), out="", seed=3, split_seed=1, snapshot_epochs=(10, 20), mixup=0.4)
    again = TrainConfig.from_recipe(config.recipe(), data=tmp_path)
    assert again == config and again.validation_seed == 1


def test_the_split_seed_alone_fixes_the_validation_set(shared_data):
    data = str(shared_data / "chest_xray")
    base = train_module.dataset_splits(TrainConfig(data=data, out="", seed=0))
    other_init = train_module.dataset_splits(TrainConfig(data=data, out="", seed=7, split_seed=0))
    other_split = train_module.dataset_splits(TrainConfig(data=data, out="", seed=0, split_seed=7))
    old_style = train_module.dataset_splits(TrainConfig(data=data, out="", seed=7))  # no split seed: the seed
    assert other_init.validation == base.validation and other_init.train == base.train
    assert other_split.validation != base.validation
    assert old_style.validation == other_split.validation


def test_mixup_blends_images_targets_and_weights_with_one_partner_each():
    generator = torch.Generator().manual_seed(0)
    batch = torch.arange(8, dtype=torch.float32).view(8, 1, 1, 1).expand(8, 1, 4, 4).contiguous()
    target = torch.tensor([0.0, 1.0] * 4)
    weight = torch.tensor([3.0, 1.0] * 4)
    images, targets, weights = transforms.mix(batch, target, weight, alpha=0.4, generator=generator)
    assert images.shape == batch.shape and targets.shape == target.shape
    for i in range(8):
        value = float(images[i, 0, 0, 0])
        assert torch.allclose(images[i], torch.full((1, 4, 4), value))  # one weight per image, whole image
        # Some partner j and weight l with value = l*i + (1-l)*j, and the target and loss weight mixed alike.
        solutions = [(j, (value - j) / (i - j)) for j in range(8) if j != i and 0 <= (value - j) / (i - j) <= 1]
        solutions += [(i, 1.0)] if value == i else []
        assert any(float(targets[i]) == pytest.approx(lam * target[i] + (1 - lam) * target[j], abs=1e-5)
                   and float(weights[i]) == pytest.approx(lam * weight[i] + (1 - lam) * weight[j], abs=1e-5)
                   for j, lam in solutions)  # fmt: skip
    again = transforms.mix(batch, target, weight, alpha=0.4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], images)  # seeded: the same mix every time


def test_mixup_weights_follow_beta_alpha_alpha():
    # Beta(0.4, 0.4) is U-shaped (48 % of draws within 0.1 of 0 or 1); Beta(4, 4) is peaked at 1/2 (0.5 %).
    generator = torch.Generator().manual_seed(1)
    for alpha, outer_share in ((0.4, 0.479), (4.0, 0.005)):
        lam = transforms.mixup_weights(20_000, alpha=alpha, generator=generator)
        assert float(lam.min()) >= 0.0 and float(lam.max()) <= 1.0
        assert float(lam.mean()) == pytest.approx(0.5, abs=0.02)
        assert float(((lam < 0.1) | (lam > 0.9)).double().mean()) == pytest.approx(outer_share, abs=0.02)


def test_a_mixup_run_trains_and_records_it(shared_data, tmp_path):
    train(quick_config(shared_data, tmp_path, epochs=2, mixup=0.4))
    assert read_meta(tmp_path / "model.pt").recipe["mixup"] == 0.4
    history = json.loads((tmp_path / "history.json").read_text())
    assert all(np.isfinite(h["train_loss"]) for h in history)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"arch": "alexnet"}, "unknown architecture"), ({"balance": "smote"}, "balance must be"),
     ({"epochs": 0}, "epochs must be"), ({"input_size": 8}, "input size"), ({"ema_decay": 1.0}, "EMA decay"),
     ({"select": "val_auc"}, "select must be"), ({"mixup": 0.0}, "mixup's alpha")],
)  # fmt: skip
def test_bad_settings_are_refused(changes, message, tmp_path):
    with pytest.raises(InputError, match=message):
        TrainConfig(data=str(tmp_path), out=str(tmp_path), **changes)


def test_a_data_folder_with_the_wrong_layout(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(InputError, match="does not have the expected layout"):
        train(TrainConfig(data=str(tmp_path), out=str(tmp_path / "out"), epochs=1))
