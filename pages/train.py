"""Train (admin): retrain the classifier in the background and watch it learn."""

from __future__ import annotations

import os

import pandas as pd
import plotly.express as px
import streamlit as st

from core.classify.settings import ARCHITECTURE_NAMES, AUGMENTATION_LEVELS, BALANCE_MODES, SELECTIONS, TrainConfig
from core.errors import CoreError
from core.export.figures import training_curves
from ui.admin import dataset_summary, job_runner
from ui.auth import require_admin
from ui.navigation import page_setup

page_setup()
st.title("Train a classifier")
require_admin()
try:
    runner = job_runner()
except CoreError as error:
    st.error(f"The job database cannot be opened. {error}")
    st.stop()
defaults = TrainConfig(data="", out="")

# ---- Data ---------------------------------------------------------------------------------------------------------
data = st.text_input("Data folder (train/ and test/, each with NORMAL/ and PNEUMONIA/)",
                     value=os.environ.get("XRAY_TRAIN_DATA", ""), key="train_data")  # fmt: skip
summary = None
if data:
    try:
        summary = dataset_summary(data)
    except CoreError as error:
        st.error(str(error))
    else:
        left, right = st.columns([3, 2])
        left.dataframe(summary, hide_index=True, key="train_counts",
                       column_config={"PNEUMONIA share": st.column_config.NumberColumn(format="percent")})  # fmt: skip
        right.plotly_chart(px.bar(summary, x="split", y=["NORMAL", "PNEUMONIA"], barmode="group", height=260),
                           key="train_balance")  # fmt: skip

# ---- Settings and start -------------------------------------------------------------------------------------------
with st.form("train_settings"):
    columns = st.columns(4)
    arch = columns[0].selectbox("Architecture", ARCHITECTURE_NAMES, key="train_arch")
    epochs = columns[1].number_input("Epochs", 1, 500, 20, key="train_epochs")
    learning_rate = columns[2].number_input("Peak learning rate", 1e-5, 1.0, defaults.learning_rate, format="%.5f",
                                            key="train_lr")  # fmt: skip
    batch_size = columns[3].select_slider("Batch size", [8, 16, 32, 64, 128], defaults.batch_size, key="train_batch")
    columns = st.columns(4)
    input_size = columns[0].select_slider("Image size (px)", [64, 96, 128, 160, 192, 224, 256], defaults.input_size,
                                          key="train_size")  # fmt: skip
    augment = columns[1].selectbox("Augmentation", AUGMENTATION_LEVELS, index=1, key="train_augment")
    balance = columns[2].selectbox("Class imbalance", BALANCE_MODES, key="train_balance_mode")
    seed = columns[3].number_input("Seed", 0, 2**31 - 1, 0, key="train_seed")
    columns = st.columns(3)
    limit = columns[0].number_input("Training images per class (0: all)", 0, 100_000, 0, key="train_limit",
                                    help="At most this many: for a quick trial run.")  # fmt: skip
    choices = {"val_loss": "lowest validation loss", "last": "the last"}
    select = columns[1].selectbox("Epoch that becomes the model", SELECTIONS, key="train_select",
                                  format_func=choices.get)  # fmt: skip
    split_seed = columns[2].number_input("Validation split seed", 0, 2**31 - 1, 0, key="train_split_seed",
                                         help="Runs with the same split seed are validated on the same patients, "
                                         "so their validation figures compare.")  # fmt: skip
    columns = st.columns(3)
    pretrained = columns[0].toggle(
        "Start from ImageNet weights", key="train_pretrained",
        help="Transfer learning. EfficientNet-Lite0's weights are installed with the app; ResNet's and VGG's are "
        "downloaded once (needs a network); xraynet has none.",
    )  # fmt: skip
    ema = columns[1].toggle("Average the weights (EMA 0.999)", key="train_ema",
                            help="Validate and keep a moving average of the weights over training steps.")  # fmt: skip
    mixup = columns[2].toggle("Mixup (alpha 0.4)", key="train_mixup",
                              help="Blend training images and their labels in pairs (less over-confident)")  # fmt: skip
    start = st.form_submit_button("Start training", type="primary", disabled=summary is None)
if start:
    settings = dict(data=data, arch=arch, epochs=int(epochs), learning_rate=float(learning_rate),
                    batch_size=int(batch_size), input_size=int(input_size), augment=augment, balance=balance,
                    seed=int(seed), split_seed=int(split_seed), per_class_limit=int(limit) or None, select=select,
                    pretrained=pretrained,
                    ema_decay=0.999 if ema else None, mixup=0.4 if mixup else None,
                    threads=max(1, (os.cpu_count() or 2) - 1))  # leave a core to the app  # fmt: skip
    try:
        TrainConfig(out="", **settings)  # validates every setting before anything starts
        job = runner.start(settings)
        st.success(f"Training job #{job.id} started.")
    except CoreError as error:
        st.error(str(error))


# ---- Jobs ---------------------------------------------------------------------------------------------------------
@st.fragment(run_every=3)
def show_jobs() -> None:
    try:
        jobs = runner.jobs()
    except CoreError as error:
        st.error(f"The training jobs cannot be read. {error}")
        return
    if not jobs:
        st.info("No training job yet.")
        return
    job = jobs[0]
    progress = job.progress()
    st.subheader(f"Job #{job.id}: {job.status}")
    eta = f", about {progress.eta_s / 60:.0f} min left" if job.status == "running" and progress.eta_s else ""
    st.progress(progress.fraction, text=f"{progress.epochs_done} of {progress.epochs_total} epochs{eta}")
    if job.message:
        (st.error if job.status == "failed" else st.info)(job.message)
    buttons = st.columns(4)
    if job.status == "running" and buttons[0].button("Cancel", key=f"cancel_{job.id}"):
        try:
            runner.cancel(job.id)
        except CoreError as error:  # it finished meanwhile
            st.info(str(error))
        st.rerun()
    if job.status in ("interrupted", "cancelled", "failed") and buttons[0].button("Resume", key=f"resume_{job.id}"):
        try:
            runner.resume(job.id)
        except CoreError as error:
            st.error(str(error))
        st.rerun()
    if progress.history:
        st.plotly_chart(training_curves(progress.history), key=f"curves_{job.id}")
        table = pd.DataFrame(progress.history)[["epoch", "train_accuracy", "val_accuracy", "val_auc", "seconds"]]
        left, right = st.columns(2)
        left.dataframe(table, hide_index=True, key=f"epochs_{job.id}",
                       column_config={c: st.column_config.NumberColumn(format="%.3f")
                                      for c in ("train_accuracy", "val_accuracy", "val_auc")})  # fmt: skip
        right.plotly_chart(px.bar(table, x="epoch", y="val_accuracy", range_y=[0, 1], height=300,
                                  title="Validation accuracy per epoch"), key=f"bars_{job.id}")  # fmt: skip
    with st.expander("Log", expanded=job.status != "succeeded"):
        st.code(job.log_tail() or "(empty)", language=None)
    if len(jobs) > 1:
        st.caption("Earlier jobs")
        earlier = [{"job": j.id, "status": j.status, "architecture": j.config.get("arch"),
                    "epochs": j.config.get("epochs"), "model": j.model_version or "", "message": j.message}
                   for j in jobs[1:]]  # fmt: skip
        st.dataframe(pd.DataFrame(earlier), hide_index=True, key="jobs_table")


show_jobs()
