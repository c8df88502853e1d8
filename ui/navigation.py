"""The app's pages and the router that runs them: the pages a user may see (visitors: every page, each but Home
showing the sign-in form; doctors: all but the admin pages; admins: all), the shared sidebar, then the page.

Streamlit treats a folder named ``pages/`` beside the entry point as an old-style ("v1") multipage app until
``st.navigation`` has run once in the server process, and ``AppTest.switch_page`` likewise runs a page file on
its own. A page opened that way would miss the router's page configuration, sidebar notice and navigation.
:func:`page_setup`, called first by every page, notices this and runs the router, which renders the same page
(it resolves the page from the URL), then stops the outer run. No rerun is involved, so widget values survive.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from ui.auth import account_sidebar, current_user, refuse_remote_single_user, sign_in_form
from ui.layout import research_notice
from ui.retention import retention_keeper

PAGES = {
    "pages/home.py": {"title": "Home", "icon": ":material/home:", "default": True},
    "pages/diagnose.py": {"title": "Diagnose", "icon": ":material/stethoscope:"},
    "pages/preprocessing_lab.py": {"title": "Preprocessing lab", "icon": ":material/science:"},
    "pages/classifier.py": {"title": "Classifier", "icon": ":material/model_training:"},
    "pages/history.py": {"title": "History", "icon": ":material/history:"},
    "pages/reconstruct.py": {"title": "Reconstruct 3D", "icon": ":material/view_in_ar:"},
    "pages/scenes.py": {"title": "My scenes", "icon": ":material/deployed_code:"},
    "pages/train.py": {"title": "Train (admin)", "icon": ":material/play_circle:"},
    "pages/models.py": {"title": "Models (admin)", "icon": ":material/inventory_2:"},
    "pages/accounts.py": {"title": "Accounts and audit (admin)", "icon": ":material/admin_panel_settings:"},
}
ADMIN_PAGES = ("pages/train.py", "pages/models.py", "pages/accounts.py")  # not in a doctor's navigation
PUBLIC_PAGES = ("pages/home.py",)  # the only page a visitor sees; the others show the sign-in form
# The browser tab's icon: the app's own SVG, sent inline (a data: URL). Streamlit's frontend turns a ":material/...:"
# page icon into a fonts.gstatic.com address that every browser then fetches (the icons elsewhere on the pages come
# from the font Streamlit serves itself): nothing may leave an offline hospital network.
PAGE_ICON = Path(__file__).with_name("assets") / "favicon.svg"
_routing = threading.local()  # each session's script runs in its own thread
# On a tablet (820 px) Streamlit's 300 px sidebar took over a third of the screen: narrower below 1100 px. On phones
# Streamlit lays the sidebar over the page, collapsed, by itself.
_TABLET_SIDEBAR = (
    "<style>@media (min-width: 640px) and (max-width: 1100px) { section[data-testid='stSidebar'] "
    "{ width: 220px !important; min-width: 220px !important; } }</style>"
)


def run_router() -> None:
    """Page configuration, navigation, the shared sidebar, then the chosen page (the whole of ``app.py``)."""
    st.set_page_config(page_title="X-ray workstation", page_icon=str(PAGE_ICON), layout="wide")
    refuse_remote_single_user()
    user = current_user()
    shown = {path: options for path, options in PAGES.items()
             if user is None or user.is_admin or path not in ADMIN_PAGES}  # fmt: skip
    pages = {path: st.Page(path, **options) for path, options in shown.items()}
    page = st.navigation(list(pages.values()))
    st.html(_TABLET_SIDEBAR)
    research_notice()
    account_sidebar(user)
    retention_keeper()
    if user is None and page.url_path not in {pages[path].url_path for path in PUBLIC_PAGES}:
        sign_in_form()  # stops: nothing of the page is run
    _routing.active = True
    try:
        page.run()
    finally:
        _routing.active = False


def page_setup() -> None:
    """First call of every page: run the page through the router if Streamlit ran it alone."""
    if not getattr(_routing, "active", False):
        run_router()
        st.stop()
