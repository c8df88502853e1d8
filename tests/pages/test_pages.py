"""Every page under Streamlit's AppTest: runs without exception, and its happy path by widget keys."""

from __future__ import annotations

import json
from contextlib import contextmanager

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT
from tests.helpers import encode, make_dicom
from tests.pages.conftest import TIMEOUT_S
from tests.pages.conftest import open_page as _run


def _viewer_titles(app: AppTest) -> list[str]:
    """The titles of the images every image viewer on the page shows (its arguments, as the browser gets them)."""
    return [pane["title"] for element in app.get("component_instance")
            for pane in json.loads(element.proto.json_args).get("panes", [])]  # fmt: skip


@contextmanager
def _active_variant(path, model, meta):
    """The default model's weights saved with ``meta`` to ``path``, registered and active for the block (the
    registry's entry), then deactivated: Diagnose uses it as any activated model."""
    from core.classify.checkpoint import save_checkpoint
    from core.store.registry import ModelRegistry

    registry = ModelRegistry()
    entry = registry.register(save_checkpoint(path, model=model, meta=meta), meta)
    registry.activate(entry.version)
    try:
        yield entry
    finally:
        registry.deactivate()


def test_router_opens_home_with_the_research_notice():
    app = _run("app.py")
    text = " ".join(m.value for m in app.markdown)
    assert "Chest X-ray workstation" in app.title[0].value
    assert "not a medical device" in " ".join(w.body for w in app.warning)
    assert "Preprocessing lab" in text


def test_home_page_links_to_the_lab():
    app = _run("pages/home.py")
    assert "not a medical device" in " ".join(w.body for w in app.warning)
    assert any("preprocessing_lab" in str(link.proto.page) for link in app.get("page_link"))


def test_lab_shows_a_sample_processed_by_default():
    app = _run("pages/preprocessing_lab.py")
    assert app.selectbox(key="lab_sample").value.label == "NORMAL"
    captions = " ".join(c.value for c in app.caption)
    assert "IM-0249-0001.jpeg" in captions
    table = app.dataframe[0].value
    assert list(table["Step"]) == ["Input", "Median filter 3×3", "CLAHE (clip 2, 8×8 tiles)"]


def test_lab_noise_then_median_is_measured():
    app = _run("pages/preprocessing_lab.py")
    app.toggle(key="noise_on").set_value(True).run()
    app.slider(key="noise_amount").set_value(0.1).run()
    assert not app.exception
    table = app.dataframe[0].value.set_index("Step")
    noisy = table.loc["Salt-and-pepper noise (10% of pixels)", "PSNR (dB)"]
    filtered = table.loc["Median filter 3×3", "PSNR (dB)"]
    assert filtered > noisy + 10


def test_lab_every_control_runs(fullres_paths):
    app = _run("pages/preprocessing_lab.py")
    app.file_uploader(key="lab_upload").upload(fullres_paths[0].name, fullres_paths[0].read_bytes()).run()
    app.radio(key="contrast").set_value("Histogram equalisation").run()
    app.selectbox(key="morph_op").set_value("tophat").run()
    app.radio(key="norm").set_value("Z-score").run()
    app.toggle(key="resize_on").set_value(True).run()
    app.radio(key="resize_mode").set_value("Stretch").run()
    app.select_slider(key="resize_side").set_value(128).run()
    assert not app.exception, [e.message for e in app.exception]
    assert fullres_paths[0].name in " ".join(c.value for c in app.caption)
    table = app.dataframe[0].value
    assert table["Step"].iloc[-1] == "Resize to 128×128 (stretched)"
    assert np.isnan(table["PSNR (dB)"].iloc[-1])  # z-scored: not comparable
    assert app.get("download_button")


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("notes.png", b"not an image at all\n" * 20, "not an image"),
        ("tiny.png", encode(np.zeros((10, 10), dtype=np.uint8)), "at least 64×64"),
    ],
)
def test_lab_bad_upload_is_a_sentence_not_a_traceback(name, data, expected):
    app = _run("pages/preprocessing_lab.py")
    app.file_uploader(key="lab_upload").upload(name, data).run()
    assert not app.exception
    assert expected in app.error[0].value


