"""A small thread-safe memo of recent results, bounded by how much it holds (least recently used first).

Examples:
    >>> memo = BoundedMemo(max_size=10, max_items=2, max_entry=5)
    >>> memo.put("a", 1, size=4)
    >>> memo.put("b", 2, size=4)
    >>> memo.get("a")
    1
    >>> memo.put("c", 3, size=4)  # over two items: "b", the least recently used, goes
    >>> memo.get("b") is None, memo.get("a"), memo.get("c")
    (True, 1, 3)
    >>> memo.put("d", 4, size=3)  # over 10 in all: "a" goes
    >>> memo.get("a") is None, memo.get("c"), memo.get("d")
    (True, 3, 4)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["BoundedMemo"]


class BoundedMemo:
    """Values by key; at most ``max_size`` in all (sizes as the caller counts them, e.g. characters) and
    ``max_items`` entries. An entry larger than ``max_entry`` (default: a quarter of ``max_size``) is not
    kept, so one huge value never flushes everything else."""

    def __init__(self, max_size: int, *, max_items: int | None = None, max_entry: int | None = None) -> None:
        self.max_size = max_size
        self.max_items = max_items
        self.max_entry = max_size // 4 if max_entry is None else max_entry
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        """The value kept for ``key``, or None."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        if size > self.max_entry:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (value, size)
            self._size += size
            while self._size > self.max_size or (
                self.max_items is not None and len(self._items) > self.max_items
            ):
                _, (_, dropped) = self._items.popitem(last=False)
                self._size -= dropped
