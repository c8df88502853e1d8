"""Views of the project's data for the browser: Plotly figures (and, later, meshes for 3D and WebXR viewers)."""