def test_lab_shows_what_the_loader_did_with_a_monochrome1_dicom():
    stored = np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (80, 1))
    app = _run("pages/preprocessing_lab.py")
    app.file_uploader(key="lab_upload").upload("chest.dcm", make_dicom(stored, photometric="MONOCHROME1")).run()
    assert not app.exception and not app.error
    captions = " ".join(c.value for c in app.caption)
    assert "chest.dcm** · DICOM · MONOCHROME1 12-bit · 100×80 px · 0.15×0.15 mm/px" in captions
    assert "inverted so that bone is white" in captions
    assert "Modality: DX" in captions and "Test^Patient" not in captions


def test_classifier_page_shows_the_default_models_figures_and_curves():
    app = _run("pages/classifier.py")
    metrics = {m.label: m.value for m in app.metric}
    assert set(metrics) == {"Accuracy", "Sensitivity", "Specificity", "AUC", "Threshold"}
    assert metrics["Accuracy"].endswith("%")
    assert "Test split, n = 624" in " ".join(c.value for c in app.caption)
    confusion = app.dataframe[0].value
    assert int(confusion.to_numpy().sum()) == 624
    assert "Model card" in app.expander[0].label


def test_diagnose_without_images_asks_for_some_and_shows_the_notice():
    app = _run("pages/diagnose.py")
    assert "not a medical device" in " ".join(w.body for w in app.warning)
    assert "Upload one or several" in app.info[0].value
    assert "version" in " ".join(c.value for c in app.caption)


def test_diagnose_a_batch_with_a_bad_file_records_the_good_ones():
    from core.samples import list_samples
    from core.store.predictions import PredictionStore

    before = len(PredictionStore().query(owner=None))
    samples = list_samples()
    normal = next(s for s in samples if s.label == "NORMAL")
    pneumonia = next(s for s in samples if s.label == "PNEUMONIA")
    app = _run("pages/diagnose.py")
    app.toggle(key="keep_names").set_value(True)  # names as given (pseudonyms: test_accounts.py)
    uploader = app.file_uploader(key="diagnose_uploads")
    uploader.upload(normal.path.name, normal.path.read_bytes())
    uploader.upload("notes.png", b"not an image\n" * 30)
    app.multiselect(key="diagnose_samples").set_value([pneumonia]).run()
    assert not app.exception, [e.message for e in app.exception]
    table = app.dataframe[0].value.set_index("File")
    assert table.loc[normal.path.name, "Verdict"] == "NORMAL"
    assert table.loc[pneumonia.path.name, "Verdict"] in ("PNEUMONIA", "borderline: review (leans PNEUMONIA)")
    assert table.loc["notes.png", "Verdict"] == "not read" and "not an image" in table.loc["notes.png", "Problem"]
    assert "not an image" in app.error[0].value
    verdicts = [m.value for m in app.metric if m.label == "Verdict"]
    assert verdicts[0] == "NORMAL" and verdicts[1] in ("PNEUMONIA", "Borderline")
    explained = [m.value for m in app.markdown if "Pneumonia score" in m.value]
    assert len(explained) == 2 and all("threshold" in text and "set on validation data" in text for text in explained)
    assert sum("Faithfulness:" in m.value for m in app.markdown) == 2
    assert len(app.get("download_button")) == 1 + 3 * 2  # the CSV; per image a PNG and a PDF report, a GLB relief
    records = PredictionStore().query(owner=None)
    assert len(records) == before + 2 and not any(r.has_image for r in records[:2])
    # A rerun with another heat-map method does not record the same images again.
    app.selectbox(key="cam_method").set_value("Eigen-CAM").run()
    assert not app.exception and len(PredictionStore().query(owner=None)) == before + 2
    assert sum("Eigen-CAM: evidence for" in c.value for c in app.caption) == 2
    assert sum("Eigen-CAM, evidence for" in title for title in _viewer_titles(app)) == 2  # the film, full size


def _progress_page():
    import streamlit as st

    from ui.memo import memo
    from ui.progress import ProgressBar

    def compute() -> int:
        with ProgressBar("Counting") as progress:  # drawn while computing, as Score-CAM and tomography do
            for step in range(1, 5):
                progress(step / 4)
            return st.session_state.setdefault("computed", 0) + 1

    st.session_state["result"] = memo("test progress", 4).get_or_compute(("key", st.slider("x", 0, 9, 0)), compute)


