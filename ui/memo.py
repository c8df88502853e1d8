"""A small server-wide memo for results whose computation draws on the page (a progress bar): Streamlit's own
caches replay what a cached function drew, which fails once that drawing belongs to an earlier run."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import streamlit as st

__all__ = ["Memo", "memo"]

T = TypeVar("T")


class Memo(Generic[T]):
    """The ``size`` most recently used results by key; :meth:`get_or_compute` computes a missing one outside the
    lock (two sessions asking for the same key at once may both compute it; the second result is kept)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


@st.cache_resource
def memo(name: str, size: int) -> Memo:
    """The server's memo called ``name`` (one per kind of result), created on first use."""
    return Memo(size)
