"""WebXR: 3D results as scenes a headset browser opens from a link (server routes, the bundled three.js viewer,
demo scenes and the viewer's benchmark)."""