def test_a_progress_bar_over_a_memoised_result_survives_reruns():
    """Score-CAM and tomography draw their progress while computing: a result kept by Streamlit's own cache would
    replay that drawing on the next run and fail; the memo computes once and draws nothing on a hit."""
    app = AppTest.from_function(_progress_page, default_timeout=TIMEOUT_S)
    app.run()
    assert not app.exception and app.session_state["result"] == 1
    app.slider[0].set_value(0).run()  # a rerun with the same key: the memo's result, no replay
    assert not app.exception and app.session_state["result"] == 1
    app.slider[0].set_value(3).run()  # another key: computed (and drawn) again
    assert not app.exception


def test_diagnose_offers_a_comparison_on_demand():
    from core.samples import list_samples

    sample = next(s for s in list_samples() if s.label == "NORMAL")
    app = _run("pages/diagnose.py")
    app.multiselect(key="diagnose_samples").set_value([sample]).run()
    assert not app.exception and not any(t.label.startswith("Left") for t in app.selectbox)
    app.toggle(key="compare_on").set_value(True).run()
    assert not app.exception, [e.message for e in app.exception]
    texts = " ".join(c.value for c in app.caption) + " ".join(b.label for b in app.selectbox)
    assert "Upload two images" in texts or "Left" in texts  # one upload: a second one is needed, or a kept record


def test_an_image_unlike_the_training_images_reads_unreliable_in_table_card_and_history():
    """A photograph is flagged as unfamiliar: its verdict reads unreliable everywhere it is shown; a shipped sample
    beside it is not flagged."""
    import io

    from PIL import Image
    from skimage.data import astronaut

    from core.samples import list_samples
    from core.types import UNFAMILIAR

    photo = io.BytesIO()
    Image.fromarray(astronaut()).save(photo, format="PNG")
    normal = next(s for s in list_samples() if s.label == "NORMAL")
    app = _run("pages/diagnose.py")
    app.toggle(key="keep_names").set_value(True)
    app.file_uploader(key="diagnose_uploads").upload("astronaut.png", photo.getvalue())
    app.multiselect(key="diagnose_samples").set_value([normal]).run()
    assert not app.exception, [e.message for e in app.exception]
    table = app.dataframe[0].value.set_index("File")
    lean = table.loc["astronaut.png", "Verdict"].removeprefix("unreliable: unfamiliar image (reads ").removesuffix(")")
    assert lean in ("NORMAL", "PNEUMONIA")
    assert (table.loc["astronaut.png", "Unfamiliar"], table.loc[normal.path.name, "Unfamiliar"]) == (
        "yes",
        "not flagged",
    )
    assert table.loc[normal.path.name, "Verdict"] == "NORMAL"
    verdicts = [(m.value, m.delta) for m in app.metric if m.label == "Verdict"]
    assert verdicts[0] == ("Unreliable", f"unfamiliar image · reads {lean}") and verdicts[1][0] == "NORMAL"
    flagged = [e.value for e in app.error if e.value.startswith(UNFAMILIAR)]
    assert len(flagged) == 1 and "the verdict is unreliable" in flagged[0]  # on the photo's card only
    captions = [c.value for c in app.caption if c.value.startswith("Unfamiliarity")]
    assert len(captions) == 2 and all("(flagged above 0." in c for c in captions)

    history = _run("pages/history.py")
    rows = history.dataframe[0].value.set_index("File")
    assert (rows.loc["astronaut.png", "Unfamiliar"], rows.loc[normal.path.name, "Unfamiliar"]) == ("yes", "not flagged")
    assert rows.loc["astronaut.png", "Unfamiliarity"] > rows.loc[normal.path.name, "Unfamiliarity"]
    assert rows.loc["astronaut.png", "Verdict"] == table.loc["astronaut.png", "Verdict"]
    history.checkbox(key="history_unfamiliar").check().run()
    assert not history.exception, [e.message for e in history.exception]
    assert list(history.dataframe[0].value["File"]) == ["astronaut.png"]


