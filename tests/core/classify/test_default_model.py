"""The shipped default model: it loads, describes itself, and its recorded figures are what it really does."""

from __future__ import annotations

import pytest

from core.classify.card import PUBLISHED, render_model_card
from core.classify.checkpoint import DEFAULT_MODEL_PATH, load_model
from core.classify.evaluate import evaluate_model


@pytest.fixture(scope="module")
def default():
    return load_model(DEFAULT_MODEL_PATH)


def test_it_is_small_and_self_describing(default):
    _, meta = default
    assert DEFAULT_MODEL_PATH.stat().st_size <= 25 * 1024 * 1024
    assert meta.arch == "efficientnet_lite0" and meta.recipe["pretrained"] is True  # fine-tuned from ImageNet, here
    assert meta.input_size == 224 and meta.borderline > 0  # a borderline band chosen on validation
    assert meta.data["validation_patients"] > 100
    assert meta.validation and meta.test and meta.history
    assert DEFAULT_MODEL_PATH.with_name("MODEL_CARD.md").is_file()


def test_its_recorded_test_figures_are_reproduced(default, shared_data):
    _, meta = default
    figures = evaluate_model(DEFAULT_MODEL_PATH, shared_data / "chest_xray", split="test")  # one thread: 2 workers
    assert figures["n"] == 624
    assert figures["confusion"] == meta.test["confusion"]  # the same decisions on every test image
    assert figures["auc"] == pytest.approx(meta.test["auc"], abs=1e-6)
    assert figures["borderline"]["count"] == meta.test["borderline"]["count"]


def test_the_model_card_states_the_figures_and_the_notice(default):
    _, meta = default
    card = render_model_card(meta, title="t")
    assert "not a diagnostic device" in card
    assert f"{100 * meta.test['accuracy']:.1f} %" in card
    assert next(iter(PUBLISHED)) in card
