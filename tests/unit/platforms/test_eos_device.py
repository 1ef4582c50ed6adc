"""netimmutable's ``Device`` over NAPALM's real ``eos`` driver against the EOS double: one pending commit, two
sessions.

NAPALM keys ``confirm_commit`` and ``rollback`` on the driver's ``config_session`` and its ``close()``
aborts that session (``discard_config``), which on EOS cancels a running commit timer. netimmutable closes
and reopens sessions between commit and confirm (a reconnect after a lost connection, ``recover`` in a new
process), so the pending commit must outlive the session that made it and be taken over by the next one
(``Device.session_token`` / ``Device.adopt_session``, journaled as ``device_session``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nornir.core.inventory import ConnectionOptions, Host

from netimmutable.connections import CONNECTION
from netimmutable.device import ConnectError, Device
from netimmutable.errors import CandidateLocked, DeviceError
from tests.contract import with_line
from tests.doubles.eos import EosDouble, start_eos
from tests.unit.platforms.device_hosts import other_session

NEW_ROUTE = "ip route 10.254.254.0/24 Null0"


@pytest.fixture
def dev() -> Iterator[EosDouble]:
    with start_eos("r1") as device:
        yield device


def host_for(dev: EosDouble) -> Host:
    """The Nornir host netimmutable builds from the inventory and connections.yaml for this device."""
    options = ConnectionOptions(extras={"optional_args": dict(dev.optional_args)})
    return Host(
        "r1",
        hostname=dev.hostname,
        username=dev.username,
        password=dev.password,
        platform="eos",
        connection_options={CONNECTION: options},
    )


def committed_then_closed(dev: EosDouble) -> str:
    """Commit with a revert timer through one ``Device``, close it as a reconnect or an ending process does;
    the session token it held."""
    device = Device.open(host_for(dev), attempts=1)
    device.load_replace(with_line(dev.baseline, NEW_ROUTE))
    device.commit("", revert_in=3600)
    token = device.session_token()
    assert token and token.startswith("napalm_")
    device.close()
    return token


def test_closing_the_device_between_commit_and_confirm_leaves_the_commit_pending(dev: EosDouble) -> None:
    committed_then_closed(dev)
    assert dev.has_pending(), "closing the session aborted the pending commit (NAPALM's close -> discard)"
    assert NEW_ROUTE in dev.running().splitlines()


def test_a_new_device_that_adopts_the_session_confirms_the_pending_commit(dev: EosDouble) -> None:
    token = committed_then_closed(dev)
    with Device.open(host_for(dev), attempts=1) as device:
        assert device.has_pending_commit()
        device.adopt_session(token)
        device.confirm()
    assert not dev.has_pending()
    assert NEW_ROUTE in dev.running().splitlines()
    assert NEW_ROUTE in (dev.startup() or "").splitlines()


def test_a_new_device_that_adopts_the_session_rolls_the_pending_commit_back(dev: EosDouble) -> None:
    token = committed_then_closed(dev)
    with Device.open(host_for(dev), attempts=1) as device:
        device.adopt_session(token)
        device.rollback_driver()
    assert not dev.has_pending()
    assert dev.running() == dev.baseline


def test_without_the_token_a_new_device_cannot_confirm_and_the_commit_stays_pending(dev: EosDouble) -> None:
    committed_then_closed(dev)
    with Device.open(host_for(dev), attempts=1) as device, pytest.raises(DeviceError) as caught:
        device.confirm()
    assert caught.value.host == "r1"
    assert "confirm_commit" in str(caught.value)
    assert dev.has_pending()  # still the device's timer to fire


def test_a_confirmed_commit_is_closed_like_any_session(dev: EosDouble) -> None:
    """Once confirmed nothing is pending: closing runs NAPALM's own close, which leaves no session open."""
    with Device.open(host_for(dev), attempts=1) as device:
        device.load_replace(with_line(dev.baseline, NEW_ROUTE))
        device.commit("", revert_in=3600)
        device.confirm()
        assert device.session_token() is None
    assert not dev.has_pending()
    assert not [s for s, state in dev.session_states().items() if state != "completed"]


