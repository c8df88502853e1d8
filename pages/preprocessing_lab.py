"""Preprocessing lab: chain filters on an X-ray, compare before and after, see the intensity surface."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core import pipeline
from core.errors import CoreError
from core.export.figures import intensity_surface
from core.io import encode_png
from core.reconstruct.surface import height_field
from ui.inputs import describe_xray, pick_xray
from ui.lungs import lungs_cached
from ui.navigation import page_setup
from ui.processing import assess_cached, for_display, morphology_views_cached, run_pipeline_cached
from ui.viewer import image_viewer, pane
from ui.xr import vr_panel

page_setup()

st.title("Preprocessing lab")


def pipeline_controls() -> list[pipeline.Step]:
    """Sidebar widgets, in the order the steps run; returns the chosen steps."""
    steps: list[pipeline.Step] = []
    st.sidebar.header("Pipeline")
    st.sidebar.caption("Steps run top to bottom.")

    with st.sidebar.expander("1 · Salt-and-pepper noise (demo)", expanded=False):
        if st.toggle("Add noise", key="noise_on", help="Corrupt the image to see what the median filter removes."):
            amount = st.slider("Fraction of pixels", 0.01, 0.30, 0.05, 0.01, key="noise_amount")
            seed = st.number_input("Seed", 0, 10_000, 0, key="noise_seed")
            steps.append(pipeline.SaltAndPepper(amount=amount, seed=int(seed)))

    with st.sidebar.expander("2 · Median filter", expanded=True):
        if st.toggle("Median filter", value=True, key="median_on"):
            kernel = st.select_slider("Kernel (px)", [3, 5, 7, 9, 11, 15], value=3, key="median_kernel")
            steps.append(pipeline.MedianFilter(kernel_size=kernel))

    with st.sidebar.expander("3 · Contrast", expanded=True):
        contrast = st.radio("Method", ["None", "CLAHE", "Histogram equalisation"], index=1, key="contrast")
        if contrast == "CLAHE":
            clip = st.slider("Clip limit", 1.0, 8.0, 2.0, 0.5, key="clahe_clip")
            tiles = st.slider("Tiles per side", 2, 16, 8, key="clahe_tiles")
            steps.append(pipeline.Clahe(clip_limit=clip, tile_grid=tiles))
        elif contrast == "Histogram equalisation":
            steps.append(pipeline.HistogramEqualization())

    with st.sidebar.expander("4 · Morphology", expanded=False):
        operation = st.selectbox(
            "Operation", ["none", "erode", "dilate", "open", "close", "gradient", "tophat", "blackhat"], key="morph_op"
        )
        shape = st.selectbox("Structuring element", ["ellipse", "rect", "cross"], key="morph_shape")
        size = st.slider("Element size (px)", 3, 31, 5, 2, key="morph_size")
        if operation != "none":
            steps.append(pipeline.Morphology(operation=operation, shape=shape, size=size))

    with st.sidebar.expander("5 · Normalisation", expanded=False):
        normalisation = st.radio("Method", ["None", "Min–max", "Z-score"], key="norm")
        if normalisation == "Min–max":
            low, high = st.slider("Percentiles mapped to 0 and 1", 0.0, 100.0, (0.5, 99.5), 0.5, key="norm_pct")
            if low < high:
                steps.append(pipeline.MinMaxNormalization(low_percentile=low, high_percentile=high))
        elif normalisation == "Z-score":
            steps.append(pipeline.ZScoreNormalization())

    with st.sidebar.expander("6 · Resize", expanded=False):
        if st.toggle("Resize", key="resize_on"):
            side = st.select_slider("Size (px)", [128, 224, 256, 299, 384, 512, 1024], value=224, key="resize_side")
            keep = st.radio("Mode", ["Keep aspect (pad)", "Stretch"], key="resize_mode") == "Keep aspect (pad)"
            steps.append(pipeline.Resize(height=side, width=side, keep_aspect=keep))
    return steps


xray = pick_xray(key="lab")
if xray is None:
    st.stop()
describe_xray(xray)
steps = pipeline_controls()

try:
    stages = run_pipeline_cached(xray, tuple(steps))
except CoreError as error:
    st.error(str(error))
    st.stop()
result = stages[-1]
shown = pipeline.to_display(result)

before_tab, morph_tab, lungs_tab, surface_tab, stages_tab = st.tabs(
    ["Before / after", "Morphological views", "Lungs", "3D intensity surface", "Steps & quality"]
)

with before_tab:
    recipe = " → ".join(step.label for step in steps) or "no step"
    image_viewer(
        [pane(xray, key=("plain",), title=f"Before · {xray.shape[1]}×{xray.shape[0]} px"),
         pane(xray, key=("after", tuple(steps)), title=f"After · {shown.shape[1]}×{shown.shape[0]} px · {recipe}",
              pixels=shown)],
        key="lab_viewer",
    )  # fmt: skip
    st.caption(
        f"Before and after ({recipe}) side by side, zoom, pan and window linked: zoom in to see single pixels, "
        "salt-and-pepper noise or what a filter removed."
    )
    if not result.in_unit_range:
        st.caption("Z-scored values are stretched to black–white for display; the download holds the same view.")
    st.download_button(
        "Download processed image (PNG)",
        data=lambda: encode_png(shown),  # encoded on click only: a 5-megapixel PNG takes ~1 s
        file_name=f"{Path(xray.name).stem}_processed.png",
        mime="image/png",
        key="download_png",
    )

with morph_tab:
    shape, size = st.session_state["morph_shape"], st.session_state["morph_size"]
    st.caption(
        "Every operation applied to the pipeline's output (before any resizing) with the structuring element of "
        f"step 4 ({shape}, {size}×{size} px)."
    )
    views = morphology_views_cached(xray, tuple(steps), shape, size)
    columns = st.columns(3)
    for index, (name, pixels) in enumerate(views.items()):
        columns[index % 3].image(pixels, caption=name, clamp=True, width="stretch")
    chosen = st.selectbox("Open in the viewer, beside the pipeline's output", [None, *views], key="morph_viewer_choice",
                          format_func=lambda name: "none" if name is None else name)  # fmt: skip
    if chosen is not None:
        image_viewer([pane(xray, key=("after", tuple(steps)), title="Pipeline output", pixels=shown),
                      pane(xray, key=("morphology", tuple(steps), shape, size, chosen), title=chosen,
                           pixels=views[chosen])], key="morph_viewer")  # fmt: skip

with lungs_tab:
    st.caption(
        "The lungs the lung model finds in the original image (a U-Net trained on adult films and simulated "
        "radiographs; see its model card), outlined in the viewer: the patient's right lung in blue, on the image's "
        "left, the left lung in orange."
    )
    if st.toggle("Find the lungs", key="lab_lungs", help="Loads the lung model (a few seconds the first time)."):
        try:
            found = lungs_cached(xray)
        except CoreError as error:
            st.error(f"The lungs cannot be found. {error}")
        else:
            picture, facts = st.columns([2, 1])
            with picture:
                lungs = pane(xray, key=("lungs",), title=f"Lungs of {xray.name}", sides=(found.right, found.left))
                image_viewer([lungs], key="lungs_viewer", outline=True)
            facts.metric("Lungs", f"{100 * found.area_share:.1f} % of the image")
            facts.markdown(
                f"Right lung: {'found' if found.right.any() else '**not found**'} · "
                f"left lung: {'found' if found.left.any() else '**not found**'}"
            )
            facts.download_button(
                "Download the mask (PNG, 255 = lung)",
                data=lambda: encode_png(found.lungs.astype("float32")),
                file_name=f"{Path(xray.name).stem}_lungs.png",
                mime="image/png",
                key="download_lungs",
            )

with surface_tab:
    resolution_column, image_column, colour_column = st.columns(3)
    resolution = resolution_column.slider(
        "Resolution (samples on the long side)", 32, 256, 128, 16, key="surface_resolution"
    )
    which = image_column.radio("Image", ["After", "Before"], horizontal=True, key="surface_image")
    colours = colour_column.selectbox("Colour scale", ["Viridis", "Gray", "Inferno", "Jet"], key="surface_colours")
    pixels = shown if which == "After" else xray.pixels
    st.plotly_chart(
        intensity_surface(pixels, max_side=resolution, colorscale=colours, title=f"{which}: {xray.name}"),
        key="surface_chart",
    )
    st.subheader("Open in VR", divider="gray")
    vr_panel(height_field(pixels), title=f"Intensity relief ({which.lower()} processing)", key=f"relief_{which}",
             colourmap=colours.lower(), double_sided=True, patient_frame=False)  # fmt: skip

with stages_tab:
    st.caption(
        "PSNR and SSIM of each step's output against the input (resized the same way where the step resizes). "
        "With noise on, compare the noisy step with the median filter's output to see what the filter recovered."
    )
    qualities = assess_cached(xray, tuple(steps))
    table = pd.DataFrame(
        {
            "Step": [stage.label for stage in stages],
            "Size (px)": [f"{s.pixels.shape[1]}×{s.pixels.shape[0]}" for s in stages],
            "PSNR (dB)": [None if q is None else q.psnr_db for q in qualities],
            "SSIM": [None if q is None else q.ssim for q in qualities],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "PSNR (dB)": st.column_config.NumberColumn(format="%.1f"),
            "SSIM": st.column_config.NumberColumn(format="%.3f"),
        },
        key="quality_table",
    )
    columns = st.columns(min(4, len(stages)))
    for index, stage in enumerate(stages):
        columns[index % len(columns)].image(
            for_display(pipeline.to_display(stage)), caption=stage.label, clamp=True, width="stretch"
        )
    pair = st.multiselect("Open one or two steps in the viewer, side by side", [s.label for s in stages],
                          max_selections=2, key="steps_viewer_choice")  # fmt: skip
    by_label = {stage.label: index for index, stage in enumerate(stages)}
    if pair:
        image_viewer([pane(xray, key=("step", tuple(steps[: by_label[label]])), title=label,
                           pixels=pipeline.to_display(stages[by_label[label]])) for label in pair],
                     key="steps_viewer")  # fmt: skip
