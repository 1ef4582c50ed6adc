"""netimmutable's ``Device`` over NAPALM's real ``junos`` driver against the Junos double: artifact format,
the candidate lock, refused loads.

NAPALM's junos driver locks the candidate at load (``<lock-configuration/>``) and keeps it until discard,
commit or the end of the session; PyEZ refuses ``set`` commands with ``overwrite`` (a bare ``ValueError``
raised after the lock was taken). Whatever goes wrong at load, netimmutable must leave the lock free while
its session is still open, so that nobody else (or its own next step) is locked out.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netimmutable.device import Device
from netimmutable.errors import CandidateLocked, ConfigRejected
from tests.doubles.junos import JunosDouble, start_junos, strip_header
from tests.unit.platforms.device_hosts import host_for, other_session

SET_ARTIFACT = "set system host-name r1-new\nset interfaces ge-0/0/0 description uplink\n"


@pytest.fixture
def dev() -> Iterator[JunosDouble]:
    with start_junos() as double:
        yield double


def test_a_set_format_artifact_is_refused_before_any_lock(dev: JunosDouble) -> None:
    before = dev.running()
    with Device.open(host_for(dev), attempts=1) as device:
        with pytest.raises(ConfigRejected) as caught:
            device.load_replace(SET_ARTIFACT)
        assert caught.value.host == "r1"
        assert "`set` format" in caught.value.message and "line 1" in caught.value.message
        assert not dev.locked(), "the candidate lock is still held after the refused load"
        assert not dev.candidate_changed()
        device.load_replace(strip_header(dev.running()))  # the session itself can still load
        assert device.compare() == ""
        device.discard()
    assert dev.running() == before


def test_a_load_while_another_session_holds_the_lock_is_candidate_locked(dev: JunosDouble) -> None:
    other = other_session(dev)
    try:
        other.load_replace_candidate(
            config=strip_header(dev.running()).replace("host-name r1;", "host-name x;")
        )
        before = dev.running()
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(CandidateLocked) as caught:
            device.load_replace(strip_header(before))
        assert caught.value.host == "r1"
        assert "load_replace_candidate" in caught.value.message
        assert dev.locked(), "netimmutable broke or released the other session's lock"
        assert "host-name x;" in dev.candidate(), "netimmutable discarded the other session's candidate"
        assert dev.running() == before
    finally:
        other.discard_config()
        other.close()


def test_a_refused_load_leaves_no_lock_while_the_session_is_open(dev: JunosDouble) -> None:
    before = dev.running()
    with Device.open(host_for(dev), attempts=1) as device:
        with pytest.raises(ConfigRejected) as caught:
            device.load_replace("system {\n    host-name r1\n")  # unbalanced braces: a syntax error
        assert caught.value.host == "r1"
        assert not dev.locked()
        assert not dev.candidate_changed()
    assert dev.running() == before


# ----------------------------------------------------------------------------------- pre-flight


def test_preflight_finds_the_candidate_locked_by_another_session(dev: JunosDouble) -> None:
    other = other_session(dev)
    try:
        theirs = strip_header(dev.running()).replace("host-name r1;", "host-name x;")
        other.load_replace_candidate(config=theirs)
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(CandidateLocked) as caught:
            device.preflight()
        assert caught.value.host == "r1"
        assert "pre-flight" in caught.value.message
        assert dev.locked() and "host-name x;" in dev.candidate(), "the other session's work was touched"
    finally:
        other.discard_config()
        other.close()


def test_preflight_finds_uncommitted_changes_another_session_left_in_the_candidate(dev: JunosDouble) -> None:
    """Junos refuses the lock while the shared candidate holds another session's uncommitted changes
    ("configuration database modified"), though nobody holds the lock."""
    other = other_session(dev, lock_disable=True)
    try:
        theirs = strip_header(dev.running()).replace("host-name r1;", "host-name x;")
        other.load_replace_candidate(config=theirs)
        assert not dev.locked() and dev.candidate_changed()
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(CandidateLocked):
            device.preflight()
    finally:
        other.close()


def test_preflight_on_a_free_candidate_leaves_it_free(dev: JunosDouble) -> None:
    with Device.open(host_for(dev), attempts=1) as device:
        device.preflight()
        assert not dev.locked(), "the lock probe kept the lock"
        device.load_replace(strip_header(dev.running()))
        assert device.compare() == ""
        device.discard()
