"""A full disk under the journal (issue 14, item 10, journal part): the entry written before a step
cannot be made durable, so the step is not taken; the run ends with a clear message, no traceback, the
device untouched, and the journal still readable (no half-written entry left in the middle of it)."""

from __future__ import annotations

import errno
import os
from typing import Any

import pytest

from netimmutable import journal as journal_module
from netimmutable.journal import unfinished_runs
from netimmutable.locks import list_locks
from tests.unit.deploy.conftest import Net


def _full_disk_at(monkeypatch: pytest.MonkeyPatch, marker: bytes, partial: bool) -> None:
    real = os.write

    def write(fd: int, data: Any) -> int:
        if marker in bytes(data):
            if partial:  # the file system took part of the entry, then ran out of space
                real(fd, bytes(data)[:20])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(journal_module.os, "write", write)


@pytest.mark.parametrize("partial", [False, True], ids=["nothing-written", "half-an-entry"])
def test_disk_full_before_the_load_leaves_the_device_untouched_and_exits_1(
    net: Net, monkeypatch: pytest.MonkeyPatch, partial: bool
) -> None:
    net.announce("r1", "10.99.0.0/24")
    before = net.lab.running("r1")
    _full_disk_at(monkeypatch, b'"before"', partial)
    result = net.cli("deploy", "--yes", "--limit", "r1")
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert "journal could not be written" in result.output and "Traceback" not in result.output
    assert net.lab.running("r1") == before and not net.lab.has_pending("r1")
    assert unfinished_runs(net.repo) == [] and list_locks(net.repo) == []  # readable, nothing in flight


def test_disk_full_when_the_journal_is_created_is_a_clear_error(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    net.announce("r1", "10.99.0.0/24")
    before = net.lab.running("r1")
    _full_disk_at(monkeypatch, b'"open"', partial=False)
    result = net.cli("deploy", "--yes", "--limit", "r1")
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert "journal could not be written" in result.output and "Traceback" not in result.output
    assert net.lab.running("r1") == before
    assert unfinished_runs(net.repo) == [] and list_locks(net.repo) == []