def test_a_model_without_an_unfamiliarity_reference_says_not_assessed(tmp_path):
    from core.classify.checkpoint import DEFAULT_MODEL_PATH, load_model
    from core.classify.ood import attach_bank
    from core.samples import list_samples
    from core.store.predictions import PredictionStore

    model, meta = load_model(DEFAULT_MODEL_PATH)
    attach_bank(model, None)
    with _active_variant(tmp_path / "no_reference.pt", model, meta.with_(ood=None)) as entry:
        normal = next(s for s in list_samples() if s.label == "NORMAL")
        app = _run("pages/diagnose.py")
        app.multiselect(key="diagnose_samples").set_value([normal]).run()
        assert not app.exception, [e.message for e in app.exception]
        row = app.dataframe[0].value.iloc[0]
        assert (row["Verdict"], row["Unfamiliar"]) == ("NORMAL", "not assessed")
        assert "Unfamiliarity: not assessed (this model has no reference)" in [c.value for c in app.caption]
        assert not any("resembles the images" in m.value for m in app.markdown)
        (record,) = PredictionStore().query(owner=None, model_version=entry.version)
        assert (record.unfamiliar, record.ood_score) == (None, None)


def test_history_says_not_assessed_for_records_without_an_unfamiliarity_score():
    from core.store.predictions import PredictionStore
    from core.types import Prediction

    prediction = Prediction(label="NORMAL", probabilities={"NORMAL": 0.9, "PNEUMONIA": 0.1}, threshold=0.5,
                            model="no-reference.pt")  # fmt: skip
    PredictionStore().add(file_name="unassessed.jpeg", sha256="e" * 64, prediction=prediction, model_version="old1",
                          owner="local")  # fmt: skip
    app = _run("pages/history.py")
    table = app.dataframe[0].value
    assert (table["File"].iloc[0], table["Unfamiliar"].iloc[0]) == ("unassessed.jpeg", "not assessed")
    assert table["Unfamiliarity"].isna().iloc[0] and table["Verdict"].iloc[0] == "NORMAL"
    app.checkbox(key="history_unfamiliar").check().run()
    assert not app.exception and "No prediction matches" in app.info[0].value


def test_history_lists_and_filters_the_records():
    from core.store.predictions import PredictionStore
    from core.types import Prediction

    store = PredictionStore()
    prediction = Prediction(label="PNEUMONIA", probabilities={"NORMAL": 0.1, "PNEUMONIA": 0.9}, threshold=0.5,
                            model="history-test.pt")  # fmt: skip
    store.add(file_name="history_case.jpeg", sha256="f" * 64, prediction=prediction, model_version="hist0001",
              owner="local", image=(REPO_ROOT / "core/data/samples/NORMAL/IM-0249-0001.jpeg").read_bytes())  # fmt: skip
    app = _run("pages/history.py")
    app.text_input(key="history_name").set_value("history_case").run()
    assert not app.exception, [e.message for e in app.exception]
    table = app.dataframe[0].value
    assert list(table["File"]) == ["history_case.jpeg"] and table["Image kept"].iloc[0]
    assert "1 predictions" in app.subheader[0].value
    assert any("history_case.jpeg" in title for title in _viewer_titles(app)), "the kept image is shown"
    app.multiselect(key="history_labels").set_value(["NORMAL"]).run()
    assert "No prediction matches" in app.info[0].value


def test_reconstruct_demo_tomography_is_scored_against_the_ct():
    app = _run("pages/reconstruct.py")
    metrics = {m.label: m.value for m in app.metric}
    assert float(metrics["Lung Dice vs CT labels"]) >= 0.95  # 90 views, FBP: the target
    app.radio(key="recon_mode").set_value("visual-hull").run()
    assert not app.exception, [e.message for e in app.exception]
    metrics = {m.label: m.value for m in app.metric}
    assert 0.5 < float(metrics["Lung Dice vs CT labels"]) < 0.9
    assert len(app.get("download_button")) == 3  # STL, PLY and GLB


def test_open_in_vr_stores_the_scene_and_shows_its_link():
    from core.store.scenes import SceneStore

    app = _run("pages/reconstruct.py")
    app.button(key="lungs_tomography_vr").click().run()
    assert not app.exception, [e.message for e in app.exception]
    link = next(c.value for c in app.code if "/xr/" in c.value)
    scene = SceneStore().get(link.rsplit("/", 1)[1])
    assert scene.title == "Lungs: tomography" and SceneStore().model(scene.id)[:4] == b"glTF"
    app.button(key="lungs_tomography_vr").click().run()  # again: the same scene (its pins kept), the page whole
    assert not app.exception and next(c.value for c in app.code if "/xr/" in c.value) == link


