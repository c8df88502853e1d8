"""My scenes: the 3D scenes the signed-in user made with "Open in VR" (an admin: everyone's), their links and pins;
a link can be revoked for good."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import CoreError
from core.xr.links import viewer_url
from ui.auth import audit, require_user
from ui.navigation import page_setup
from ui.xr import app_address, scene_store

page_setup()
user = require_user()
owner = None if user.is_admin else user.name

st.title("My scenes" if owner else "Scenes (every account's)")
st.caption(
    "Each “Open in VR” makes a scene: a 3D model and the pins dropped on it, reached by its link (whoever has the "
    "link may view and annotate it). Opening the same model again gives the same scene back. Revoking a link ends "
    "it for good: the viewer then says the scene does not exist. Scenes are deleted with the records after the "
    "retention period."
)
if revoked := st.session_state.pop("scenes_revoked", None):
    st.success(f"The link of “{revoked}” is revoked: the scene is gone for everyone who had it.")
try:
    scenes = scene_store().owned(owner=owner)
except CoreError as error:
    st.error(f"The scenes cannot be listed. {error}")
    st.stop()
if not scenes:
    st.info("No scene yet: use “Open in VR” on Diagnose (the heat map's relief) or Reconstruct 3D.")
    st.stop()
try:
    base = app_address()
    links = [viewer_url(base, scene.id) for scene in scenes]
except CoreError as error:
    st.error(f"No link can be made: {error}")
    st.stop()
table = pd.DataFrame(
    {
        "Title": [s.title for s in scenes],
        "Made (UTC)": [s.created.strftime("%Y-%m-%d %H:%M") for s in scenes],
        "Pins": [s.pins for s in scenes],
        "Link": links,
        **({"Account": [s.owner or "(before accounts)" for s in scenes]} if owner is None else {}),
    }
)
st.dataframe(table, hide_index=True, key="scenes_table",
             column_config={"Link": st.column_config.LinkColumn(display_text="open the viewer")})  # fmt: skip
chosen = st.selectbox("Scene", scenes, key="scenes_chosen",
                      format_func=lambda s: f"{s.title} · {s.created:%Y-%m-%d %H:%M} · {s.pins} pins")  # fmt: skip
if st.button("Revoke this scene's link", key="scenes_revoke", icon=":material/link_off:"):
    st.session_state["scenes_revoking"] = chosen.id
if st.session_state.get("scenes_revoking") == chosen.id:
    with st.container(border=True, key="scenes_revoke_box"):
        st.warning("Revoke the link for good? Every headset and browser holding it loses the scene.")
        confirm, cancel = st.columns(2)
        if confirm.button("Confirm revocation", key="scenes_revoke_confirm", type="primary"):
            try:
                scene_store().revoke(chosen.id, owner=owner)
            except CoreError as error:
                st.error(str(error))
            else:
                audit("revoke-scene", chosen.id, chosen.title)
                st.session_state.pop("scenes_revoking", None)
                st.session_state["scenes_revoked"] = chosen.title
                st.rerun()
        if cancel.button("Cancel", key="scenes_revoke_cancel"):
            st.session_state.pop("scenes_revoking", None)
            st.rerun()
