"""The project's results out of the app and into the browser: Plotly figures, heat-map overlays, the PDF/PNG report,
GLB files for headsets, STL/PLY files and the 3D view's PyVista scene."""