def test_diagnose_offers_the_heat_map_relief_in_vr():
    from core.samples import list_samples

    pneumonia = next(s for s in list_samples() if s.label == "PNEUMONIA")
    app = _run("pages/diagnose.py")
    app.multiselect(key="diagnose_samples").set_value([pneumonia]).run()
    app.button(key="heat_relief_0_vr").click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert any("/xr/" in c.value for c in app.code)


def test_reconstruct_single_view_says_it_is_an_approximation():
    app = _run("pages/reconstruct.py")
    app.radio(key="recon_mode").set_value("single-view").run()
    assert not app.exception, [e.message for e in app.exception]
    assert "Approximation, not a reconstruction" in app.warning[0].body


def test_reconstruct_from_uploads_refuses_views_of_different_sizes():
    from core.samples import list_samples

    normal = [s for s in list_samples() if s.label == "NORMAL"]
    app = _run("pages/reconstruct.py")
    app.radio(key="recon_mode").set_value("visual-hull").run()
    app.radio(key="recon_source").set_value("Upload X-rays").run()
    app.multiselect(key="recon_samples").set_value(normal[:2]).run()
    assert not app.exception, [e.message for e in app.exception]
    assert "different sizes" in app.error[0].value


def test_activating_a_model_switches_what_diagnose_uses(tmp_path):
    from core.classify.checkpoint import DEFAULT_MODEL_PATH, load_model, save_checkpoint
    from core.store.registry import ModelRegistry

    model, meta = load_model(DEFAULT_MODEL_PATH)
    other = save_checkpoint(tmp_path / "retrained.pt", model=model, meta=meta.with_(epoch=99))
    registry = ModelRegistry()
    entry = registry.register(other, meta)
    try:
        registry.activate(entry.version)
        app = _run("pages/diagnose.py")
        caption = " ".join(c.value for c in app.caption)
        assert "retrained.pt" in caption and entry.version in caption
    finally:
        registry.deactivate()  # back to the shipped default for the other tests
    app = _run("pages/diagnose.py")
    assert "default.pt" in " ".join(c.value for c in app.caption)


def test_a_score_in_the_models_borderline_band_reads_review_in_card_table_and_history(tmp_path):
    from core.classify.checkpoint import DEFAULT_MODEL_PATH, load_model
    from core.samples import list_samples
    from core.store.predictions import PredictionStore

    model, meta = load_model(DEFAULT_MODEL_PATH)
    with _active_variant(tmp_path / "wide_band.pt", model, meta.with_(borderline=50.0)) as entry:  # all borderline
        pneumonia = next(s for s in list_samples() if s.label == "PNEUMONIA")
        app = _run("pages/diagnose.py")
        app.multiselect(key="diagnose_samples").set_value([pneumonia]).run()
        assert not app.exception, [e.message for e in app.exception]
        reading = app.dataframe[0].value["Verdict"].iloc[0]
        assert reading.startswith("borderline: review (leans ")
        lean = reading.removeprefix("borderline: review (leans ").removesuffix(")")
        verdicts = [(m.value, m.delta) for m in app.metric if m.label == "Verdict"]
        assert verdicts == [("Borderline", f"review · leans {lean}")]
        assert any("borderline band" in m.value and "review the image" in m.value for m in app.markdown)
        assert any('read "borderline: review"' in c.value for c in app.caption)
        (record,) = PredictionStore().query(owner=None, model_version=entry.version)
        assert record.borderline and record.reading == reading
        history = _run("pages/history.py")
        assert reading in list(history.dataframe[0].value["Verdict"])
        history.checkbox(key="history_borderline").check().run()
        assert set(history.dataframe[0].value["Verdict"]) == {reading}


# Admin pages in single-user mode (its one user is an admin); sign-in is tested in test_accounts.py.


def test_the_train_page_takes_a_folder_without_val(tmp_path):
    """The README's layout is train/ + test/; val/ is optional (validation patients are split off train/)."""
    from PIL import Image

    for split in ("train", "test"):
        for label in ("NORMAL", "PNEUMONIA"):
            (tmp_path / split / label).mkdir(parents=True)
            Image.new("L", (64, 64), 100).save(tmp_path / split / label / f"IM-0001-{len(split)}.png")
    app = _run("pages/train.py")
    app.text_input(key="train_data").set_value(str(tmp_path)).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert list(app.dataframe[0].value["split"]) == ["train", "test"]
    (tmp_path / "test" / "NORMAL" / "IM-0001-4.png").unlink()
    app.text_input(key="train_data").set_value(str(tmp_path) + "/").run()  # a new path: not the cached summary
    assert "'test/NORMAL/' holds no image" in app.error[0].value


