"""Classifier: the shipped NORMAL / PNEUMONIA model, how it was trained and how well it does."""

import pandas as pd
import streamlit as st

from core.classify.data import LABELS
from core.errors import CoreError
from core.export.figures import training_curves
from ui.models import default_model_card, default_model_meta
from ui.navigation import page_setup

page_setup()

st.title("Classifier")
st.caption("The CNN behind the verdicts: its recipe, its training curves and its figures on held-out test images.")
try:
    meta = default_model_meta()
except CoreError as error:
    st.error(f"The default model cannot be loaded. {error}")
    st.stop()

test, validation, members = meta.test, meta.validation, meta.members
figures = test or validation
columns = st.columns(5)
for column, (name, key) in zip(
    columns, [("Accuracy", "accuracy"), ("Sensitivity", "sensitivity"), ("Specificity", "specificity"),
              ("AUC", "auc"), ("Threshold", "threshold")], strict=True,
):  # fmt: skip
    value = figures[key]  # None where undefined (e.g. AUC on one class)
    if value is None:
        column.metric(name, "–")
    else:
        column.metric(name, f"{value:.3f}" if key in ("auc", "threshold") else f"{100 * value:.1f} %")
st.caption(
    f"{'Test' if test else 'Validation'} split, n = {figures['n']}; architecture `{meta.architecture_label}`"
    + (" (an ensemble: the members' logits averaged)" if members > 1 else "")
    + f", epoch {meta.epoch} of {meta.recipe['epochs']}, temperature {meta.temperature:.2f}."
)

left, right = st.columns([3, 2], gap="large")
with left:
    of_member = f" (member 1 of {members}, seed {meta.member_seeds[0]})" if members > 1 else ""
    st.subheader(f"Training curves{of_member}")
    st.plotly_chart(training_curves(meta.history, selected_epoch=meta.epoch), key="classifier_curves")
with right:
    st.subheader("Confusion matrix" + (" (test)" if test else " (validation)"))
    st.dataframe(
        pd.DataFrame(figures["confusion"], index=list(LABELS), columns=[f"→ {n}" for n in LABELS]),
        key="classifier_confusion",
    )  # fmt: skip
    st.caption("Rows: the data set's label; columns (→): the model's verdict at its threshold.")

card = default_model_card()
if card:
    with st.expander("Model card", expanded=False):
        st.markdown(card)
