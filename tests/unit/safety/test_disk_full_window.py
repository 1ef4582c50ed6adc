"""A full disk under the journal after the load (issue 14, item 10): the entry before the commit or before the
confirm cannot be made durable. No traceback: before the commit the device is untouched (the candidate is
discarded); after it the change is never confirmed without its journal entry, our pending commit is cancelled,
and the host is left to `netimmutable recover` (exit 5, lock kept)."""

from __future__ import annotations

import pytest

from netimmutable.journal import unfinished_runs
from netimmutable.locks import list_locks
from tests.unit.deploy.conftest import Net
from tests.unit.safety.test_disk_full import _full_disk_at


def test_disk_full_before_the_commit_leaves_the_device_untouched_and_exits_1(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    net.announce("r1", "10.99.0.0/24")
    before = net.lab.running("r1")
    _full_disk_at(monkeypatch, b'"step": "commit"', partial=False)
    result = net.cli("deploy", "--yes", "--limit", "r1")
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert "journal could not be written" in result.output and "Traceback" not in result.output
    assert "internal error" not in result.output
    assert net.lab.running("r1") == before and not net.lab.has_pending("r1")
    assert list_locks(net.repo) == []


def test_disk_full_before_the_confirm_is_not_confirmed_and_left_to_recover(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    net.announce("r1", "10.99.0.0/24")
    before = net.lab.running("r1")
    _full_disk_at(monkeypatch, b'"step": "confirm"', partial=False)
    result = net.cli("deploy", "--yes", "--limit", "r1", "--soak", "0")
    monkeypatch.undo()
    assert result.exit_code == 5, result.output
    assert "journal could not be written" in result.output and "Traceback" not in result.output
    assert "internal error" not in result.output and "recover" in result.output
    assert net.lab.running("r1") == before and not net.lab.has_pending("r1")  # our commit cancelled
    [run] = unfinished_runs(net.repo)
    assert [h.host for h in run.hosts] == ["r1"]
    assert [held.path.name for held in list_locks(net.repo)] == ["device-r1.lock"]
    recovered = net.cli("recover")
    assert recovered.exit_code == 0, recovered.output
    assert net.lab.running("r1") == before and list_locks(net.repo) == []
