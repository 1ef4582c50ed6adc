"""procpool: results in order, a worker's exception raised in the parent, in process when it must."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import pytest

from netimmutable.procpool import ordered_map, resolve_processes


def _tag(state: str, chunk: Sequence[int]) -> list[tuple[str, int, int]]:
    return [(state, item, os.getpid()) for item in chunk]


def _fail_on_13(state: None, chunk: Sequence[int]) -> list[int]:
    if 13 in chunk:
        raise ValueError("item 13")
    return list(chunk)


def test_results_come_in_order_from_several_processes() -> None:
    items = list(range(200))
    out = list(ordered_map(_tag, items, state="s", processes=2, chunk_size=7))
    assert [item for _, item, _ in out] == items
    assert {state for state, _, _ in out} == {"s"}  # the state reached the workers through fork
    if resolve_processes(2) > 1 and threading.active_count() == 1:  # (a thread left by another test: in
        assert os.getpid() not in {pid for _, _, pid in out}  # process, see the test below)


def test_small_work_and_one_process_stay_in_process() -> None:
    pids = {pid for _, _, pid in ordered_map(_tag, list(range(10)), state="s", processes=2, min_items=24)}
    assert pids == {os.getpid()}
    pids = {pid for _, _, pid in ordered_map(_tag, list(range(100)), state="s", processes=1)}
    assert pids == {os.getpid()}


def test_other_threads_keep_the_work_in_process() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        pids = {pid for _, _, pid in ordered_map(_tag, list(range(100)), state="s", processes=2)}
    finally:
        stop.set()
        thread.join()
    assert pids == {os.getpid()}


def test_a_worker_exception_is_raised_in_the_parent() -> None:
    with pytest.raises(ValueError, match="item 13"):
        list(ordered_map(_fail_on_13, list(range(100)), state=None, processes=2, chunk_size=5))
