"""Models (admin): every classifier side by side, which one Diagnose uses, and housekeeping."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.classify.card import render_model_card
from core.classify.checkpoint import DEFAULT_MODEL_PATH, ModelMeta
from core.classify.data import LABELS
from core.classify.ensemble import build_ensemble
from core.errors import CoreError
from core.store.db import data_home
from ui.auth import require_admin
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


def figure(figures: dict | None, key: str):
    value = (figures or {}).get(key)
    return None if value is None else float(value)


def augmentation(meta: ModelMeta):
    level = meta.recipe.get("augment")
    return {True: "standard", False: "none"}.get(level, level)  # recipes written before the augmentation levels


table = pd.DataFrame(
    [
        {
            "Active": "●" if m["active"] else "",
            "Model": m["name"],
            "Version": m["version"],
            "Architecture": m["meta"].architecture_label,
            "Epochs": m["meta"].recipe.get("epochs"),
            "Input": m["meta"].input_size,
            "Augmentation": augmentation(m["meta"]),
            "Test n": figure(m["meta"].test, "n"),
            "Test accuracy": figure(m["meta"].test, "accuracy"),
            "Sensitivity": figure(m["meta"].test, "sensitivity"),
            "Specificity": figure(m["meta"].test, "specificity"),
            "AUC": figure(m["meta"].test, "auc"),
            "Validation AUC": figure(m["meta"].validation, "auc"),
        }
        for m in models
    ]
)
percent = st.column_config.NumberColumn(format="percent")
st.dataframe(table, hide_index=True, key="models_table",
             column_config={"Test accuracy": percent, "Sensitivity": percent, "Specificity": percent,
                            "AUC": st.column_config.NumberColumn(format="%.3f"),
                            "Validation AUC": st.column_config.NumberColumn(format="%.3f")})  # fmt: skip
st.caption(
    "Figures on each model's held-out test split (n images; trial runs on a subset are tested on a subset too); models "
    "were chosen and calibrated on validation only."
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
        try:
            registry.activate(chosen["version"]) if chosen["registered"] else registry.deactivate()
        except CoreError as error:
            st.error(str(error))
        else:
            st.rerun()
    if chosen["registered"] and not chosen["active"] and buttons[1].button("Delete", key="models_delete"):
        try:
            registry.delete(chosen["version"])
        except CoreError as error:
            st.error(str(error))
        else:
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
