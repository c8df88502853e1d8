"""Reconstruct: 3D lungs from X-ray views — simulated from the demo CT at known angles, or uploaded."""

from __future__ import annotations

import streamlit as st

from core.errors import CoreError
from core.export.heatmap import agreement_overlay
from core.export.mesh import MESH_FORMATS, mesh_bytes
from core.reconstruct.methods import METHODS
from core.reconstruct.modes import MODES, paint_frontal
from core.reconstruct.projection import radiograph
from core.reconstruct.surface import sample_values
from core.reconstruct.volume import display_slice
from ui.diagnosis import diagnose_cached
from ui.inputs import pick_xrays
from ui.models import active_diagnoser
from ui.navigation import page_setup
from ui.reconstruction import (
    cross_section_choice,
    demo_ct,
    demo_reconstruction,
    radiograph_reconstruction,
    show_mesh,
)
from ui.xr import vr_panel

page_setup()

st.title("Reconstruct 3D")
st.caption(
    "Lungs in 3D from X-ray views at known angles. The demo simulates the views from a real chest CT, so every result "
    "is scored against the CT's own lung labels (Dice, IoU); uploaded X-rays give a visual hull or, from one frontal "
    "view, an approximation."
)

with st.sidebar:
    st.header("Reconstruction")
    mode = st.radio("Mode", list(MODES), format_func=MODES.get, key="recon_mode")
    source = st.radio(
        "Views",
        ["Demo CT", "Upload X-rays"],
        key="recon_source",
        horizontal=True,
        disabled=mode == "tomography",
        help="Tomography needs calibrated projections at many angles: demo only.",
    )
    if mode == "tomography":
        source = "Demo CT"
    learned = mode != "tomography" and st.radio(
        "Lungs in each X-ray found by",
        [True, False],
        format_func={True: "the lung model (U-Net)", False: "the classical method"}.get,
        key="recon_learned",
        help="The lung model was trained on adult films and simulated radiographs (see its card); the classical "
        "method thresholds dark regions inside the body.",
    )

result, uploads, angles = None, [], []
if source == "Demo CT":
    with st.sidebar:
        if mode == "tomography":
            views = st.select_slider(
                "Number of views (over 180°)", [2, 4, 8, 15, 30, 60, 90, 180], value=90, key="recon_views"
            )
            method = st.radio(
                "Method",
                ["fbp", "sart"],
                key="recon_method",
                horizontal=True,
                format_func=lambda name: METHODS[name].label,
            )
            exact, cross_section = False, "carved"
        else:
            views = (
                1
                if mode == "single-view"
                else st.select_slider(
                    "Number of views",
                    [2, 3, 4, 8, 16],
                    value=2,
                    key="recon_hull_views",
                    help="2 = frontal + lateral; more are spread over 180°.",
                )
            )
            method = "fbp"
            exact = st.toggle(
                "Exact silhouettes (from the CT's labels)",
                key="recon_exact",
                help="The method's upper bound; off: lungs segmented in each simulated X-ray.",
            )
            cross_section = cross_section_choice(
                mode, key="recon_cross_section", views=int(views), good_outlines=exact or learned
            )
    try:
        result = demo_reconstruction(mode, int(views), method, exact, cross_section, learned and not exact)
    except CoreError as error:
        st.error(str(error))
        st.stop()
else:
    for upload in pick_xrays(key="recon"):
        if upload.xray is None:
            st.error(upload.error)
        else:
            uploads.append(upload)
    if not uploads:
        st.info("Upload X-rays of one chest (a frontal view, and a lateral one for the hull), or pick samples.")
        st.stop()
    columns = st.columns(min(4, len(uploads)))
    angles = [
        columns[i % len(columns)].number_input(
            f"Angle of {u.name} (°)",
            -180.0,
            360.0,
            90.0 * min(i, 1),
            5.0,
            key=f"recon_angle_{i}",
            help="0 frontal, 90 lateral.",
        )
        for i, u in enumerate(uploads)
    ]
    field = st.sidebar.number_input(
        "Field of view (mm across each image)", 50.0, 1000.0, 350.0, 10.0, key="recon_field"
    )
    with st.sidebar:
        cross_section = cross_section_choice(
            mode, key="recon_up_cross_section", views=len(uploads), good_outlines=learned
        )
    try:
        result = radiograph_reconstruction(
            [u.xray for u in uploads],
            angles,
            mode=mode,
            field_of_view_mm=field,
            cross_section=cross_section,
            learned=learned,
        )
    except CoreError as error:
        st.error(str(error))
        st.stop()

if result.approximate:
    st.warning(
        "**Approximation, not a reconstruction.** One frontal view says nothing about depth: the lungs' outline is "
        "measured, their front-to-back thickness is assumed (thickest in the middle, thin at the edges).",
        icon=":material/info:",
    )
