"""Spreading CPU-bound per-host work over processes (Python runs one thread at a time per process).

``fan_out`` forks ``processes`` children, gives each a slice of the items, and streams every result back
to the parent as it is produced, so progress stays live. The work function runs in the child with
everything the parent had in memory (fork): nothing but the items' indexes and the results cross the
process boundary, and results must be picklable. Used by ``verify`` for large fleets.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["auto_processes", "fan_out"]

T = TypeVar("T")
R = TypeVar("R")

HOSTS_PER_PROCESS = 500
"""Below this many hosts per process, a fork costs more than it saves."""

_DONE = "netimmutable.fanout: done"
_JOB: tuple[Sequence[Any], Callable[..., list[Any]], Any] | None = None
"""What the forked children run: (items, work, queue). Set by the parent right before forking."""


def auto_processes(items: int) -> int:
    """How many processes suit ``items`` hosts on this machine (1: stay in process)."""
    return max(1, min(os.cpu_count() or 1, items // HOSTS_PER_PROCESS))


def _child(indexes: Sequence[int]) -> list[Any]:
    assert _JOB is not None  # noqa: S101 - set before the fork
    items, work, queue = _JOB
    return work([items[i] for i in indexes], queue.put)


def fan_out(
    items: Sequence[T],
    processes: int,
    work: Callable[[Sequence[T], Callable[[R], None]], list[R]],
    on_result: Callable[[R], None] | None = None,
) -> list[R]:
    """``work(slice, emit)`` over ``processes`` slices of ``items`` (in process when 1); the results of all
    slices, in no particular order. ``emit`` hands each result to ``on_result`` in the parent as soon as it
    exists (from a reader thread: ``on_result`` must be thread-safe, as Nornir progress callbacks are)."""
    global _JOB  # noqa: PLW0603 - fork hands the job to the children through module state
    if processes <= 1 or len(items) < 2:
        return work(items, on_result or (lambda _result: None))
    context = multiprocessing.get_context("fork")
    queue = context.SimpleQueue()
    slices = [list(range(i, len(items), processes)) for i in range(processes)]

    def drain() -> None:
        while True:
            result = queue.get()
            if isinstance(result, str) and result == _DONE:
                return
            if on_result is not None:
                on_result(result)

    reader = threading.Thread(target=drain, name="fanout-progress", daemon=True)
    _JOB = (items, work, queue)
    try:
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            reader.start()
            futures = [pool.submit(_child, indexes) for indexes in slices if indexes]
            results: list[R] = []
            for future in futures:
                results.extend(future.result())
    finally:
        _JOB = None
        queue.put(_DONE)
        reader.join(timeout=30)
    return results
