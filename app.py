"""Entry point (``streamlit run app.py``): the router, and nothing else. Pages are listed in ui/navigation.py."""

from ui.navigation import run_router

run_router()
