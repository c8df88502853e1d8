"""Models (admin): every classifier side by side, which one Diagnose uses, and housekeeping."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.classify.card import render_model_card
from core.classify.checkpoint import DEFAULT_MODEL_PATH, ModelMeta, read_meta
from core.classify.data import LABELS
from core.classify.ensemble import build_ensemble
from core.classify.recalibrate import FEWEST_PER_CLASS, WARN_BELOW_PER_CLASS, recalibrate
from core.errors import CoreError
from core.store.db import data_home
from ui.auth import audit, require_admin
from ui.models import default_model_meta, default_model_version, model_registry
from ui.navigation import page_setup

page_setup()
st.title("Models")
require_admin()
registry = model_registry()
try:
    registered = registry.models()
    active = registry.active()
    shipped = {"version": default_model_version(), "name": "Shipped default", "meta": default_model_meta(),
               "active": active is None, "registered": False}  # fmt: skip
except CoreError as error:
    st.error(str(error))
    st.stop()
models = [shipped] + [{"version": m.version, "name": m.name, "meta": m.meta, "active": m.active, "registered": True,
                       "path": m.path} for m in registered]  # fmt: skip
shipped["path"] = DEFAULT_MODEL_PATH


#: Fewer test images than this and a model's figures are too uncertain to compare: marked in the table.
FEW_TEST_IMAGES = 200


def figure(figures: dict | None, key: str):
    value = (figures or {}).get(key)
    return None if value is None else float(value)


def with_interval(figures: dict | None, key: str, percent: bool, digits: int = 3) -> str:
    """``"99.7 (99.2–100.0)"`` (percent) or ``"0.981 (0.970–0.989)"``: the figure and its 95 % interval where
    recorded (``digits`` for a figure that is not a percentage)."""
    value = figure(figures, key)
    if value is None:
        return "–"
    scale, form = (100, "{:.1f}") if percent else (1, f"{{:.{digits}f}}")
    text = form.format(value * scale)
    low_high = ((figures or {}).get("ci95") or {}).get(key)
    return text + (f" ({form.format(low_high[0] * scale)}–{form.format(low_high[1] * scale)})" if low_high else "")


def test_size(meta: ModelMeta) -> str:
    n = figure(meta.test, "n")
    if n is None:
        return "not tested"
    return f"{int(n)}" + (" ⚠ few" if n < FEW_TEST_IMAGES else "")


table = pd.DataFrame(
    [
        {
            "Model": ("● " if m["active"] else "") + m["name"],
            "Version": m["version"],
            "Architecture": m["meta"].architecture_label,
            "Test n": test_size(m["meta"]),
            "Accuracy %": with_interval(m["meta"].test, "accuracy", True),
            "Sensitivity %": with_interval(m["meta"].test, "sensitivity", True),
            "Specificity %": with_interval(m["meta"].test, "specificity", True),
            "AUC": with_interval(m["meta"].test, "auc", False, digits=2),
        }
        for m in models
    ]
)
st.dataframe(table, hide_index=True, key="models_table", width="stretch")
st.caption(
    "● the model Diagnose uses. Figures on each model's held-out test split, each with its 95 % interval in "
    "brackets (n images; trial runs on a subset are tested on a subset too); models were chosen and calibrated on "
    "validation only. ⚠ few: tested on "
    f"fewer than {FEW_TEST_IMAGES} images, too few to compare with the others. Recipes (epochs, input size, "
    "augmentation) and validation figures are in each model's card below."
)

left, right = st.columns(2)
roc = go.Figure()
for m in models:
    curve = (m["meta"].test or {}).get("roc")
    if curve:
        roc.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=f"{m['name']} ({m['version']})"))
roc.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="chance"))
roc.update_layout(
    title="ROC on the test split",
    xaxis_title="1 − specificity",
    yaxis_title="sensitivity",
    height=460,
    legend={"orientation": "h", "y": -0.25},
)
left.plotly_chart(roc, key="models_roc")
with right:
    chosen = st.selectbox("Model", models, format_func=lambda m: f"{m['name']} · {m['version']}", key="models_pick")
    confusion = (chosen["meta"].test or {}).get("confusion")
    if confusion:
        st.dataframe(pd.DataFrame(confusion, index=list(LABELS), columns=[f"→ {n}" for n in LABELS]),
                     key="models_confusion")  # fmt: skip
        st.caption("Test split. Rows: the data set's label; columns (→): the model's verdict.")
    buttons = st.columns(2)
    if not chosen["active"] and buttons[0].button("Activate for Diagnose", key="models_activate", type="primary"):
        st.session_state["models_confirm"] = chosen["version"]
    if st.session_state.get("models_confirm") == chosen["version"] and not chosen["active"]:
        test = chosen["meta"].test or {}
        with st.container(border=True, key="models_confirm_box"):
            st.markdown(
                f"**Activate {chosen['name']} ({chosen['version']}) for every doctor's Diagnose?** Tested on "
                f"{test_size(chosen['meta'])} images: sensitivity {with_interval(test, 'sensitivity', True)} %, "
                f"specificity {with_interval(test, 'specificity', True)} %, AUC {with_interval(test, 'auc', False)} "
                "(95 % intervals in brackets)."
            )
            if figure(test, "n") is None or figure(test, "n") < FEW_TEST_IMAGES:
                st.warning(f"This model was tested on fewer than {FEW_TEST_IMAGES} images: its figures are uncertain.")
            confirm, cancel = st.columns(2)
            if confirm.button("Confirm activation", key="models_activate_confirm", type="primary"):
                try:
                    registry.activate(chosen["version"]) if chosen["registered"] else registry.deactivate()
                except CoreError as error:
                    st.error(str(error))
                else:
                    audit("activate-model", chosen["version"], chosen["name"])
                    st.session_state.pop("models_confirm", None)
                    st.rerun()
            if cancel.button("Cancel", key="models_activate_cancel"):
                st.session_state.pop("models_confirm", None)
                st.rerun()
    if chosen["registered"] and not chosen["active"] and buttons[1].button("Delete", key="models_delete"):
        try:
            registry.delete(chosen["version"])
        except CoreError as error:
            st.error(str(error))
        else:
            audit("delete-model", chosen["version"], chosen["name"])
            st.rerun()
    if chosen["active"]:
        buttons[0].success("Diagnose uses this model.")

with st.expander(f"Model card: {chosen['name']}", expanded=False):
    st.markdown(render_model_card(chosen["meta"], title=chosen["name"]))

st.subheader("Combine models into an ensemble")
st.caption(
    "A deep ensemble averages the verdicts (logits) of models trained alike but for their seed; it is usually more "
    "accurate and better calibrated than each of them. Members must share the recipe and the validation split seed: "
    "the ensemble's temperature and threshold are fitted on that validation split, then it is tested like any model."
)
by_version = {m["version"]: m for m in models if m["meta"].members == 1}
with st.form("models_ensemble"):
    picked = st.multiselect("Members", list(by_version), key="models_members",
                            format_func=lambda v: f"{by_version[v]['name']} · {v}")  # fmt: skip
    data = st.text_input("Data folder they were trained on", value=os.environ.get("XRAY_TRAIN_DATA", ""),
                         key="models_ensemble_data")  # fmt: skip
    build = st.form_submit_button("Build and register the ensemble")
if build:
    out = data_home() / "ensembles" / f"ensemble-{datetime.now(UTC):%Y%m%d-%H%M%S}.pt"
    try:
        with st.spinner("Calibrating the ensemble on the members' validation split, then testing it…"):
            meta = build_ensemble([registry.local_path(v) for v in picked], data=data, out=out)
        name = f"Ensemble of {len(picked)} ({', '.join(by_version[v]['name'] for v in picked)})"
        entry = registry.register(out, meta, name=name)
    except CoreError as error:
        st.error(str(error))
    else:
        st.session_state["models_built"] = f"Registered {entry.name} · {entry.version}."
        st.rerun()
if "models_built" in st.session_state:
    st.success(st.session_state.pop("models_built"))

st.subheader("Calibrate to this site")
st.caption(
    "A model's threshold and temperature were fitted on its training data's validation images; another hospital's "
    "images often score elsewhere. Point at a folder on this server holding NORMAL/ and PNEUMONIA/ with the site's "
    f"labelled images (at least {FEWEST_PER_CLASS} of each, {WARN_BELOW_PER_CLASS} or more advised): the operating "
    "point (temperature, threshold, borderline band) is refitted on them. The weights, and so the ranking (AUC), do "
    "not change; the figures after are measured on the images the point was fitted on, so they flatter it."
)
with st.form("models_recalibrate"):
    source = st.selectbox("Model", models, format_func=lambda m: f"{m['name']} · {m['version']}",
                          key="models_recalibrate_model")  # fmt: skip
    site = st.text_input("Folder of the site's labelled images (NORMAL/, PNEUMONIA/)", key="models_recalibrate_data")
    target = st.number_input(
        "Target sensitivity (0: Youden's J, the best sum of sensitivity and specificity)",
        min_value=0.0, max_value=1.0, value=0.0, step=0.01, key="models_recalibrate_target",
    )  # fmt: skip
    run = st.form_submit_button("Recalibrate")
if run:
    st.session_state.pop("models_recalibration", None)  # a new attempt replaces the last one's result
    out = data_home() / "recalibrated" / f"recalibrated-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.pt"
    try:
        with st.spinner("Scoring the site's images and refitting the operating point…"):
            out.parent.mkdir(parents=True, exist_ok=True)
            model = registry.local_path(source["version"]) if source["registered"] else DEFAULT_MODEL_PATH
            result = recalibrate(model, site, out, target_sensitivity=target or None)
    except CoreError as error:
        st.error(str(error))
    else:
        name = f"{source['name']} recalibrated to '{result.meta.recalibration['data']['root_name']}'"
        st.session_state["models_recalibration"] = {"out": out, "result": result, "name": name[:120]}
recalibration = st.session_state.get("models_recalibration")
if recalibration:
    result = recalibration["result"]
    for warning in result.warnings:
        st.warning(warning)
    st.dataframe(pd.DataFrame(result.rows()), hide_index=True, key="models_recalibration_table")
    st.caption(
        f"On the {result.before['n']} images of the site, 95 % bootstrap intervals in brackets; 'after' is measured on "
        "the images it was fitted on (optimistic): judge it on other images of the site."
    )
    if st.button(f"Register as a new version: {recalibration['name']}", key="models_recalibrate_register"):
        try:
            entry = registry.register(recalibration["out"], read_meta(recalibration["out"]), name=recalibration["name"])
        except CoreError as error:
            st.error(str(error))
        else:
            st.session_state["models_recalibrated"] = entry.version
            del st.session_state["models_recalibration"]
            st.rerun()
if version := st.session_state.get("models_recalibrated"):
    st.success(f"Registered · {version}. Diagnose still uses the active model until you activate this one.")
    confirm = st.checkbox("Diagnose will give every user verdicts at the recalibrated operating point",
                          key="models_recalibrate_confirm")  # fmt: skip
    if st.button("Activate it for Diagnose", key="models_recalibrate_activate", disabled=not confirm):
        try:
            registry.activate(version)
        except CoreError as error:
            st.error(str(error))
        else:
            audit("activate-model", version, "recalibrated")
            del st.session_state["models_recalibrated"]
            st.rerun()
