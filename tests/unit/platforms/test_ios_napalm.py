"""NAPALM's real ``ios`` driver (napalm 5.2.0, netmiko 4.8.0, SCP) against the IOS device double.

Every test drives ``napalm.get_network_driver("ios")`` unpatched over SSH to ``tests.doubles.ios`` and then
checks the device out of band (through the double). What they pin down about the driver
(napalm/ios/ios.py):

* ``load_replace_candidate`` only copies the file to ``flash:`` by SCP (it needs ``ip scp server enable``);
  IOS validates nothing until ``commit_config``, which runs ``configure replace flash:/candidate_config.txt
  force revert trigger error [timer <minutes>]`` and raises ``ReplaceConfigException`` when the device
  reports a failed replace.
* ``revert_in`` is in seconds, must be 60..7200 and is rounded down to whole minutes; it needs ``archive``
  (``CommitConfirmException`` otherwise). Without ``archive`` even a plain commit fails, because the driver
  adds ``revert trigger error`` unless ``auto_rollback_on_error=False``.
* the pending commit lives on the device: a new driver object (same username) sees it, confirms it or
  reverts it (``configure revert now``).
* ``rollback()`` replaces the running config with ``flash:rollback_config.txt``, the copy of the running
  config ``commit_config`` took just before its replace.
* ``commit_config(message=...)`` raises ``NotImplementedError`` before touching the device.
* the driver configures ``file prompt quiet`` before its file operations and removes it on ``close()``; a
  revert that fires after the session left brings back the config archived while it was configured.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import napalm
import pytest
from napalm.base import models
from napalm.base.exceptions import CommandErrorException, CommitConfirmException, ReplaceConfigException

from tests.contract import check_typeddict, wait_for
from tests.doubles import ios_config as cfg
from tests.doubles.base import DeviceDouble
from tests.doubles.ios import IosDouble, default_baseline, start_ios

NEW_ROUTE = "ip route 10.254.254.0 255.255.255.0 Null0"
PEER = "10.0.12.2"
FPQ = "file prompt quiet"


@pytest.fixture
def ios() -> Iterator[IosDouble]:
    with start_ios(peers={PEER: 65002}) as double:
        yield double


def driver(d: IosDouble, **extra: Any) -> Any:
    drv = napalm.get_network_driver("ios")(
        d.hostname, d.username, d.password, optional_args={**d.optional_args, **extra}
    )
    drv.open()
    return drv


def body(text: str) -> list[str]:
    """The config lines, without the volatile header lines (``Building configuration...`` etc.)."""
    return cfg.body_of(text)


def with_line(config: str, line: str, after: str = "ip forward-protocol nd") -> str:
    return config.replace(f"{after}\n", f"{after}\n{line}\n", 1)


def candidate_of(d: IosDouble) -> str:
    """A full config in the form the driver gets it (``get_config`` drops the header lines)."""
    return "\n".join(body(d.baseline)) + "\n"


def replaced(drv: Any, config: str, **commit: Any) -> None:
    drv.load_replace_candidate(config=config)
    drv.commit_config(**commit)


def test_the_double_offers_the_device_double_interface(ios: IosDouble) -> None:
    double: DeviceDouble = ios
    assert double.platform == "ios" and double.name == "r1" and double.hostname == "127.0.0.1"
    assert json.loads(json.dumps(dict(double.optional_args))) == {"port": ios.optional_args["port"]}
    assert body(double.running()) == body(double.baseline)
    assert double.baseline.startswith("Building configuration...\n\nCurrent configuration : ")
    assert " neighbor 10.0.12.2 remote-as 65002" in body(double.baseline)
    assert not double.has_pending()


# ---------------------------------------------------------------------------------------- getters
def test_open_close_and_getters_match_napalm_models(ios: IosDouble) -> None:
    drv = driver(ios)
    try:
        assert drv.is_alive() == {"is_alive": True}
        facts = drv.get_facts()
        check_typeddict(facts, models.FactsDict, "get_facts")
        assert facts["hostname"] == "r1" and facts["fqdn"] == "r1.lab.example"
        assert facts["vendor"] == "Cisco" and facts["model"] == "IOSv"
        assert facts["interface_list"] == ["GigabitEthernet1", "GigabitEthernet2"]
        interfaces = drv.get_interfaces()
        assert set(interfaces) == {"GigabitEthernet1", "GigabitEthernet2"}
        for name, iface in interfaces.items():
            check_typeddict(iface, models.InterfaceDict, f"get_interfaces[{name}]")
            assert iface["is_up"] and iface["is_enabled"]
        assert interfaces["GigabitEthernet1"]["description"] == f"to {PEER}"
        ips = drv.get_interfaces_ip()
        for name, entry in ips.items():
            check_typeddict(entry, models.InterfacesIPDict, f"get_interfaces_ip[{name}]")
        assert ips["GigabitEthernet1"]["ipv4"] == {"10.0.12.1": {"prefix_length": 24}}
        bgp = drv.get_bgp_neighbors()
        check_typeddict(bgp["global"], models.BGPStateNeighborsPerVRFDict, "get_bgp_neighbors[global]")
        assert bgp["global"]["router_id"] == "10.0.13.1"
        peer = bgp["global"]["peers"][PEER]
        assert peer["is_up"] is True and peer["uptime"] >= 0
        assert (peer["local_as"], peer["remote_as"]) == (65001, 65002)
    finally:
        drv.close()
    assert drv.is_alive() == {"is_alive": False}


def test_neighbour_is_down_after_its_remote_as_changed(ios: IosDouble) -> None:
    drv = driver(ios)
    try:
        replaced(drv, candidate_of(ios).replace(f"{PEER} remote-as 65002", f"{PEER} remote-as 65003"))
        peer = drv.get_bgp_neighbors()["global"]["peers"][PEER]
        assert peer["remote_as"] == 65003
        assert peer["is_up"] is False and peer["uptime"] == -1
        replaced(drv, candidate_of(ios))
        assert drv.get_bgp_neighbors()["global"]["peers"][PEER]["is_up"] is True
    finally:
        drv.close()


def test_shut_interface_reads_admin_down(ios: IosDouble) -> None:
    ios.set_running(with_line(ios.baseline, " shutdown", after=" ip address 10.0.13.1 255.255.255.0"))
    drv = driver(ios)
    try:
        iface = drv.get_interfaces()["GigabitEthernet2"]
        assert (iface["is_enabled"], iface["is_up"]) == (False, False)
    finally:
        drv.close()


def test_get_config_running_is_the_running_config_without_its_header(ios: IosDouble) -> None:
    drv = driver(ios)
    try:
        running = drv.get_config(retrieve="running")
        assert running["startup"] == "" and running["candidate"] == ""
        text = running["running"]
        assert "Building configuration" not in text and "Current configuration" not in text
        assert "! Last configuration change" not in text
        assert body(text) == body(ios.running())
        ios.set_running(with_line(ios.baseline, NEW_ROUTE))  # drift shows at once
        assert NEW_ROUTE in drv.get_config(retrieve="running")["running"].splitlines()
        startup = drv.get_config(retrieve="startup")["startup"].splitlines()
        assert NEW_ROUTE not in startup
        assert startup[0].startswith("Using ")  # 'Using N out of M bytes': napalm's filter keeps it
    finally:
        drv.close()


# ---------------------------------------------------------------------------------------- candidate
def test_load_replace_copies_to_flash_compare_shows_it_discard_leaves_running(ios: IosDouble) -> None:
    before = body(ios.running())
    new = with_line(candidate_of(ios), NEW_ROUTE).replace("ip domain name lab.example\n", "")
    drv = driver(ios)
    try:
        drv.load_replace_candidate(config=new)
        assert ios.flash["candidate_config.txt"] == new.encode()
        diff = drv.compare_config()
        assert f"+{NEW_ROUTE}" in diff.splitlines()
        assert "-ip domain name lab.example" in diff.splitlines()
        assert body(ios.running()) == before
        drv.discard_config()
        # IOS has no candidate: discard overwrites the candidate file with the running config
        assert body(ios.flash["candidate_config.txt"].decode()) == body(ios.running())
        assert drv.compare_config() == ""
    finally:
        drv.close()
    assert body(ios.running()) == before
    assert not ios.has_pending()


def test_compare_shows_a_change_inside_a_block_with_its_parent(ios: IosDouble) -> None:
    drv = driver(ios)
    try:
        drv.load_replace_candidate(
            config=candidate_of(ios).replace(" description to 10.0.12.2", " description r2")
        )
        diff = drv.compare_config().splitlines()
        assert diff == ["interface GigabitEthernet1", " -description to 10.0.12.2", " +description r2"]
    finally:
        drv.close()


def test_load_replace_needs_scp_enabled_on_the_device() -> None:
    baseline = default_baseline().replace("ip scp server enable\n", "")
    with start_ios(baseline=baseline) as d:
        drv = driver(d)
        try:
            with pytest.raises(CommandErrorException, match="ip scp server enable"):
                drv.load_replace_candidate(config=with_line(candidate_of(d), NEW_ROUTE))
        finally:
            drv.close()
        assert "candidate_config.txt" not in d.flash


# ---------------------------------------------------------------------------------------- commit
def test_commit_is_a_full_replacement_saved_to_startup(ios: IosDouble) -> None:
    new = with_line(candidate_of(ios), NEW_ROUTE).replace("ip forward-protocol nd\n", "")
    drv = driver(ios)
    try:
        replaced(drv, new)
        assert drv.compare_config() == ""
        assert not drv.has_pending_commit()
    finally:
        drv.close()
    running = body(ios.running())
    assert NEW_ROUTE in running and "ip forward-protocol nd" not in running
    assert running == body(new)  # close() removed the driver's 'file prompt quiet'
    assert ios.startup == body(new)  # written by 'write mem'
    assert "enable: configure replace flash:/candidate_config.txt force revert trigger error" in ios.log


# ---------------------------------------------------------------------------------------- revert timer
def test_revert_in_pending_then_confirm_makes_it_stick(ios: IosDouble) -> None:
    startup_before = list(ios.startup)
    drv = driver(ios)
    try:
        assert not drv.has_pending_commit()
        replaced(drv, with_line(candidate_of(ios), NEW_ROUTE), revert_in=120)
        assert (
            "enable: configure replace flash:/candidate_config.txt force revert trigger error timer 2"
            in ios.log
        )
        assert drv.has_pending_commit() and ios.has_pending()
        assert ios.startup == startup_before  # no 'write mem' while the commit is unconfirmed
        drv.confirm_commit()
        assert not drv.has_pending_commit()
        assert NEW_ROUTE in ios.startup
    finally:
        drv.close()
    ios.fire_timer()  # nothing pending any more: no effect
    assert NEW_ROUTE in body(ios.running())


def test_revert_timer_fires_after_the_session_closed(ios: IosDouble) -> None:
    before = body(ios.running())
    drv = driver(ios)
    try:
        replaced(drv, with_line(candidate_of(ios), NEW_ROUTE), revert_in=60)
    finally:
        drv.close()
    assert ios.has_pending() and NEW_ROUTE in body(ios.running())
    ios.fire_timer()
    assert not ios.has_pending()
    # the archive was taken while the driver had 'file prompt quiet' configured: it comes back with it
    assert body(ios.running()) == [*before[:-1], FPQ, "end"]
    drv = driver(ios)
    try:
        assert not drv.has_pending_commit()
        assert FPQ in drv.get_config(retrieve="running")["running"].splitlines()  # drift, for a text compare
    finally:
        drv.close()


def test_a_real_short_revert_timer_fires() -> None:
    with start_ios(seconds_per_minute=0.5) as d:
        before = body(d.running())
        drv = driver(d)
        try:
            replaced(drv, with_line(candidate_of(d), NEW_ROUTE), revert_in=60)
        finally:
            drv.close()
        wait_for(lambda: not d.has_pending(), 30, "the revert timer to fire")
        assert NEW_ROUTE not in body(d.running())
        assert [ln for ln in body(d.running()) if ln != FPQ] == before


def test_a_new_driver_sees_confirms_or_reverts_the_pending_commit(ios: IosDouble) -> None:
    before = body(ios.running())
    first = driver(ios)
    try:
        replaced(first, with_line(candidate_of(ios), NEW_ROUTE), revert_in=300)
    finally:
        first.close()
    second = driver(ios)
    try:
        assert second.has_pending_commit()  # the timer is the device's, owned by the same username
        second.rollback()  # 'configure revert now'
        assert not second.has_pending_commit()
    finally:
        second.close()
    assert body(ios.running()) == before
    third = driver(ios)
    try:
        replaced(third, with_line(candidate_of(ios), NEW_ROUTE), revert_in=300)
    finally:
        third.close()
    fourth = driver(ios)
    try:
        fourth.confirm_commit()
        assert not fourth.has_pending_commit()
    finally:
        fourth.close()
    assert NEW_ROUTE in body(ios.running()) and NEW_ROUTE in ios.startup


@pytest.mark.parametrize(("revert_in", "minutes"), [(60, 1), (119, 1), (150, 2), (7200, 120)])
def test_revert_in_is_rounded_down_to_minutes(ios: IosDouble, revert_in: int, minutes: int) -> None:
    drv = driver(ios)
    try:
        replaced(drv, with_line(candidate_of(ios), NEW_ROUTE), revert_in=revert_in)
        assert ios.pending is not None and ios.pending.minutes == minutes
        drv.confirm_commit()
    finally:
        drv.close()


@pytest.mark.parametrize("revert_in", [0, 59, 7201])
def test_revert_in_outside_one_to_120_minutes_is_refused(ios: IosDouble, revert_in: int) -> None:
    before = body(ios.running())
    drv = driver(ios)
    try:
        drv.load_replace_candidate(config=with_line(candidate_of(ios), NEW_ROUTE))
        with pytest.raises(CommitConfirmException, match="multiple of 60"):
            drv.commit_config(revert_in=revert_in)
    finally:
        drv.close()
    assert body(ios.running()) == before and not ios.has_pending()


def test_a_second_commit_while_one_is_pending_is_refused(ios: IosDouble) -> None:
    drv = driver(ios)
    try:
        replaced(drv, with_line(candidate_of(ios), NEW_ROUTE), revert_in=60)
        drv.load_replace_candidate(config=candidate_of(ios))
        with pytest.raises(CommandErrorException, match="already in progress"):
            drv.commit_config()
        assert NEW_ROUTE in body(ios.running()) and ios.has_pending()
    finally:
        drv.close()


def test_without_archive_revert_in_and_even_a_plain_commit_are_refused() -> None:
    with start_ios(archive=False) as d:
        before = body(d.running())
        drv = driver(d)
        try:
            drv.load_replace_candidate(config=with_line(candidate_of(d), NEW_ROUTE))
            with pytest.raises(CommitConfirmException, match="requires 'archive'"):
                drv.commit_config(revert_in=60)
            assert not drv.has_pending_commit()
            with pytest.raises(ReplaceConfigException, match="'archive' feature"):
                drv.commit_config()  # the driver adds 'revert trigger error', which needs archive
        finally:
            drv.close()
        assert body(d.running()) == before and not d.has_pending()
        drv = driver(d, auto_rollback_on_error=False)
        try:
            drv.load_replace_candidate(config=with_line(candidate_of(d), NEW_ROUTE))
            drv.commit_config()
        finally:
            drv.close()
        assert NEW_ROUTE in body(d.running())


# ---------------------------------------------------------------------------------------- rollback
def test_rollback_restores_the_config_from_before_the_last_commit(ios: IosDouble) -> None:
    before = body(ios.running())
    drv = driver(ios)
    try:
        with pytest.raises(ReplaceConfigException, match="Rollback config file does not exist"):
            drv.rollback()  # no commit yet: no flash:rollback_config.txt
        replaced(drv, with_line(candidate_of(ios), NEW_ROUTE))
        second = with_line(
            with_line(candidate_of(ios), NEW_ROUTE), "ip route 10.254.253.0 255.255.255.0 Null0"
        )
        replaced(drv, second)
        drv.rollback()
        running = body(ios.running())
        assert NEW_ROUTE in running and "ip route 10.254.253.0 255.255.255.0 Null0" not in running
        drv.rollback()  # the same file again: not a walk back through history
        assert NEW_ROUTE in body(ios.running())
    finally:
        drv.close()
    assert [ln for ln in body(ios.running()) if ln != NEW_ROUTE] == before


def test_rollback_of_a_pending_commit_reverts_it_now(ios: IosDouble) -> None:
    before = body(ios.running())
    drv = driver(ios)
    try:
        replaced(drv, with_line(candidate_of(ios), NEW_ROUTE), revert_in=600)
        drv.rollback()
        assert not drv.has_pending_commit()
    finally:
        drv.close()
    assert body(ios.running()) == before
    assert "enable: configure revert now" in ios.log


# ---------------------------------------------------------------------------------------- invalid
@pytest.mark.parametrize("revert_in", [None, 60])
def test_invalid_line_fails_the_commit_device_untouched(ios: IosDouble, revert_in: int | None) -> None:
    before = body(ios.running())
    drv = driver(ios)
    try:
        drv.load_replace_candidate(config=with_line(candidate_of(ios), "frobnicate all the widgets 42"))
        assert "+frobnicate all the widgets 42" in drv.compare_config()  # SCP does not validate
        with pytest.raises(ReplaceConfigException, match="frobnicate"):
            drv.commit_config(revert_in=revert_in)
        assert not drv.has_pending_commit()
    finally:
        drv.close()
    assert body(ios.running()) == before and not ios.has_pending()


def test_a_file_without_end_is_not_a_valid_config_file(ios: IosDouble) -> None:
    before = body(ios.running())
    drv = driver(ios)
    try:
        drv.load_replace_candidate(config=candidate_of(ios).replace("\nend\n", "\n"))
        with pytest.raises(ReplaceConfigException, match="not a valid config file"):
            drv.commit_config()
    finally:
        drv.close()
    assert body(ios.running()) == before


# ---------------------------------------------------------------------------------------- message
def test_commit_message_is_not_implemented_and_touches_nothing(ios: IosDouble) -> None:
    before = body(ios.running())
    drv = driver(ios)
    try:
        drv.load_replace_candidate(config=with_line(candidate_of(ios), NEW_ROUTE))
        commands = len(ios.log)
        with pytest.raises(NotImplementedError):
            drv.commit_config(message="x")
        assert len(ios.log) == commands
    finally:
        drv.close()
    assert body(ios.running()) == before


def test_stop_cancels_a_pending_timer() -> None:
    with start_ios() as d:
        drv = driver(d)
        try:
            replaced(drv, with_line(candidate_of(d), NEW_ROUTE), revert_in=60)
        finally:
            drv.close()
    assert d.pending is not None
    d.pending.timer.join(timeout=10)
    assert not d.pending.timer.is_alive()  # cancelled: it ended without reverting
    assert NEW_ROUTE in body(d.running())
