"""Shared pieces of the admin pages: the job runner and a data folder's summary, built once per server process."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.classify.data import LABELS, count_labels, scan_dataset
from core.jobs import JobRunner


@st.cache_resource(show_spinner=False)
def job_runner() -> JobRunner:
    """The background training jobs (same database as everything else)."""
    return JobRunner()


@st.cache_data(ttl=60, show_spinner="Checking the data folder…")
def dataset_summary(root: str) -> pd.DataFrame:
    """Images per split and class, and the share of PNEUMONIA (raises InputError for a bad layout). ``train/`` and
    ``test/`` are required; ``val/`` is listed where present (training validates on patients split off ``train/``,
    so a folder without it trains as well)."""
    splits = scan_dataset(root, splits=("train", "val", "test") if (Path(root) / "val").is_dir() else ("train", "test"))
    rows = []
    for split, records in splits.items():
        counts = count_labels(records)
        total = sum(counts.values())
        rows.append({"split": split, **{label: counts.get(label, 0) for label in LABELS}, "total": total,
                     "PNEUMONIA share": counts.get(LABELS[1], 0) / total if total else None})  # fmt: skip
    return pd.DataFrame(rows)