def test_a_candidate_that_was_never_committed_is_discarded_on_close(dev: EosDouble) -> None:
    with Device.open(host_for(dev), attempts=1) as device:
        device.load_replace(with_line(dev.baseline, NEW_ROUTE))
    assert not [s for s, state in dev.session_states().items() if state not in ("completed", "aborted")]
    assert dev.running() == dev.baseline


def test_an_eapi_endpoint_that_went_away_is_a_connection_error_not_a_device_refusal(dev: EosDouble) -> None:
    """pyeapi raises its own ConnectionError (not an OSError) when eAPI stops answering: netimmutable must
    treat it as unreachable (retry, cause ``unreachable``), never as the device refusing the step."""
    device = Device.open(host_for(dev), attempts=1)
    dev.stop()
    with pytest.raises(ConnectError) as caught:
        device.facts()
    assert caught.value.host == "r1"
    assert "get_facts" in str(caught.value)
    device.close()


# ----------------------------------------------------------------------------------- pre-flight


def test_preflight_finds_another_pending_config_session(dev: EosDouble) -> None:
    """Another session's loaded, uncommitted candidate would make NAPALM's load wait ten seconds and then
    fail (``SessionLockedException``): pre-flight says so at once, and leaves that session alone."""
    other = other_session(dev)
    try:
        other.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
        theirs = dict(dev.session_states())
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(CandidateLocked) as caught:
            device.preflight()
        assert caught.value.host == "r1"
        assert "config session" in caught.value.message
        assert dev.session_states() == theirs
        assert dev.running() == dev.baseline
    finally:
        other.discard_config()
        other.close()


def test_preflight_passes_without_other_sessions_and_creates_none(dev: EosDouble) -> None:
    with Device.open(host_for(dev), attempts=1) as device:
        device.preflight()
    assert not dev.session_states()


# ------------------------------------------------------------- a candidate beside the pending commit
def _committed(dev: EosDouble) -> tuple[Device, str]:
    device = Device.open(host_for(dev), attempts=1)
    device.load_replace(with_line(dev.baseline, NEW_ROUTE))
    device.commit("", revert_in=3600)
    token = device.session_token()
    assert token
    return device, token


def test_a_locked_load_beside_the_pending_commit_leaves_that_commit_confirmable(dev: EosDouble) -> None:
    """An operator's open config session refuses our candidate (a device compare during the soak): our
    pending commit must still be ours to confirm, under its own session name (review finding)."""
    from netimmutable.errors import CandidateLocked
    from tests.unit.platforms.device_hosts import other_session

    device, token = _committed(dev)
    other = other_session(dev)
    other.load_replace_candidate(config=with_line(dev.baseline, "ip route 10.9.9.0/24 Null0"))
    try:
        with pytest.raises(CandidateLocked):
            device.load_replace(dev.baseline)
        assert device.session_token() == token
    finally:
        other.discard_config()
        other.close()
    device.confirm()
    device.close()
    assert not dev.has_pending()
    assert NEW_ROUTE in (dev.startup() or "").splitlines()


def test_closing_with_a_candidate_beside_the_pending_commit_aborts_the_candidate_only(dev: EosDouble) -> None:
    device, token = _committed(dev)
    device.load_replace(dev.baseline)  # a device compare's candidate, in a session of its own
    assert device.session_token() == token  # what a reconnect would carry over
    device.close()
    assert dev.has_pending()  # the pending commit is left for the next session or the timer
    assert [s for s, state in dev.session_states().items() if state == "pending"] == []  # none blocks loads
    with Device.open(host_for(dev), attempts=1) as again:
        again.adopt_session(token)
        again.confirm()
    assert not dev.has_pending()
