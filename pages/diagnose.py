"""Diagnose: drop chest X-rays, read each verdict with its calibrated probability and a heat map, keep a record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import CoreError
from core.explain import CAM_METHODS
from core.export.heatmap import HEAT_COLOURMAPS, colour_bar, describe_heat_in_lungs, draw_outline
from core.export.report import REPORT_FORMATS, diagnosis_report
from core.io import kept_copy
from core.reconstruct.surface import height_field
from core.suitability import suitability_warnings
from core.types import Prediction, pseudonym
from ui.auth import audit, require_user
from ui.diagnosis import diagnose_cached, predict_cached
from ui.inputs import Upload, pick_xrays
from ui.layout import RESEARCH_NOTICE
from ui.models import active_diagnoser, prediction_store
from ui.navigation import page_setup
from ui.viewer import image_viewer, pane, record_pane
from ui.xr import vr_panel

page_setup()
user = require_user()

CARDS_PER_PAGE = 4

st.title("Diagnose")
st.warning(RESEARCH_NOTICE, icon=":material/warning:")
try:
    diagnoser = active_diagnoser()
except CoreError as error:
    st.error(f"The model cannot be loaded. {error}")
    st.stop()
classifier = diagnoser.classifier
if diagnoser.lung_problem:
    st.warning(diagnoser.lung_problem, icon=":material/warning:")
test = classifier.test_figures or {}
model_line = f"Model **{classifier.description}** · version `{classifier.version}`"
if test:
    model_line += (
        f" · on the held-out test split: accuracy {100 * test['accuracy']:.1f} %, sensitivity "
        f"{100 * test['sensitivity']:.1f} %, specificity {100 * test['specificity']:.1f} %, AUC {test['auc']:.3f}"
    )
st.caption(model_line)
MODEL_FACTS = {"version": classifier.version, "test": classifier.test_figures}  # what a report says of the model

with st.sidebar:
    st.header("Heat map")
    method = st.selectbox(
        "Method",
        list(CAM_METHODS),
        key="cam_method",
        help="Score-CAM is the slowest (about 2 s per image on two CPU cores).",
    )
    opacity = st.slider("Opacity", 0.0, 1.0, 0.6, 0.05, key="cam_opacity")
    colourmap = st.selectbox("Colour scale", HEAT_COLOURMAPS, key="cam_colours")
    st.image(
        colour_bar(colourmap), caption="0 (no evidence, clear below 0.15) → 1 (strongest evidence)", width="stretch"
    )
    faithfulness = st.toggle(
        "Faithfulness check",
        value=True,
        key="cam_faithfulness",
        help="Remove the map's top 20 % of pixels and, separately, 20 % random pixels; compare "
        "how much the verdict's probability falls.",
    )
    outline = st.toggle(
        "Lung outline",
        value=True,
        key="lung_outline",
        help="The lungs found by the lung model, drawn on the image and the heat map.",
    )
    st.header("Records")
    keep_images = st.toggle(
        "Keep the image files in the database",
        value=False,
        key="keep_images",
        help="Off: each verdict is recorded with the file's SHA-256 hash and name (a pseudonym unless file names "
        "are kept), not the file. On: the image too, without its identifying data (a DICOM file with its image "
        "tags only; a JPEG or PNG as a PNG without metadata).",
    )
    keep_names = st.toggle(
        "Keep file names",
        value=False,
        key="keep_names",
        help="Off: each file is shown and recorded as image-<the first 12 hex digits of its SHA-256> (file names "
        "often hold a patient's name or ID). On: under its own name. Applies to the verdicts recorded from then on.",
    )
    name_on_reports = st.toggle(
        "Print file names on reports",
        value=False,
        key="name_on_reports",
        help="Off: reports name the file by its pseudonym. On: by its own name.",
    )

uploads = pick_xrays(key="diagnose")
if not uploads:
    st.info("Upload one or several chest X-rays, or pick samples, to get verdicts and heat maps.")
    st.stop()
readable = [u for u in uploads if u.xray is not None]


def shown(upload: Upload) -> str:
    """The name a file is shown and recorded under: its own with "Keep file names", else its pseudonym."""
    return upload.name if keep_names or upload.xray is None else pseudonym(upload.name, upload.xray.sha256)


predictions = dict(zip((id(u) for u in readable), predict_cached(diagnoser, [u.xray for u in readable]), strict=True))


def record(upload: Upload) -> None:
    """Keep the prediction on record once per session, model and file."""
    key = (classifier.version, upload.xray.sha256)
    recorded = st.session_state.setdefault("diagnose_recorded", set())
    if key in recorded:
        return
    prediction = predictions[id(upload)]
    kept = None
    if keep_images:
        try:
            kept = kept_copy(upload.data, name=upload.name)
        except CoreError as error:
            st.warning(str(error))
    try:
        record_id = prediction_store().add(
            file_name=shown(upload),
            sha256=upload.xray.sha256,
            prediction=prediction,
            model_version=classifier.version,
            warnings=suitability_warnings(upload.xray),
            image=kept,
            owner=user.name,
        )
    except CoreError as error:
        st.warning(f"The prediction for '{shown(upload)}' was not recorded: {error}")
        return
    recorded.add(key)
    audit("verdict", record_id, prediction.reading)


for upload in readable:
    record(upload)


def unfamiliar_cell(prediction: Prediction) -> str:
    """Whether the image was flagged as unlike the model's training images, in the table's words."""
    if prediction.out_of_distribution is None:
        return "not assessed"  # the model has no reference to compare with
    return "yes" if prediction.unfamiliar else "not flagged"


# ---- Batch table -------------------------------------------------------------------------------------------------
table = pd.DataFrame(
    [
        {
            "File": shown(u),
            "Verdict": predictions[id(u)].reading if u.xray is not None else "not read",
            "Pneumonia score": predictions[id(u)].score if u.xray is not None else None,
            "Unfamiliar": unfamiliar_cell(predictions[id(u)]) if u.xray is not None else "",
            "SHA-256": u.xray.sha256[:12] if u.xray is not None else "",
            "Problem": u.error or "",
        }
        for u in uploads
    ]
)
st.subheader(f"{len(readable)} of {len(uploads)} images classified")
st.dataframe(
    table,
    hide_index=True,
    key="diagnose_table",
    column_config={"Pneumonia score": st.column_config.ProgressColumn(format="%.3f", min_value=0.0, max_value=1.0)},
)
st.caption(f"{classifier.rule()} Click a column header to sort.")
st.download_button(
    "Download the table (CSV)",
    data=table.to_csv(index=False).encode(),
    file_name=f"verdicts_{dt.datetime.now(dt.UTC):%Y%m%d_%H%M%S}.csv",
    mime="text/csv",
    key="download_csv",
    on_click=lambda: audit("export-records", f"{len(table)} verdicts", "Diagnose table (CSV)"),
)
for upload in uploads:
    if upload.error:
        st.error(upload.error)

# ---- One card per image ------------------------------------------------------------------------------------------
if not readable:
    st.stop()
pages = (len(readable) + CARDS_PER_PAGE - 1) // CARDS_PER_PAGE
page = st.number_input(f"Images {CARDS_PER_PAGE} at a time: page", 1, pages, 1, key="card_page") if pages > 1 else 1
for index, upload in enumerate(readable[(page - 1) * CARDS_PER_PAGE : page * CARDS_PER_PAGE]):
    diagnosis = diagnose_cached(diagnoser, upload.xray, method=method, faithfulness=faithfulness)
    prediction, cam = diagnosis.prediction, diagnosis.cam
    with st.container(border=True, key=f"card_{index}"):
        name = shown(upload)
        st.markdown(f"#### {name}")
        if prediction.unfamiliar:  # the verdict cannot be relied on: said before anything else about it
            st.error(prediction.out_of_distribution.explanation(), icon=":material/help:")
        for warning in diagnosis.warnings:
            st.warning(warning, icon=":material/report:")
        lungs = diagnosis.lungs.lungs if diagnosis.lungs is not None else None
        label, score = st.columns(2)
        if prediction.unfamiliar:  # "unreliable: unfamiliar image", what it reads under it
            label.metric("Verdict", "Unreliable", delta=f"unfamiliar image · reads {prediction.label}",
                         delta_color="off", delta_arrow="off")  # fmt: skip
        elif prediction.borderline:  # "borderline: review", the lean under it (a metric shows one short value)
            label.metric("Verdict", "Borderline", delta=f"review · leans {prediction.label}", delta_color="off",
                         delta_arrow="off")  # fmt: skip
        else:
            label.metric("Verdict", prediction.label)
        score.metric("Pneumonia score", f"{prediction.score:.3f}", delta=f"threshold {prediction.threshold:.3f}",
                     delta_color="off", delta_arrow="off")  # fmt: skip
        ood = prediction.out_of_distribution
        st.caption("Unfamiliarity: not assessed (this model has no reference)" if ood is None else
                   f"Unfamiliarity {ood.score:.3f} (flagged above {ood.threshold:.3f})")  # fmt: skip
        st.markdown(prediction.explanation())
        st.caption(f"Model {classifier.description}, version {classifier.version}.")
        image_viewer(
            [pane(upload.xray, key=(classifier.version, cam.method, cam.target, lungs is not None),
                  title=f"{name}: {cam.method}, evidence for {cam.target}", heat=cam.heat, lungs=lungs)],
            key=f"viewer_{index}", colourmap=colourmap, outline=outline, opacity=opacity,
        )  # fmt: skip
        st.caption(f"{cam.method}: evidence for {cam.target}, over the film at full resolution"
                   + (", lungs outlined" if outline and lungs is not None else "") + ".")  # fmt: skip
        if cam.faithfulness is not None:
            f = cam.faithfulness
            text = f"**Faithfulness: {f.assessment}.** {f.describe(cam.target)}"
            if f.assessment == "decorative":
                text += " This map does not show what the model relies on: do not read it as evidence."
            st.markdown(text)
        if diagnosis.lungs is not None:
            st.markdown(describe_heat_in_lungs(diagnosis.heat_in_lungs, cam.target, diagnosis.lungs.area_share))
        with st.expander("As the model saw it"):
            st.image(
                draw_outline(diagnosis.model_input, lungs if outline else None),
                caption=f"As the model saw it ({classifier.input_size}×{classifier.input_size}, median-filtered, "
                f"stretched)" + (", lungs outlined" if outline and lungs is not None else ""),
                width=min(448, 2 * classifier.input_size),
            )
        alias = pseudonym(upload.name, upload.xray.sha256)  # what the audit trail names it: never the file's name
        printed = upload.name if name_on_reports else alias
        for column, fmt in zip(st.columns(len(REPORT_FORMATS)), REPORT_FORMATS, strict=True):
            column.download_button(
                f"Report ({fmt.upper()})",
                data=lambda d=diagnosis, f=fmt, n=printed: diagnosis_report(
                    d, model=MODEL_FACTS, fmt=f, opacity=opacity, colourmap=colourmap, file_name=n
                ),
                file_name=f"{Path(printed).stem}_report.{fmt}",
                mime=REPORT_FORMATS[fmt],
                key=f"report_{fmt}_{index}",
                on_click=lambda n=alias, f=fmt: audit("export-report", n, f.upper()),
            )
        with st.expander("3D: the heat map on the image's intensity relief (Open in VR)", icon=":material/view_in_ar:"):
            vr_panel(height_field(upload.xray.pixels, values=cam.heat), title=f"{cam.method} on {alias}'s relief",
                     key=f"heat_relief_{index}", colourmap=colourmap, double_sided=True,
                     patient_frame=False)  # fmt: skip

# ---- Compare two images ------------------------------------------------------------------------------------------
compare = st.toggle(
    "Compare two images side by side",
    key="compare_on",
    help="Any two uploads, or an upload against a kept record (today's film against a prior).",
)
if not compare:
    st.stop()
try:
    owner = None if user.is_admin else user.name
    kept = [r for r in prediction_store().query(owner=owner, limit=50) if r.has_image]
except CoreError as error:
    kept = []
    st.caption(f"Kept images cannot be listed: {error}")
choices = [("upload", i) for i in range(len(readable))] + [("record", r) for r in kept]


def choice_label(choice: tuple[str, object]) -> str:
    kind, item = choice
    return f"upload: {shown(readable[item])}" if kind == "upload" else f"record #{item.id}: {item.file_name}"


if len(choices) < 2:
    st.caption("Upload two images, or keep images in the records (sidebar), to compare two side by side.")
    st.stop()
first, second = st.columns(2)
a = first.selectbox("Left", choices, index=0, format_func=choice_label, key="compare_left")
b = second.selectbox("Right", choices, index=1, format_func=choice_label, key="compare_right")
panes = []
for kind, item in (a, b):
    try:
        panes.append(
            pane(readable[item].xray, key=("plain",), title=shown(readable[item]))
            if kind == "upload"
            else record_pane(
                prediction_store(), item, f"#{item.id} {item.file_name} ({item.created:%Y-%m-%d})", owner=owner
            )
        )
    except CoreError as error:
        st.error(f"{choice_label((kind, item))}: {error}")
if len(panes) == 2:
    image_viewer(panes, key="compare_viewer")
    st.caption("Zoom and pan are linked, and the window too between images of the same bit depth (untick “Linked” "
               "in the viewer to move one side alone).")  # fmt: skip