def test_a_short_training_started_from_the_page_reaches_the_registry(shared_data):
    import time

    from core.jobs import JobRunner
    from core.store.registry import ModelRegistry

    app = _run("pages/train.py")
    app.text_input(key="train_data").set_value(str(shared_data / "chest_xray")).run()
    counts = app.dataframe[0].value.set_index("split")
    assert counts.loc["train", "NORMAL"] == 1341 and counts.loc["test", "PNEUMONIA"] == 390
    app.number_input(key="train_epochs").set_value(1)
    app.select_slider(key="train_size").set_value(64)
    app.number_input(key="train_limit").set_value(16)
    app.selectbox(key="train_arch").set_value("efficientnet_lite0")
    app.toggle(key="train_pretrained").set_value(True)  # ImageNet weights, installed: no network needed
    app.toggle(key="train_mixup").set_value(True)
    app.button[[b.label for b in app.button].index("Start training")].click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert "started" in app.success[0].value
    runner = JobRunner()
    job = runner.jobs()[0]
    deadline = time.monotonic() + 240
    while runner.get(job.id).status == "running" and time.monotonic() < deadline:
        time.sleep(1)
    job = runner.get(job.id)
    assert job.status == "succeeded", job.log_tail()
    entry = ModelRegistry().get(job.model_version)
    assert entry.meta.recipe["input_size"] == 64 and "accuracy" in entry.meta.test
    assert entry.meta.arch == "efficientnet_lite0" and entry.meta.recipe["pretrained"]
    assert entry.meta.recipe["mixup"] == 0.4  # the page's toggle reached the recipe
    models = _run("pages/models.py")
    assert job.model_version in list(models.dataframe[0].value["Version"])


def test_activating_a_model_asks_for_confirmation_with_its_test_size_and_intervals(quick_model):
    from core.classify.checkpoint import read_meta
    from core.store.registry import ModelRegistry

    registry = ModelRegistry()
    entry = registry.register(quick_model, read_meta(quick_model), name="small trial")
    try:
        app = _run("pages/models.py")
        table = app.dataframe[0].value.set_index("Version")
        assert table.loc[entry.version, "Test n"].endswith("⚠ few")  # a trial tested on a subset
        assert all("(" in cell for cell in table["AUC"])  # every figure with its interval
        pick = app.selectbox(key="models_pick")
        pick.select_index(next(i for i, option in enumerate(pick.options) if entry.version in option)).run()
        app.button(key="models_activate").click().run()
        assert registry.active() is None or registry.active().version != entry.version  # not yet: it asks first
        box = " ".join(m.value for m in app.markdown)
        assert f"Activate small trial ({entry.version}) for every doctor's Diagnose?" in box and "AUC" in box
        assert any("fewer than 200 images" in w.value for w in app.warning)
        app.button(key="models_activate_confirm").click().run()
        assert not app.exception and registry.active().version == entry.version
    finally:
        registry.deactivate()
        registry.delete(entry.version)


def test_an_ensemble_built_on_the_models_page_is_registered_and_compared(shared_data, quick_model, second_member):
    from core.classify.checkpoint import read_meta
    from core.store.registry import ModelRegistry

    registry = ModelRegistry()
    members = []
    for seed, path in enumerate((quick_model, second_member)):  # two runs alike but for their seed
        members.append(registry.register(path, read_meta(path), name=f"member {seed}"))
    app = _run("pages/models.py")
    app.multiselect(key="models_members").set_value([m.version for m in members])
    app.text_input(key="models_ensemble_data").set_value(str(shared_data / "chest_xray"))
    app.button[[b.label for b in app.button].index("Build and register the ensemble")].click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert any(s.value.startswith("Registered Ensemble of 2 (member") for s in app.success)
    table = app.dataframe[0].value
    row = table[table["Model"].isin(["Ensemble of 2 (member 0, member 1)", "Ensemble of 2 (member 1, member 0)"])]
    assert list(row["Architecture"]) == ["2 × xraynet"] and row["Accuracy %"].iloc[0].endswith(")")


