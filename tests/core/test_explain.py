"""Heat maps: every method's output shape and range, and the faithfulness figure's direction."""

from __future__ import annotations

import numpy as np
import pytest

from core.classify.predict import Classifier
from core.errors import InputError
from core.explain import CAM_METHODS, Explainer
from core.io import read_xray_file


@pytest.fixture(scope="module")
def explainer(quick_model):
    return Explainer(Classifier(quick_model))


@pytest.fixture(scope="module")
def inputs(explainer, fullres_paths):
    return explainer.classifier.batch([read_xray_file(fullres_paths[-1])])


@pytest.mark.parametrize("method", list(CAM_METHODS))
def test_every_method_gives_a_finite_map_in_unit_range(explainer, inputs, method, capfd):
    done: list[float] = []
    cam = explainer.explain(inputs, method=method, faithfulness=False, progress=done.append)
    if method == "Score-CAM":  # its masked passes report their progress, and draw no bars in the server's log
        assert len(done) > 1 and done == sorted(done) and done[-1] == 1.0
        assert "it/s" not in capfd.readouterr().err
    size = explainer.classifier.input_size
    assert cam.heat.shape == (size, size) and cam.heat.dtype == np.float32
    assert np.isfinite(cam.heat).all() and cam.heat.min() >= 0 and cam.heat.max() <= 1
    assert cam.target in ("NORMAL", "PNEUMONIA") and cam.method == method


def test_faithfulness_is_reported_and_seeded(explainer, inputs):
    first = explainer.explain(inputs, method="Grad-CAM", seed=3).faithfulness
    again = explainer.explain(inputs, method="Grad-CAM", seed=3).faithfulness
    assert first == again and first.removed_fraction == pytest.approx(0.2)
    assert 0 <= first.probability_cam <= 1 and 0 <= first.probability_random <= 1
    assert first.assessment in ("telling", "weak", "decorative")
    assert "log-odds of NORMAL" in first.describe("NORMAL")


def test_bad_requests_are_refused(explainer, inputs):
    with pytest.raises(InputError, match="choose one of Grad-CAM"):
        explainer.explain(inputs, method="LIME")
    with pytest.raises(InputError, match="one prepared image"):
        explainer.explain(inputs[0])


def test_predictions_do_not_feed_the_heat_map_hooks(explainer, inputs):
    # pytorch-grad-cam's hooks copy every activation they see; they must not sit on the model that predicts.
    explainer.explain(inputs, method="Grad-CAM")
    for _ in range(3):
        explainer.classifier.probabilities(inputs)
    hooks = explainer._cam("Grad-CAM").activations_and_grads
    assert hooks.activations == [] and hooks.gradients == []


@pytest.mark.parametrize("kind", ["blob", "scattered"])
def test_road_imputation_solves_the_librarys_system(kind):
    """The same imputation as pytorch-grad-cam's NoisyLinearImputer (without its noise), to well under the noise."""
    import cv2
    import torch
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer

    from core.explain import road_imputation

    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((96, 80), dtype=np.float32), (0, 0), 2)
    if kind == "blob":  # a heat map's top fifth: one region, touching the image's edge
        rows, columns = np.mgrid[:96, :80]
        heat = -np.hypot(rows - 20, columns - 70)
    else:
        heat = rng.random((96, 80))
    removed = heat >= np.percentile(heat, 80)
    ours = road_imputation(image, removed, noise=0.0, rng=rng)
    theirs = NoisyLinearImputer(noise=0.0)(torch.from_numpy(image[None]), torch.from_numpy(np.float32(~removed)))
    np.testing.assert_allclose(ours, theirs[0].numpy(), atol=1e-4)
    assert np.array_equal(ours[~removed], image[~removed])  # known pixels untouched
    noisy = road_imputation(image, removed, rng=np.random.default_rng(1))
    assert 0.005 < np.std(noisy[removed] - ours[removed]) < 0.015  # ROAD's noise, σ = 0.01


def test_a_map_must_beat_what_chance_does_on_the_image():
    """Sure verdicts swing under random removals: an excess within that swing is no evidence."""
    from core.explain import Faithfulness

    def figure(excess: float, spread: float) -> Faithfulness:
        return Faithfulness(removed_fraction=0.2, probability=0.99, probability_cam=0.9, probability_random=0.98,
                            drop_cam=excess, drop_random=0.0, spread_random=spread, random_trials=4)  # fmt: skip

    # the bar: t(0.975, 3 df) = 3.18 times spread x sqrt(1 + 1/4)
    assert figure(1.2, 0.05).assessment == "telling" and figure(1.2, 0.3).assessment == "telling"  # bar 1.07
    assert figure(1.2, 0.4).assessment == "decorative"  # bar 1.42: chance could do it
    assert figure(0.3, 0.0).assessment == "weak" and figure(0.2, 0.0).assessment == "decorative"
    assert "± 0.60" in figure(1.2, 0.6).describe("PNEUMONIA")
    risen = Faithfulness(removed_fraction=0.2, probability=0.6, probability_cam=0.75, probability_random=0.6,
                         drop_cam=-0.78, drop_random=0.0, random_trials=4).describe("NORMAL")  # fmt: skip
    assert "pixels raises the log-odds of NORMAL by 0.78 (P 0.600 → 0.750)" in risen and "-0.78" not in risen
    assert "random pixels lowers the log-odds of NORMAL by 0.00" in risen
    assert figure(0.9, 0.2).assessment == "weak"  # bar 0.71, below 1


def test_faithfulness_removes_exactly_the_stated_share_even_where_the_map_is_flat():
    """A Grad-CAM map is often 0 over most of the image: a percentile cut would remove every pixel."""
    from core.explain import _top_share

    heat = np.zeros((50, 40), dtype=np.float32)
    heat[:8, :8] = 1.0  # 3 % of the image is hot, the rest ties at 0
    removed = _top_share(heat, 0.2, np.random.default_rng(0))
    assert removed.sum() == 400 and removed[:8, :8].all()
    assert not np.array_equal(removed, _top_share(heat, 0.2, np.random.default_rng(1)))  # ties drawn at random
