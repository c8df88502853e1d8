"""Entry point: ``streamlit run app.py``.

Streamlit imports this file to find the server (``app``: Streamlit plus the WebXR viewer's routes, see
:mod:`core.xr.server`), then runs it as the script of every session: the router (page configuration, navigation,
the shared sidebar; pages are listed in ui/navigation.py).
"""

import streamlit as st

if __name__ == "__main__":  # a session's script run
    from ui.navigation import run_router

    run_router()
else:  # `streamlit run` (or uvicorn) importing the server
    from core.xr.server import routes

    app = st.App(__file__, routes=routes())
