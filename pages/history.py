"""History: the signed-in doctor's verdicts (an admin's: everyone's), filtered, exported, viewed and deleted."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import streamlit as st

from core.errors import CoreError
from core.store.retention import delete_records
from ui.auth import audit, require_user
from ui.models import prediction_store
from ui.navigation import page_setup
from ui.viewer import image_viewer, record_pane

page_setup()
user = require_user()
owner = None if user.is_admin else user.name  # admins see every account's records


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


_UNFAMILIAR = {True: "yes", False: "not flagged", None: "not assessed"}  # a record's "unfamiliar", in the table's words

st.title("History")
st.caption(
    ("Every account's verdicts" if user.is_admin else "Your verdicts") + " on the Diagnose page, newest first: "
    "file name (a pseudonym unless names were kept), the SHA-256 of its bytes (the image itself "
    'only where the user chose to keep it), the verdict (or "borderline: review") with its score and threshold, '
    'whether the image was unlike the images the model learned from ("unreliable: unfamiliar image", with its '
    'unfamiliarity score; "not assessed" for models without that check), the model and the time (UTC).'
)
if (deleted := st.session_state.pop("history_deleted", None)) is not None:
    st.success(f"{_records(deleted).capitalize()} deleted.")
try:
    store = prediction_store()
    models = store.model_versions(owner=owner)
except CoreError as error:
    st.error(f"The records cannot be opened. {error}")
    st.stop()

verdict_column, model_column, name_column, date_column = st.columns([1.2, 1.6, 1.2, 1.4])
labels = verdict_column.multiselect("Verdict", ["NORMAL", "PNEUMONIA"], default=["NORMAL", "PNEUMONIA"],
                                    key="history_labels")  # fmt: skip
version = model_column.selectbox("Model", [None, *models], key="history_model",
                                 format_func=lambda v: "all models" if v is None else f"{models[v]} · {v}")  # fmt: skip
name = name_column.text_input("File name contains", key="history_name", max_chars=100)
borderline_only = verdict_column.checkbox("Borderline only", key="history_borderline",
                                          help="Verdicts that read \"borderline: review\"")  # fmt: skip
unfamiliar_only = verdict_column.checkbox("Unfamiliar only", key="history_unfamiliar",
                                          help="Verdicts on images unlike the images the model learned from (they "
                                          "read \"unreliable: unfamiliar image\")")  # fmt: skip
today = dt.datetime.now(dt.UTC).date()
dates = date_column.date_input("Dates (UTC)", value=(today - dt.timedelta(days=30), today), key="history_dates",
                               max_value=today)  # fmt: skip
since = until = None
if isinstance(dates, tuple | list) and len(dates) == 2:
    since = dt.datetime.combine(dates[0], dt.time(), tzinfo=dt.UTC)
    until = dt.datetime.combine(dates[1] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

try:
    records = store.query(owner=owner, labels=labels, model_version=version, name_contains=name.strip() or None,
                          since=since, until=until, borderline=True if borderline_only else None,
                          unfamiliar=True if unfamiliar_only else None)  # fmt: skip
except CoreError as error:
    st.error(f"The records cannot be read. {error}")
    st.stop()
if not records:
    st.info("No prediction matches these filters." if models else "No prediction has been recorded yet.")
    st.stop()

table = pd.DataFrame(
    [
        {
            "Id": r.id,
            **({"Account": r.owner or "(before accounts)"} if user.is_admin else {}),
            "Time (UTC)": r.created.strftime("%Y-%m-%d %H:%M:%S"),
            "File": r.file_name,
            "Verdict": r.reading,
            "Pneumonia score": r.p_pneumonia,
            "Threshold": r.threshold,
            "Unfamiliar": _UNFAMILIAR[r.unfamiliar],
            "Unfamiliarity": r.ood_score,
            "Model": r.model,
            "Version": r.model_version,
            "SHA-256": r.sha256,
            "Warnings": " ".join(r.warnings),
            "Image kept": r.has_image,
        }
        for r in records
    ]
)
audit("view-records", "everyone's" if owner is None else "own", f"History: {_records(len(table))}", once=True)
counts = table["Verdict"].value_counts()
st.subheader(f"{len(table)} predictions · " + " · ".join(f"{label} {n}" for label, n in counts.items()))
# The key follows the rows shown: a selection never outlives the rows it was made on (a filter, a deletion).
shown_ids = hashlib.sha256(",".join(map(str, table["Id"])).encode()).hexdigest()[:16]
selection = st.dataframe(
    table,
    hide_index=True,
    key=f"history_table_{shown_ids}",
    on_select="rerun",
    selection_mode="multi-row",
    column_config={
        "Pneumonia score": st.column_config.ProgressColumn(format="%.3f", min_value=0.0, max_value=1.0),
        "Threshold": st.column_config.NumberColumn(format="%.3f"),
        "Unfamiliarity": st.column_config.NumberColumn(
            format="%.3f", help="How unlike the model's training images the image was (blank: not assessed)"
        ),
    },
)
st.download_button("Download (CSV)", data=table.to_csv(index=False).encode(), file_name="predictions.csv",
                   mime="text/csv", key="history_csv",
                   on_click=lambda: audit("export-records", _records(len(table)), "History (CSV)"))  # fmt: skip
chosen_ids = [int(table["Id"].iloc[row]) for row in selection.selection.rows if 0 <= row < len(table)]
if not chosen_ids:
    st.caption("To delete records, tick them at the table's left edge.")
else:
    whose = "" if not user.is_admin else " (an admin may delete anyone's)"
    if st.button(f"Delete {_records(len(chosen_ids))}{whose}", key="history_delete",
                 icon=":material/delete:"):  # fmt: skip
        st.session_state["history_delete_ids"] = chosen_ids
pending = st.session_state.get("history_delete_ids")
if pending:
    with st.container(border=True, key="history_delete_box"):
        st.warning(f"Delete {_records(len(pending))} ({', '.join(f'#{i}' for i in pending[:20])}"
                   f"{' …' if len(pending) > 20 else ''}) and their kept images for good? This cannot be undone; the "
                   "deletion is written to the audit trail.")  # fmt: skip
        confirm, cancel = st.columns(2)
        if confirm.button("Confirm deletion", key="history_delete_confirm", type="primary"):
            try:
                gone = delete_records(actor=user.name, action="delete-records" if owner else "purge", owner=owner,
                                      ids=pending)  # fmt: skip
            except CoreError as error:
                st.error(f"Nothing was deleted: {error}")
            else:
                st.session_state.pop("history_delete_ids", None)
                st.session_state["history_deleted"] = len(gone.records)
                st.rerun()
        if cancel.button("Cancel", key="history_delete_cancel"):
            st.session_state.pop("history_delete_ids", None)
            st.rerun()

kept = [r for r in records if r.has_image]
if kept:
    st.subheader("Kept images")
    label = lambda r: f"#{r.id} · {r.file_name} · {r.label}"  # noqa: E731
    chosen = st.selectbox("Record", kept, format_func=label, key="history_image")
    others = [r for r in kept if r.id != chosen.id]
    against = st.selectbox(
        "Compare with",
        [None, *others],
        key="history_compare",
        format_func=lambda r: "nothing (one image)" if r is None else label(r),
        help="Two kept images side by side, zoom, pan and window linked: a film against a prior.",
    )
    panes = []
    for record in [chosen] if against is None else [chosen, against]:
        try:
            panes.append(record_pane(store, record, f"#{record.id} {record.file_name} · {record.label}", owner=owner))
        except CoreError as error:
            st.error(f"#{record.id}: {error}")
    if panes:
        image_viewer(panes, key="history_viewer")
