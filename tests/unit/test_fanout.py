"""Spreading work over processes: every item's result comes back, progress streams live, errors surface."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

import pytest

from netimmutable.fanout import HOSTS_PER_PROCESS, FanOutError, auto_processes, fan_out


def _square_with_pid(
    items: Sequence[int], emit: Callable[[tuple[int, int, int]], None]
) -> list[tuple[int, int, int]]:
    out = []
    for item in items:
        result = (item, item * item, os.getpid())
        emit(result)
        out.append(result)
    return out


def test_every_item_is_worked_once_in_other_processes_and_streamed_back() -> None:
    seen: list[tuple[int, int, int]] = []
    lock = threading.Lock()

    def on_result(result: tuple[int, int, int]) -> None:
        with lock:
            seen.append(result)

    results = fan_out(list(range(40)), 3, _square_with_pid, on_result)

    assert sorted((i, sq) for i, sq, _ in results) == [(i, i * i) for i in range(40)]
    pids = {pid for _, _, pid in results}
    assert os.getpid() not in pids and len(pids) == 3  # one child per slice, none of it in the parent
    assert sorted(seen) == sorted(results)  # each result reached the parent's callback once


def test_one_process_runs_in_this_process() -> None:
    results = fan_out([1, 2, 3], 1, _square_with_pid)
    assert {pid for _, _, pid in results} == {os.getpid()}


def _boom(items: Sequence[int], emit: Callable[[int], None]) -> list[int]:
    raise RuntimeError(f"child failed on {list(items)}")


def test_a_failing_child_raises_in_the_parent() -> None:
    with pytest.raises(FanOutError, match="child failed on"):
        fan_out([1, 2, 3, 4], 2, _boom)


def _die(items: Sequence[int], emit: Callable[[int], None]) -> list[int]:
    os._exit(9)  # killed without reporting, as by the out-of-memory killer


def test_a_child_that_dies_without_reporting_raises_in_the_parent() -> None:
    with pytest.raises(FanOutError, match="died with exit code 9"):
        fan_out([1, 2, 3, 4], 2, _die)


def test_auto_processes_stays_in_process_for_small_fleets() -> None:
    assert auto_processes(10) == 1
    assert auto_processes(HOSTS_PER_PROCESS * 64) == (os.cpu_count() or 1)