def test_a_model_calibrated_to_a_site_on_the_models_page_is_registered_then_activated_on_confirmation(
    shared_data, quick_model, tmp_path
):
    from core.classify.checkpoint import read_meta
    from core.store.registry import ModelRegistry

    site = tmp_path / "hospital_b"
    for label in ("NORMAL", "PNEUMONIA"):
        (site / label).mkdir(parents=True)
        for path in sorted((shared_data / "chest_xray" / "test" / label).iterdir())[:20]:
            (site / label / path.name).symlink_to(path)
    registry = ModelRegistry()
    source = registry.register(quick_model, read_meta(quick_model), name="quick")
    app = _run("pages/models.py")
    app.selectbox(key="models_recalibrate_model").set_value(
        next(o for o in app.selectbox(key="models_recalibrate_model").options if "quick" in o)
    )
    app.text_input(key="models_recalibrate_data").set_value(str(tmp_path / "nowhere"))
    app.button[[b.label for b in app.button].index("Recalibrate")].click().run()
    assert not app.exception and "does not exist" in app.error[0].value  # a sentence, nothing registered

    app.text_input(key="models_recalibrate_data").set_value(str(site))
    app.button[[b.label for b in app.button].index("Recalibrate")].click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    figures = app.dataframe[-1].value
    assert list(figures[""]) == ["before", "after"] and "[" in figures["Accuracy"].iloc[0]
    assert len(app.warning) >= 2  # 20 a class: accepted, with a warning per class
    register = next(b for b in app.button if b.label.startswith("Register as a new version: quick recalibrated"))
    register.click().run()
    entry = next(m for m in registry.models() if m.name == "quick recalibrated to 'hospital_b'")
    assert entry.meta.recalibration["data"]["counts"] == {"NORMAL": 20, "PNEUMONIA": 20}
    assert registry.active() is None or registry.active().version != entry.version  # not active until confirmed
    assert app.button(key="models_recalibrate_activate").disabled
    app.checkbox(key="models_recalibrate_confirm").check().run()
    app.button(key="models_recalibrate_activate").click().run()
    try:
        assert not app.exception and registry.active().version == entry.version
        diagnose = _run("pages/diagnose.py")
        assert "recalibrated to 'hospital_b'" in " ".join(c.value for c in diagnose.caption)
    finally:
        registry.deactivate()
    del source


def test_lab_finds_the_lungs_on_request():
    app = _run("pages/preprocessing_lab.py")
    assert not any(m.label == "Lungs" for m in app.metric)  # the lung model loads only when asked for
    app.toggle(key="lab_lungs").set_value(True).run()
    assert not app.exception, [e.message for e in app.exception]
    share = next(m for m in app.metric if m.label == "Lungs").value
    assert 10.0 < float(share.split(" %")[0]) < 60.0
    assert any("Right lung: found" in m.value and "left lung: found" in m.value for m in app.markdown)


def test_diagnose_outlines_the_lungs_and_says_how_much_heat_lies_inside_them():
    from core.samples import list_samples

    pneumonia = next(s for s in list_samples() if s.label == "PNEUMONIA")
    app = _run("pages/diagnose.py")
    app.multiselect(key="diagnose_samples").set_value([pneumonia]).run()
    assert not app.exception, [e.message for e in app.exception]
    assert any(m.value.startswith("Heat inside the lungs: ") and "% of the map" in m.value for m in app.markdown)

    def image_captions() -> str:
        return " ".join(image.caption for element in app.get("image") for image in element.proto.imgs)

    assert "lungs outlined" in image_captions()
    app.toggle(key="lung_outline").set_value(False).run()
    assert "lungs outlined" not in image_captions() and "As the model saw it" in image_captions()


def test_reconstruct_finds_the_lungs_with_the_lung_model_or_the_classical_method():
    app = _run("pages/reconstruct.py")
    app.radio(key="recon_mode").set_value("visual-hull").run()
    dice_of = {}
    for learned in (True, False):
        app.radio(key="recon_learned").set_value(learned).run()
        assert not app.exception, [e.message for e in app.exception]
        dice_of[learned] = float(next(m for m in app.metric if m.label == "Lung Dice vs CT labels").value)
    assert dice_of[True] != dice_of[False] and min(dice_of.values()) > 0.3
