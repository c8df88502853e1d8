"""Models (admin): every classifier side by side, which one Diagnose uses, and housekeeping."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.classify.card import render_model_card
from core.classify.data import LABELS
from core.errors import CoreError
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
models = [shipped] + [{"version": m.version, "name": m.name, "meta": m.meta, "active": m.active, "registered": True}
                      for m in registered]  # fmt: skip


def figure(meta: dict, split: str, key: str):
    value = (meta.get(split) or {}).get(key)
    return None if value is None else float(value)


table = pd.DataFrame(
    [
        {
            "Active": "●" if m["active"] else "",
            "Model": m["name"],
            "Version": m["version"],
            "Architecture": m["meta"].get("arch"),
            "Epochs": m["meta"].get("recipe", {}).get("epochs"),
            "Input": m["meta"].get("input_size"),
            "Augmentation": {True: "standard", False: "none"}.get(
                m["meta"].get("recipe", {}).get("augment"), m["meta"].get("recipe", {}).get("augment")
            ),
            "Test n": figure(m["meta"], "test", "n"),
            "Test accuracy": figure(m["meta"], "test", "accuracy"),
            "Sensitivity": figure(m["meta"], "test", "sensitivity"),
            "Specificity": figure(m["meta"], "test", "specificity"),
            "AUC": figure(m["meta"], "test", "auc"),
            "Validation AUC": figure(m["meta"], "validation", "auc"),
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
    curve = (m["meta"].get("test") or {}).get("roc")
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
    confusion = (chosen["meta"].get("test") or {}).get("confusion")
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
    st.markdown(render_model_card(dict(chosen["meta"]), title=chosen["name"]))
