"""Plotly figures: the 3D intensity surface of an image (the seed paper's Fig. 4), training curves (its Fig. 5)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.errors import InputError
from core.preprocess import shrink_to_fit

__all__ = ["downsample_for_surface", "intensity_surface", "training_curves"]


def downsample_for_surface(pixels: np.ndarray, *, max_side: int = 160) -> np.ndarray:
    """Shrink an image, keeping its aspect ratio, so that its longer side is at most ``max_side`` pixels.

    A surface of ``H × W`` vertices is drawn by WebGL in the browser; 160 × 160 (25 600 vertices) stays fluid
    to rotate on a laptop, while a full 2000 × 2000 radiograph (4 M vertices) would freeze the page.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
    max_side : int
        Largest side of the result, at least 8.

    Returns
    -------
    ndarray of float32, shape (h, w)
        With ``max(h, w) <= max_side``; the input itself (copied) if already small enough.
    """
    if max_side < 8:
        raise InputError(f"The surface needs at least 8 samples per side; got max_side={max_side}.")
    return shrink_to_fit(pixels, max_side=max_side)


def intensity_surface(
    pixels: np.ndarray, *, max_side: int = 160, colorscale: str = "Viridis", title: str = ""
) -> go.Figure:
    """A 3D surface whose height is pixel intensity, over the image plane.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
        Image in ``[0, 1]`` (or any real values, e.g. z-scores: the axis follows them).
    max_side : int
        Resolution of the surface; see :func:`downsample_for_surface`.
    colorscale : str
        A Plotly colour scale name.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        x is the column and y the row in the original image's pixels (row 0 at the back, as in the image), z the
        intensity.
    """
    height, width = np.shape(pixels)
    small = downsample_for_surface(pixels, max_side=max_side)
    rows = np.linspace(0, height - 1, small.shape[0])
    columns = np.linspace(0, width - 1, small.shape[1])
    figure = go.Figure(
        go.Surface(
            z=small,
            x=columns,
            y=rows,
            colorscale=colorscale,
            colorbar={"title": {"text": "Intensity"}},
            hovertemplate="column %{x:.0f}<br>row %{y:.0f}<br>intensity %{z:.3f}<extra></extra>",
        )
    )
    longest = max(height, width)
    figure.update_layout(
        title={"text": title} if title else None,
        margin={"l": 0, "r": 0, "t": 40 if title else 0, "b": 0},
        scene={
            "xaxis": {"title": {"text": "column (px)"}},
            "yaxis": {"title": {"text": "row (px)"}, "autorange": "reversed"},
            "zaxis": {"title": {"text": "intensity"}},
            "aspectmode": "manual",
            "aspectratio": {"x": width / longest, "y": height / longest, "z": 0.4},
            "camera": {"eye": {"x": 1.2, "y": -1.6, "z": 1.1}},
        },
        height=560,
    )
    return figure


def training_curves(history: list[dict[str, float]], *, selected_epoch: int | None = None) -> go.Figure:
    """Per-epoch training and validation loss and accuracy, side by side.

    Parameters
    ----------
    history : list of dict
        One record per epoch with ``epoch, train_loss, val_loss, train_accuracy, val_accuracy`` (as training
        writes them).
    selected_epoch : int, optional
        Marked with a vertical line (the epoch kept as the model).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    if not history:
        raise InputError("No epochs recorded yet: the training history is empty.")
    epochs = [record["epoch"] for record in history]
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    for column, metric in enumerate(("loss", "accuracy"), start=1):
        for split, name, colour in (("train", "training", "#1f77b4"), ("val", "validation", "#d62728")):
            figure.add_trace(
                go.Scatter(x=epochs, y=[record[f"{split}_{metric}"] for record in history], mode="lines+markers",
                           name=name, line={"color": colour}, legendgroup=split, showlegend=column == 1),
                row=1, col=column,
            )  # fmt: skip
        if selected_epoch is not None:
            figure.add_vline(x=selected_epoch, line_dash="dot", line_color="grey", row=1, col=column)
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(
        height=380,
        margin={"l": 40, "r": 20, "t": 60, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.1, "xanchor": "right", "x": 1},
    )
    return figure