figures = result.figures
columns = st.columns(4)
columns[0].metric("Lung Dice vs CT labels", f"{figures['dice']:.3f}" if "dice" in figures else "–")
columns[1].metric("IoU", f"{figures['iou']:.3f}" if "iou" in figures else "–")
columns[2].metric("Reconstruction time", f"{figures['seconds']:.2f} s")
columns[3].metric("Surface triangles", f"{result.mesh.n_triangles / 1000:.1f} k")
if source == "Demo CT" and mode != "tomography":
    in_sample = []
    if learned and not exact:
        in_sample.append("the lung model was trained on simulated views of this very CT (among others)")
    if cross_section == "prior":
        in_sample.append("the lung-shape prior was fitted on it (among three)")
    if in_sample:
        st.caption(f"In-sample: {' and '.join(in_sample)}, so the Dice above flatters them. The README gives "
                   "their figures on a CT neither saw.")  # fmt: skip

surface_tab, slices_tab, views_tab = st.tabs(["3D surface", "Slices", "Views"])
with surface_tab:
    mesh, colourmap = result.mesh, "bone"
    if result.volume is not None and st.toggle("Colour by the attenuation beneath the surface", key="recon_colour"):
        mesh = sample_values(mesh, result.volume)
    frontal = [u for u, a in zip(uploads, angles, strict=True) if a % 180 == 0] if source != "Demo CT" else []
    if frontal and st.toggle("Colour by the classifier's Grad-CAM heat map (frontal view)", key="recon_heat"):
        try:
            diagnosis = diagnose_cached(active_diagnoser(), frontal[0].xray, method="Grad-CAM", faithfulness=False)
        except CoreError as error:
            st.warning(f"No heat map: {error}")
        else:
            mesh, colourmap = paint_frontal(result, diagnosis.cam.heat), "inferno"
            label = diagnosis.prediction.label
            st.caption(
                f"{label} (P = {diagnosis.prediction.probabilities[label]:.2f}); evidence for it from black (none) "
                "through purple and orange to yellow (strongest), carried straight back through the lungs."
            )
    show_mesh(mesh, key=f"mesh_{mode}", colourmap=colourmap)
    st.caption(
        "Drag to rotate, scroll to zoom. Seen from the front, patient's right on your left."
        + (
            " Colour: attenuation beneath the surface, dark (air) to light."
            if colourmap == "bone" and mesh.values is not None
            else ""
        )
    )
    for column, fmt in zip(st.columns(len(MESH_FORMATS)), MESH_FORMATS, strict=True):
        column.download_button(
            f"Download the surface ({fmt.upper()})",
            data=lambda f=fmt: mesh_bytes(mesh, f),
            file_name=f"lungs_{mode}.{fmt}",
            mime=MESH_FORMATS[fmt],
            key=f"mesh_{fmt}",
        )
    st.subheader("Open in VR", divider="gray")
    title = f"Lungs: {MODES[mode].split(' (')[0].lower()}" + (" with Grad-CAM" if colourmap == "inferno" else "")
    vr_panel(mesh, title=title, key=f"lungs_{mode}", colourmap=colourmap)

with slices_tab:
    shown = result.volume if result.volume is not None else result.lungs
    plane = st.radio("Plane", ["coronal", "axial", "sagittal"], horizontal=True, key="recon_plane")
    axis = {"axial": 0, "coronal": 1, "sagittal": 2}[plane]
    index = st.slider("Slice", 0, shown.shape[axis] - 1, shown.shape[axis] // 2, key=f"recon_slice_{plane}")
    left, right = st.columns(2)
    image = display_slice(shown, plane=plane, index=index)
    left.image(
        image / max(float(image.max()), 1e-6),
        clamp=True,
        width="stretch",
        caption="Reconstructed attenuation" if result.volume is not None else "Lung mask",
    )
    mask = display_slice(result.lungs, plane=plane, index=index)
    if source == "Demo CT":
        truth = display_slice(demo_ct()[1], plane=plane, index=index)
        right.image(agreement_overlay(mask, truth), width="stretch",
                    caption="Lungs found only (orange), CT labels only (sky blue), both (white)")  # fmt: skip
    else:
        right.image(mask, clamp=True, width="stretch", caption="Lungs found")

with views_tab:
    count = len(result.views)
    st.caption(
        f"{count} view(s) at {', '.join(f'{a:g}°' for a in result.views.angles_deg[:12])}" + ("…" if count > 12 else "")
    )
    columns = st.columns(min(4, count))
    for i in range(min(4, count)):
        columns[i].image(
            radiograph(result.views, i), clamp=True, width="stretch", caption=f"{result.views.angles_deg[i]:g}°"
        )
