"""CPU-bound work of one command spread over the machine's cores: forked worker processes, results in order.

Render (and the inventory parse before it) are CPU-bound Python: threads would queue for one GIL. Here a
pool of forked processes runs ``fn(state, chunk)`` for chunks of the items, and the parent receives the
results in the items' order, so what the command prints and raises is what one process would. ``state``
(the loaded inventory, the file's bytes) reaches the workers through ``fork``, never pickled; only the
chunks and their results travel. At most ``2 x processes`` chunks are in flight, so results do not pile
up in the parent faster than it consumes them (memory stays bounded by the window, not by the work).

Without ``fork`` (not Linux), with one process, for fewer items than ``min_items``, or when the calling
process runs other threads (a deploy's lease renewals: a child forked while another thread holds a lock,
logging's or a memo's, would wait for it forever), everything runs in the calling process, in the same
order: the embedded default needs no pool.

Examples:
    >>> list(ordered_map(_square_all, [1, 2, 3], state=10, processes=1))
    [11, 14, 19]
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["auto_processes", "ordered_map", "resolve_processes"]

T = TypeVar("T")
R = TypeVar("R")

_SHARED: dict[str, Any] = {}
"""``state``: what the workers of the pool being started see (set before the fork, read in the child)."""


def _square_all(state: int, chunk: Sequence[int]) -> list[int]:
    return [state + x * x for x in chunk]


def auto_processes() -> int:
    """One process per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_processes(requested: int) -> int:
    """``requested`` processes, 0 meaning one per core; 1 when ``fork`` is not available."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return auto_processes() if requested <= 0 else requested


def _run_chunk(fn: Callable[[Any, Sequence[T]], list[R]], chunk: Sequence[T]) -> list[R]:
    return fn(_SHARED["state"], chunk)


def ordered_map(
    fn: Callable[[Any, Sequence[T]], list[R]],
    items: Sequence[T],
    *,
    state: Any,
    processes: int,
    min_items: int = 1,
    chunk_size: int | None = None,
) -> Iterator[R]:
    """``fn(state, chunk)`` over chunks of ``items``, each chunk's results yielded in the items' order.

    ``fn`` must be a module-level function (it is sent to the workers by name) returning one result per
    item. ``processes`` as ``resolve_processes`` gives it; fewer than ``min_items`` items run in process.
    An exception in a worker is raised here, at the first result of its chunk; the other workers are
    stopped (their results are not waited for)."""
    count = min(resolve_processes(processes), max(1, len(items)))
    if count <= 1 or len(items) < max(min_items, 2) or threading.active_count() > 1:
        for start in range(0, len(items), chunk_size or max(1, len(items))):
            yield from fn(state, items[start : start + (chunk_size or max(1, len(items)))])
        return
    size = chunk_size or max(1, min(64, len(items) // (count * 8) or 1))
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    _SHARED["state"] = state
    pool = ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("fork"))
    pending: deque[Future[list[R]]] = deque()
    try:
        queued = iter(chunks)
        for chunk in queued:
            pending.append(pool.submit(_run_chunk, fn, chunk))
            if len(pending) >= 2 * count:
                break
        while pending:
            results = pending.popleft().result()
            nxt = next(queued, None)
            if nxt is not None:
                pending.append(pool.submit(_run_chunk, fn, nxt))
            yield from results
    finally:
        _SHARED.pop("state", None)
        pool.shutdown(wait=True, cancel_futures=True)
