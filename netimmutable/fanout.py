"""Spreading CPU-bound per-host work over processes (Python runs one thread at a time per process).

``fan_out`` forks one child per slice of the items; each child runs the work on its slice with everything
the parent had in memory (fork) and streams every result back as it is produced, so progress stays live.
Only results cross the process boundary (they must be picklable). Used by ``verify`` for large fleets.

Kept over a local Dask cluster of processes (the engine ``--cluster`` uses, ``netimmutable.cluster``): on
one machine that was 2.3-4.5x slower for the same verify (docs/performance.md, ``python -m bench --only
cluster``), because every host becomes a pickled, scheduled task where forked children share the fleet for
free.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["HOSTS_PER_PROCESS", "FanOutError", "auto_processes", "fan_out"]

T = TypeVar("T")
R = TypeVar("R")

HOSTS_PER_PROCESS = 500
"""Below this many hosts per process, a fork costs more than it saves."""


class FanOutError(RuntimeError):
    """A child failed (its traceback is the message) or died without reporting."""


def auto_processes(items: int) -> int:
    """How many processes suit ``items`` hosts on this machine (1: stay in process)."""
    return max(1, min(os.cpu_count() or 1, items // HOSTS_PER_PROCESS))


def _child(
    index: int,
    items: Sequence[Any],
    work: Callable[[Sequence[Any], Callable[[Any], None]], list[Any]],
    channel: Any,
    stream: bool,
) -> None:
    """Runs in the forked child: progress messages while working, then one final message."""
    try:
        emit: Callable[[Any], None] = (lambda r: channel.put(("progress", index, r))) if stream else _ignore
        results = work(items, emit)
    except BaseException:  # noqa: BLE001 - whatever happened is reported to the parent, which raises it
        channel.put(("error", index, traceback.format_exc()))
    else:
        channel.put(("done", index, results))


def _ignore(_result: Any) -> None:
    return None


def fan_out(
    items: Sequence[T],
    processes: int,
    work: Callable[[Sequence[T], Callable[[R], None]], list[R]],
    on_result: Callable[[R], None] | None = None,
) -> list[R]:
    """``work(slice, emit)`` over ``processes`` slices of ``items`` (in this process when 1); the results of
    all slices, in no particular order. ``emit`` hands each result to ``on_result`` in the parent as soon
    as it exists."""
    if processes <= 1 or len(items) < 2:
        return work(items, on_result or _ignore)
    context = multiprocessing.get_context("fork")
    channel = context.Queue()
    slices = [list(items[i::processes]) for i in range(processes)]
    children = {
        index: context.Process(
            target=_child,
            args=(index, chunk, work, channel, on_result is not None),
            name=f"netimmutable-fanout-{index}",
            daemon=True,
        )
        for index, chunk in enumerate(slices)
        if chunk
    }
    for child in children.values():
        child.start()
    results: list[R] = []
    pending = set(children)
    try:
        while pending:
            try:
                kind, index, payload = channel.get(timeout=1.0)
            except queue_module.Empty:
                dead = [i for i in pending if children[i].exitcode not in (None, 0)]
                if dead:  # killed (e.g. out of memory) before it could report
                    raise FanOutError(
                        f"worker process {dead[0]} died with exit code {children[dead[0]].exitcode}"
                    ) from None
                continue
            if kind == "progress":
                if on_result is not None:
                    on_result(payload)
            elif kind == "done":
                results.extend(payload)
                pending.discard(index)
            else:
                raise FanOutError(f"worker process {index} failed:\n{payload}")
    finally:
        for child in children.values():
            if child.is_alive():
                child.terminate()
            child.join(timeout=10)
        channel.close()
    return results
