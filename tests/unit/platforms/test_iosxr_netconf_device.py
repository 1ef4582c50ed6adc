"""netimmutable's ``Device`` over NAPALM's real ``iosxr_netconf`` driver against the IOS-XR NETCONF double:
the candidate lock at load.

The driver takes ``<lock>`` on ``candidate`` when it loads, outside its own exception handling (a lock held
by another session escapes as ncclient's ``RPCError``), and a refused ``<copy-config>`` keeps the lock until
``discard_config`` or the end of the session. netimmutable must name a held lock as such
(``CandidateLocked``, host and step) and never keep the lock after a refused load.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netimmutable.device import Device
from netimmutable.errors import CandidateLocked, ConfigRejected
from tests.doubles.iosxr_netconf import IosxrNetconfDouble, start_iosxr_netconf, strip_header
from tests.unit.platforms.device_hosts import host_for, other_session


@pytest.fixture
def dev() -> Iterator[IosxrNetconfDouble]:
    with start_iosxr_netconf() as double:
        yield double


def test_a_load_while_another_session_holds_the_lock_is_candidate_locked(dev: IosxrNetconfDouble) -> None:
    other = other_session(dev)
    try:
        other.load_replace_candidate(config=strip_header(dev.running()).replace("hostname r1", "hostname x"))
        before = dev.running()
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(CandidateLocked) as caught:
            device.load_replace(strip_header(before))
        assert caught.value.host == "r1"
        assert "load_replace_candidate" in caught.value.message
        assert dev.locked(), "the other session's lock was released by netimmutable"
        assert dev.running() == before
    finally:
        other.discard_config()
        other.close()


def test_a_refused_load_releases_the_lock_while_the_session_is_open(dev: IosxrNetconfDouble) -> None:
    before = dev.running()
    with Device.open(host_for(dev), attempts=1) as device:
        with pytest.raises(ConfigRejected) as caught:
            device.load_replace(strip_header(before) + "frobnicate all the widgets\n")
        assert caught.value.host == "r1"
        assert not dev.locked(), "the refused load kept the candidate lock"
        other = other_session(dev)  # someone else can load now, while our session is still open
        try:
            other.load_replace_candidate(config=strip_header(before))
            assert other.compare_config() == ""
        finally:
            other.discard_config()
            other.close()
    assert dev.running() == before


def test_preflight_finds_the_candidate_locked_by_another_session(dev: IosxrNetconfDouble) -> None:
    other = other_session(dev)
    try:
        other.load_replace_candidate(config=strip_header(dev.running()))
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(CandidateLocked) as caught:
            device.preflight()
        assert caught.value.host == "r1"
        assert "pre-flight" in caught.value.message
        assert dev.locked()
    finally:
        other.discard_config()
        other.close()


def test_preflight_on_a_free_candidate_leaves_it_free(dev: IosxrNetconfDouble) -> None:
    with Device.open(host_for(dev), attempts=1) as device:
        device.preflight()
        assert not dev.locked(), "the lock probe kept the lock"
        device.load_replace(strip_header(dev.running()))
        assert device.compare() == ""
        device.discard()
    assert not dev.locked()
