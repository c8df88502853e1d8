"""The "Open in VR" panel of the 3D pages: the result as a scene for the WebXR viewer, with its link, a QR code
for a headset, the pins dropped on it so far, and the GLB file."""

from __future__ import annotations

import hashlib
import os

import pandas as pd
import streamlit as st

from core.errors import CoreError, SceneNotFound
from core.export.gltf import mesh_to_glb
from core.store.scenes import SceneStore
from core.types import Mesh
from core.xr.links import app_url, headset_notes, qr_png, viewer_url
from ui.auth import audit, current_user


@st.cache_resource(show_spinner=False)
def scene_store() -> SceneStore:
    """The scenes and their annotations (the project's database), opened once per server process."""
    return SceneStore()


def app_address() -> str:
    """The app's address for links: ``XRAY_PUBLIC_URL`` where set (e.g. behind a proxy; checked, see
    :func:`core.xr.links.app_url`), else what the browser used to open this page."""
    return app_url(os.environ.get("XRAY_PUBLIC_URL"), st.context.url)


def _fingerprint(mesh: Mesh, colourmap: str) -> str:
    digest = hashlib.sha256(colourmap.encode())
    for array in (mesh.vertices, mesh.faces, mesh.values):
        if array is not None:
            digest.update(array.tobytes())
    return digest.hexdigest()[:24]


def vr_panel(mesh: Mesh, *, title: str, key: str, colourmap: str = "bone", double_sided: bool = False,
             patient_frame: bool = True) -> None:  # fmt: skip
    """Buttons to open ``mesh`` in the WebXR viewer (once per mesh and session) and to download it as GLB.

    Parameters
    ----------
    mesh : Mesh
        In millimetres (the viewer shows it life-size).
    title : str
        The scene's title (no patient data: it is shown to whoever has the link).
    key : str
        Unique per panel on a page.
    colourmap, double_sided, patient_frame
        As :func:`core.export.gltf.mesh_to_glb`.
    """
    scenes = st.session_state.setdefault("vr_scenes", {})
    fingerprint = _fingerprint(mesh, colourmap)
    actions, link = st.columns([1, 2], gap="medium")
    explained = (
        "Makes a link (and a QR code) that any browser, a headset's included, opens in 3D; the same model "
        "opened again gets the same link and pins. Your links are listed, and can be revoked, on My scenes."
    )
    if actions.button("Open in VR", key=f"{key}_vr", icon=":material/view_in_ar:", type="primary", help=explained):
        try:
            with st.spinner("Exporting the model…"):
                glb = mesh_to_glb(mesh, colourmap=colourmap, double_sided=double_sided, patient_frame=patient_frame)
                user = current_user()
                scene = scene_store().create(glb, title=title, owner=None if user is None else user.name)
                scenes[fingerprint] = scene.id
                audit("create-scene", scene.id, title, once=True)
        except CoreError as error:
            actions.error(f"The model could not be exported: {error}")
    actions.download_button(
        "Download the model (GLB)",
        data=lambda: mesh_to_glb(mesh, colourmap=colourmap, double_sided=double_sided, patient_frame=patient_frame),
        file_name=f"{key}.glb",
        mime="model/gltf-binary",
        key=f"{key}_glb",
        help="Binary glTF in metres with colours: for Blender, a slicer, or another viewer.",
    )
    scene_id = scenes.get(fingerprint)
    if scene_id is not None:
        try:
            scene_store().get(scene_id)
        except SceneNotFound:  # revoked on My scenes (or deleted): its link is not shown again
            scenes.pop(fingerprint, None)
            scene_id = None
        except CoreError:
            pass  # the database is unreachable: said below, with the pins
    if scene_id is None:
        link.caption("The viewer: orbit and zoom on a desktop; in a headset, walk around the model life-size, cut "
                     "it open and drop labelled pins, which are kept with the scene.")  # fmt: skip
        return
    try:
        url = viewer_url(app_address(), scene_id)
    except CoreError as error:
        link.error(f"No link can be made: {error}")
        return
    code, text = link.columns([1, 2])
    code.image(qr_png(url), caption="Scan with the headset", width=170)
    text.link_button("Open the viewer", url, icon=":material/open_in_new:")
    text.code(url, language=None)
    for note in headset_notes(url):
        text.caption(note)
    try:
        pins = scene_store().annotations(scene_id)
    except CoreError as error:
        text.warning(f"The pins cannot be read: {error}")
        return
    if pins:
        table = pd.DataFrame({"Label": [p.label for p in pins],
                              "Position (mm)": [", ".join(f"{1000 * v:.0f}" for v in p.position) for p in pins],
                              "Dropped": [p.created.strftime("%Y-%m-%d %H:%M UTC") for p in pins]})  # fmt: skip
        link.dataframe(table, hide_index=True, key=f"{key}_pins")
    else:
        text.caption("No pins yet: they appear here (press R to refresh) once dropped in the viewer.")
