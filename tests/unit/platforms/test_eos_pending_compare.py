"""A device comparison on EOS while this session's commit waits for its confirm (NAPALM's real ``eos`` driver,
the EOS double).

NAPALM loads every candidate into the driver's ``config_session``, which after
``commit_config(revert_in=...)`` is the committed session: EOS refuses to enter a committed session again
("session has already been committed"), and ``discard_config`` there would abort it, cancelling the commit
timer. The post-checks compare
the device with the release that way (``netimmutable.compare``, strategy ``device``) before the confirm.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netimmutable.compare import Strategy, compare_running
from netimmutable.device import Device
from tests.contract import with_line
from tests.doubles.eos import EosDouble, start_eos
from tests.unit.platforms.test_eos_device import NEW_ROUTE, host_for


@pytest.fixture
def dev() -> Iterator[EosDouble]:
    with start_eos("r1") as device:
        yield device


def test_a_device_comparison_during_a_pending_commit_leaves_it_pending_and_confirmable(
    dev: EosDouble,
) -> None:
    new = with_line(dev.baseline, NEW_ROUTE)
    with Device.open(host_for(dev), attempts=1) as device:
        device.load_replace(new)
        device.commit("", revert_in=3600)

        same = compare_running(device, new, Strategy.DEVICE)
        other = compare_running(device, dev.baseline, Strategy.DEVICE)

        assert same.equal and not other.equal
        assert dev.has_pending(), "the comparison aborted the pending commit"
        device.confirm()
    assert not dev.has_pending()
    assert NEW_ROUTE in (dev.startup() or "").splitlines()  # confirmed: saved
    assert set(dev.session_states().values()) <= {"completed"}, dev.session_states()
