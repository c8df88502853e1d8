"""Cached reconstructions for the Reconstruct page, and the 3D viewer."""

from __future__ import annotations

import sys

import streamlit as st

from core.export.mesh import plotter
from core.reconstruct.methods import CROSS_SECTIONS, METHODS, Segmenter
from core.reconstruct.modes import Reconstruction, load_demo_ct, reconstruct_demo, reconstruct_radiographs
from core.types import Mesh, Volume, XRay
from ui.memo import memo
from ui.progress import ProgressBar


@st.cache_resource(show_spinner="Loading the demo CT…")
def demo_ct() -> tuple[Volume, Volume]:
    """The shipped demo CT (attenuation, lung mask), read once per server process."""
    return load_demo_ct()


def _segmenter(learned: bool) -> Segmenter | None:
    """The lung model's segmentation for the reconstructions, or ``None`` for the classical method."""
    if not learned:
        return None
    from ui.lungs import lung_segmenter  # torch loads only when the lung model is chosen

    return lung_segmenter().find


def cross_section_choice(mode: str, *, key: str, views: int, good_outlines: bool) -> str:
    """How the hull's cross-sections are shaped (a key of :data:`~core.reconstruct.methods.CROSS_SECTIONS`);
    ``"carved"`` for the other modes, which have none. The lung-shape prior is offered first for two views with good
    outlines (the lung model's or exact ones), where it was measured best; else the ellipse (README)."""
    if mode != "visual-hull":
        return "carved"
    return st.radio(
        "Cross-sections",
        list(CROSS_SECTIONS),
        index=2 if views == 2 and good_outlines else 1 if views == 2 else 0,
        key=key,
        format_func=lambda name: CROSS_SECTIONS[name][1],
        help="Two views leave each slice of each lung a rectangle. The prior fills it as real lungs fill theirs "
        "(the mean of three CTs' lungs; meant for a frontal and a lateral view and for the lung model's "
        "outlines); the ellipse is the classic rounding, better with the classical segmentation. The prior reads "
        "a lateral as laterals are displayed: the patient facing the image's left (a mirrored lateral swaps front "
        "and back).",
    )


def demo_reconstruction(
    mode: str, views: int, method: str, exact: bool, cross_section: str, learned: bool = False
) -> Reconstruction:
    """:func:`core.reconstruct.modes.reconstruct_demo` on the demo CT, once per setting (``learned``: lungs found
    in the simulated views by the lung model); tomography (seconds) shows its progress and the time left."""

    def compute() -> Reconstruction:
        mu, truth = demo_ct()
        run = lambda progress=None: reconstruct_demo(  # noqa: E731
            mu, truth, mode=mode, views=views, method=method, exact_silhouettes=exact, cross_section=cross_section,
            segment=_segmenter(learned), progress=progress)  # fmt: skip
        if mode == "tomography":  # seconds: FBP 2.5 s, SART 10 s at 90 views
            with ProgressBar(f"{METHODS[method].label} over {views} views, slice by slice") as progress:
                return run(progress)
        with st.spinner("Simulating the views and reconstructing…"):
            return run()

    return memo("demo reconstructions", 8).get_or_compute((mode, views, method, exact, cross_section, learned),
                                                          compute)  # fmt: skip


@st.cache_resource(max_entries=8, show_spinner="Segmenting the lungs and carving…")
def _radiograph_reconstruction(
    _xrays: tuple[XRay, ...],
    hashes: tuple[str, ...],
    angles: tuple[float, ...],
    mode: str,
    field: float,
    cross_section: str,
    learned: bool,
) -> Reconstruction:
    return reconstruct_radiographs([x.pixels for x in _xrays], list(angles), mode=mode, field_of_view_mm=field,
                                   cross_section=cross_section, segment=_segmenter(learned))  # fmt: skip


def radiograph_reconstruction(
    xrays: list[XRay], angles: list[float], *, mode: str, field_of_view_mm: float, cross_section: str,
    learned: bool = False,
) -> Reconstruction:  # fmt: skip
    """:func:`core.reconstruct.modes.reconstruct_radiographs`, once per set of images and settings (moving a slice
    slider does not carve again); ``learned``: lungs found by the lung model."""
    return _radiograph_reconstruction(tuple(xrays), tuple(x.sha256 for x in xrays), tuple(angles), mode,
                                      field_of_view_mm, cross_section, learned)  # fmt: skip


def keep_vtk_wasm_offline() -> None:
    """Keep PyVista's HTML export from downloading VTK's WebAssembly build from gitlab.kitware.com.

    stpyvista draws a surface with PyVista's HTML export, which starts a throw-away trame server (in a forked
    process) to serialise the scene for vtk.js. That server loads trame-vtklocal when it is installed (trame-pyvista
    requires it), and trame-vtklocal's setup downloads VTK's WebAssembly build from gitlab.kitware.com on every
    export, although the exported page (vtk.js, all inline) never uses it: an outside request for every 3D view,
    failing and logged on an offline hospital network. trame imports the module under
    ``contextlib.suppress(ImportError)``, so marking it missing (a ``None`` entry in ``sys.modules`` makes its import
    raise ImportError) leaves it out; the forked export inherits the mark. Nothing else in the app uses it.
    """
    sys.modules["trame.widgets.vtklocal"] = None


def show_mesh(mesh: Mesh, *, key: str, colourmap: str = "bone") -> None:
    """The surface in the browser (stpyvista: VTK.js, rotate with the mouse), coloured by its values if any; nothing
    is fetched from outside the machine (see :func:`keep_vtk_wasm_offline`)."""
    from stpyvista import stpyvista

    keep_vtk_wasm_offline()
    stpyvista(plotter(mesh, colourmap=colourmap), key=key)
