"""A progress bar with an honest time estimate, for computations that take more than a couple of seconds (Score-CAM,
SART): the estimate is the time so far scaled by the share left, shown once a tenth is done."""

from __future__ import annotations

import time

import streamlit as st

__all__ = ["ProgressBar"]


class ProgressBar:
    """A :data:`core.types.Progress` that draws in the page: call it with the share done; :meth:`close` removes it.

    Usable as a context manager; nothing is drawn for a computation that reports nothing (a cached result).
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.slot = st.empty()
        self.start = time.perf_counter()

    def __call__(self, done: float) -> None:
        done = min(max(float(done), 0.0), 1.0)
        elapsed = time.perf_counter() - self.start
        text = f"{self.label}: {done:.0%}"
        if 0.1 <= done < 1.0:
            text += f", about {elapsed * (1.0 - done) / done:.0f} s left"
        self.slot.progress(done, text=text)

    def close(self) -> None:
        self.slot.empty()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *_) -> None:
        self.close()
