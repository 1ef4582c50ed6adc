"""NAPALM's real ``eos`` driver (pyeapi, HTTP) against the EOS double: what holds for netimmutable's window.

Every test drives ``napalm.get_network_driver("eos")`` unchanged, through its documented optional args
(``transport: http``, ``port``), and checks the device out of band (``EosDouble.running()``, ``startup()``,
``session_states()``, ``has_pending()``), never through the driver alone. What the driver does on EOS is read
from napalm/eos/eos.py (NAPALM 5.2): the commands named in each test are the ones it sends.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import napalm
import pyeapi.eapilib  # type: ignore[import-untyped]
import pytest
from napalm.base import NetworkDriver, models
from napalm.base.exceptions import (
    CommitError,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
    SessionLockedException,
)

from netimmutable.drivers.capabilities import capability
from netimmutable.soak import max_hold_time
from tests.contract import check_typeddict, wait_for, with_line
from tests.doubles.eos import EosDouble, start_eos

NEW_ROUTE = "ip route 10.254.254.0/24 Null0"
DRIFT_ROUTE = "ip route 10.254.252.0/24 Null0"
INVALID_LINE = "frobnicate all the widgets 42"
PEER = "10.0.12.2"
VERSIONS = ["4.31.2F", "4.32.1F"]  # the two forms of `show configuration sessions detail` NAPALM parses


@pytest.fixture
def dev() -> Iterator[EosDouble]:
    with start_eos("r1", peers={PEER: 65002}) as device:
        yield device


@pytest.fixture
def parked(dev: EosDouble) -> Iterator[list[NetworkDriver]]:
    """Drivers a test leaves open without closing them, as a hung process would: NAPALM's
    ``NetworkDriver.__del__`` closes a driver that is garbage-collected (``close()`` -> ``discard_config()``),
    so "the process went away" cannot be ``del drv`` in process. Released (and so closed) at teardown."""
    held: list[NetworkDriver] = []
    yield held
    held.clear()


@pytest.fixture(params=VERSIONS)
def any_dev(request: pytest.FixtureRequest) -> Iterator[EosDouble]:
    """The double as EOS before 4.32 and from 4.32 on (pending commit reported two ways)."""
    with start_eos("r1", peers={PEER: 65002}, eos_version=request.param) as device:
        yield device


def driver(dev: EosDouble, password: str | None = None) -> NetworkDriver:
    return napalm.get_network_driver(dev.platform)(
        dev.hostname,
        dev.username,
        dev.password if password is None else password,
        optional_args=dict(dev.optional_args),
    )


@contextmanager
def opened(dev: EosDouble) -> Iterator[NetworkDriver]:
    drv = driver(dev)
    drv.open()
    try:
        yield drv
    finally:
        drv.close()


_COMMIT_AND_HANG = """
import json, os, sys, time
import napalm
spec = json.loads(sys.argv[1])
drv = napalm.get_network_driver("eos")(spec["hostname"], spec["username"], os.environ["EOS_DOUBLE_PASSWORD"],
                                       optional_args=spec["optional_args"])
drv.open()
drv.load_replace_candidate(config=spec["config"])
drv.commit_config(revert_in=spec["revert_in"])
print(drv.config_session, flush=True)
time.sleep(600)
"""


def commit_in_a_process_then_kill_it(dev: EosDouble, config: str, revert_in: int) -> str:
    """Commit with a revert timer from another process, then SIGKILL it (no close, no ``__del__``): the
    name of the config session it left pending."""
    spec: dict[str, Any] = {"hostname": dev.hostname, "username": dev.username, "config": config}
    spec.update(optional_args=dict(dev.optional_args), revert_in=revert_in)
    env = {**os.environ, "EOS_DOUBLE_PASSWORD": dev.password}
    proc = subprocess.Popen(
        [sys.executable, "-c", _COMMIT_AND_HANG, json.dumps(spec)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        name = proc.stdout.readline().strip() if ready else ""
        assert name.startswith("napalm_"), "the committing process did not report its session"
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    return name


def body(config: str) -> list[str]:
    """Config lines without EOS's comment header (``! Command``, ``! device``, ``! Startup-config ...``)."""
    return [ln for ln in config.splitlines() if not ln.startswith("! ")]


def without_block(config: str, header: str) -> str:
    """``config`` without the block opened by ``header`` (its indented lines and closing ``!`` too)."""
    out: list[str] = []
    skipping = False
    for line in config.splitlines():
        if line == header:
            skipping = True
            continue
        if skipping and (line.startswith("   ") or line == "!"):
            skipping = line != "!"
            continue
        skipping = False
        out.append(line)
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------ 1. open and getters
def test_open_close_and_facts_follow_the_config(dev: EosDouble) -> None:
    drv = driver(dev)
    drv.open()
    facts = drv.get_facts()
    check_typeddict(facts, models.FactsDict, "get_facts")
    assert facts["hostname"] == "r1"
    assert facts["vendor"] == "Arista"
    assert facts["interface_list"] == ["Ethernet1", "Ethernet2", "Loopback0"]
    drv.close()
    assert dev.session_states() == {}  # open/close leave no config session behind
    dev.set_running(dev.baseline.replace("hostname r1", "hostname r1-renamed"))
    with opened(dev) as drv:
        assert drv.get_facts()["hostname"] == "r1-renamed"


def test_a_wrong_password_raises_pyeapis_own_connection_error_not_napalms(dev: EosDouble) -> None:
    """NAPALM wraps only the connection object's construction; the first command (``show version``) runs
    outside that ``try``, so HTTP 401 escapes as ``pyeapi.eapilib.ConnectionError``."""
    drv = driver(dev, password="not-the-password")
    with pytest.raises(pyeapi.eapilib.ConnectionError, match="Unauthorized") as raised:
        drv.open()
    assert not isinstance(raised.value, ConnectionException)


def test_an_unreachable_device_raises_pyeapis_connection_error_not_an_oserror() -> None:
    """pyeapi turns the socket's ``OSError`` into its own ``ConnectionError`` (an ``Exception`` only): code
    that retries on ``OSError`` or NAPALM's ``ConnectionException`` does not see an EOS that is down."""
    with start_eos("r1") as dev:
        spec = (dev.hostname, dev.username, dev.password, dict(dev.optional_args))
    drv = napalm.get_network_driver("eos")(*spec[:3], optional_args=spec[3])  # the double has stopped
    with pytest.raises(pyeapi.eapilib.ConnectionError, match="Connection refused") as raised:
        drv.open()
    assert not isinstance(raised.value, (OSError, ConnectionException))


def test_get_interfaces_reflects_the_config(dev: EosDouble) -> None:
    with opened(dev) as drv:
        interfaces = drv.get_interfaces()
    assert set(interfaces) == {"Ethernet1", "Ethernet2", "Loopback0"}
    for name, iface in interfaces.items():
        check_typeddict(iface, models.InterfaceDict, f"get_interfaces[{name}]")
    assert interfaces["Ethernet1"]["description"] == "to peer"
    assert interfaces["Ethernet1"]["is_up"] and interfaces["Ethernet1"]["is_enabled"]
    dev.set_running(dev.baseline.replace("   description to lan\n", "   description to lan\n   shutdown\n"))
    with opened(dev) as drv:
        eth2 = drv.get_interfaces()["Ethernet2"]
    assert (eth2["is_up"], eth2["is_enabled"]) == (False, False)


def test_get_bgp_neighbors_up_then_down_after_a_wrong_remote_as(dev: EosDouble) -> None:
    with opened(dev) as drv:
        bgp = drv.get_bgp_neighbors()
        check_typeddict(bgp["global"], models.BGPStateNeighborsPerVRFDict, "get_bgp_neighbors.global")
        peer = bgp["global"]["peers"][PEER]
        check_typeddict(peer, models.BGPStateNeighborDict, f"get_bgp_neighbors peer {PEER}")
        assert (peer["is_up"], peer["is_enabled"], peer["remote_as"], peer["local_as"]) == (
            True,
            True,
            65002,
            65001,
        )
        assert bgp["global"]["router_id"] == "10.255.0.1"
        drv.load_replace_candidate(config=dev.baseline.replace("remote-as 65002", "remote-as 65099"))
        drv.commit_config()
        down = drv.get_bgp_neighbors()["global"]["peers"][PEER]
    assert (down["is_up"], down["is_enabled"], down["remote_as"]) == (False, True, 65099)
    assert f"neighbor {PEER} remote-as 65099" in dev.running()


def test_get_bgp_neighbors_detail_reports_the_hold_time_netimmutable_soaks_for(dev: EosDouble) -> None:
    """``get_bgp_neighbors_detail`` parses the text of ``show ip bgp neighbors vrf all`` with TextFSM (after
    ``show running-config | include service routing protocols model multi-agent``); the soak reads its hold
    times. Note the VRF key: ``default`` here, where ``get_bgp_neighbors`` says ``global``."""
    timers = dev.baseline.replace("   router-id 10.255.0.1\n", "   router-id 10.255.0.1\n   timers bgp 3 9\n")
    dev.set_running(
        timers.replace(
            f"neighbor {PEER} remote-as 65002",
            f"neighbor {PEER} remote-as 65002\n   neighbor 10.0.13.9 remote-as 65003",
        )
    )
    with opened(dev) as drv:
        detail = drv.get_bgp_neighbors_detail()
        # get_bgp_config reads `show running-config | section router bgp`
        assert set(drv.get_bgp_config()["_"]["neighbors"]) == {PEER, "10.0.13.9"}
    assert set(detail) == {"default"}
    (up,) = detail["default"][65002]
    check_typeddict(up, models.PeerDetailsDict, "get_bgp_neighbors_detail 65002")
    assert (up["up"], up["connection_state"], up["holdtime"], up["keepalive"]) == (True, "Established", 9, 3)
    assert (up["remote_address"], up["local_address"], up["local_as"]) == (PEER, "10.0.12.1", 65001)
    (down,) = detail["default"][65003]
    assert (down["up"], down["connection_state"]) == (False, "Active")
    assert max_hold_time(detail) == 9


def test_no_router_bgp_means_no_bgp_neighbours(dev: EosDouble) -> None:
    dev.set_running(without_block(dev.baseline, "router bgp 65001"))
    with opened(dev) as drv:
        assert drv.get_bgp_neighbors() == {}


# ------------------------------------------------------------------------------------ 2. get_config
def test_get_config_running_is_the_devices_running_config(dev: EosDouble) -> None:
    with opened(dev) as drv:
        config = drv.get_config(retrieve="running")
        assert config["running"] == dev.running()
        assert config["startup"] == config["candidate"] == ""
        everything = drv.get_config()
    assert everything["startup"].endswith(dev.startup() or "missing")
    # volatile header lines a text compare has to ignore: the device line names the EOS version, and the
    # startup-config carries its save time
    assert config["running"].startswith("! Command: show running-config\n! device: r1 (vEOS-lab, EOS-")
    assert everything["startup"].startswith(
        "! Command: show startup-config\n! Startup-config last modified at "
    )
    assert body(everything["startup"]) == body(everything["running"])


def test_the_running_config_is_the_devices_rendering_not_the_text_it_was_given(dev: EosDouble) -> None:
    """EOS renders its own order and indentation: a replace with the same content in another order and flat
    is no change to the device's compare, and the running config comes back in EOS's form."""
    lines = [ln.strip() for ln in body(dev.baseline) if ln.strip() not in ("!", "end")]
    bgp_at = next(i for i, ln in enumerate(lines) if ln.startswith("router bgp"))
    reordered = "\n".join(lines[bgp_at:] + lines[:bgp_at]) + "\n"
    with opened(dev) as drv:
        drv.load_replace_candidate(config=reordered)
        assert drv.compare_config() == ""
        drv.commit_config()
    assert dev.running() == dev.baseline


# ------------------------------------------------------------------------------------ 3. candidate
def test_replace_compare_then_discard_leaves_running_untouched(dev: EosDouble) -> None:
    with opened(dev) as drv:
        drv.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE).replace("to lan", "to the lan"))
        assert list(dev.session_states().values()) == ["pending"]  # `configure session napalm_<n>`
        diff = drv.compare_config()  # `show session-config named <s> diffs`, its two file lines dropped
        assert f"+{NEW_ROUTE}" in diff.splitlines()
        assert "-   description to lan" in diff.splitlines()
        assert "+   description to the lan" in diff.splitlines()
        assert not diff.startswith("---")
        assert dev.running() == dev.baseline
        drv.discard_config()  # `configure session <s> abort`
        assert dev.session_states() == {}
        assert drv.compare_config() == ""
    assert dev.running() == dev.baseline


def test_the_candidate_session_survives_a_reconnect_but_only_its_driver_knows_its_name(
    dev: EosDouble, parked: list[NetworkDriver]
) -> None:
    first = driver(dev)
    first.open()
    first.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
    parked.append(first)  # never closed: nothing aborts the session
    assert list(dev.session_states().values()) == ["pending"]
    with opened(dev) as second:
        assert second.compare_config() == ""  # a new driver has no config_session to compare
    assert list(dev.session_states().values()) == ["pending"]
    assert dev.running() == dev.baseline


def test_a_session_left_pending_locks_every_later_load(dev: EosDouble, parked: list[NetworkDriver]) -> None:
    """NAPALM's ``_lock`` refuses to load while another config session is ``pending`` (after waiting 10 s):
    a run killed between load and discard blocks every later load until someone aborts that session."""
    first = driver(dev)
    first.open()
    first.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
    stale = next(iter(dev.session_states()))
    parked.append(first)
    with opened(dev) as second:
        with pytest.raises(SessionLockedException):
            second.load_replace_candidate(config=with_line(dev.baseline, DRIFT_ROUTE))
        second.cli([f"configure session {stale} abort"])  # what a person (or recover) has to send
        second.load_replace_candidate(config=with_line(dev.baseline, DRIFT_ROUTE))
        second.discard_config()
    assert dev.session_states() == {}


# ------------------------------------------------------------------------------------ 4. commit
def test_commit_is_a_full_replacement_and_is_saved(dev: EosDouble) -> None:
    new = with_line(without_block(dev.baseline, "interface Ethernet2"), NEW_ROUTE)
    with opened(dev) as drv:
        drv.load_replace_candidate(config=new)
        # copy startup-config flash:rollback-0; configure session <s> commit; write memory
        drv.commit_config()
        assert not drv.has_pending_commit()
    running = dev.running()
    assert NEW_ROUTE in running.splitlines()
    assert "interface Ethernet2" not in running
    assert "10.0.13.1/24" not in running
    startup = dev.startup()
    assert startup is not None and body(startup) == body(running)  # `write memory` after the commit
    assert list(dev.session_states().values()) == ["completed"]
    assert not dev.has_pending()


# ------------------------------------------------------------------------------------ 5. commit timer
def test_commit_with_revert_in_waits_for_confirm_then_sticks(any_dev: EosDouble) -> None:
    dev = any_dev
    new = with_line(dev.baseline, NEW_ROUTE)
    with opened(dev) as drv:
        drv.load_replace_candidate(config=new)
        drv.commit_config(revert_in=300)  # configure session <s> commit timer 00:05:00
        assert drv.has_pending_commit()
        assert dev.has_pending()
        assert NEW_ROUTE in dev.running().splitlines()
        startup = dev.startup()
        assert startup is not None and NEW_ROUTE not in startup  # nothing saved while pending
        drv.confirm_commit()  # configure session <s> commit; write memory
        assert not drv.has_pending_commit()
    assert not dev.has_pending()
    assert NEW_ROUTE in dev.running().splitlines()
    startup = dev.startup()
    assert startup is not None and NEW_ROUTE in startup.splitlines()
    dev.fire_timer()  # nothing left to fire
    assert NEW_ROUTE in dev.running().splitlines()


def test_a_killed_committing_process_leaves_the_commit_pending_until_the_timer_fires(
    any_dev: EosDouble,
) -> None:
    dev = any_dev
    name = commit_in_a_process_then_kill_it(dev, with_line(dev.baseline, NEW_ROUTE), revert_in=3600)
    assert dev.session_states() == {name: "pendingCommitTimer"}
    assert NEW_ROUTE in dev.running().splitlines()
    with opened(dev) as other:
        assert other.has_pending_commit()
    dev.fire_timer()
    assert dev.running() == dev.baseline
    assert not dev.has_pending()
    with opened(dev) as again:
        assert not again.has_pending_commit()


def test_a_real_short_timer_reverts_by_itself(dev: EosDouble, parked: list[NetworkDriver]) -> None:
    drv = driver(dev)
    drv.open()
    drv.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
    drv.commit_config(revert_in=1)  # commit timer 00:00:01
    parked.append(drv)
    wait_for(lambda: not dev.has_pending(), 30, "the EOS double's commit timer to fire")
    assert dev.running() == dev.baseline


def test_dropping_the_committing_driver_reverts_at_once(dev: EosDouble) -> None:
    """The same through NAPALM's ``__del__``: the last reference to the committing driver goes (a session
    object dropped and collected, an interpreter exiting normally) and the pending commit is aborted."""
    drv = driver(dev)
    drv.open()
    drv.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
    drv.commit_config(revert_in=3600)
    assert dev.has_pending()
    del drv  # CPython collects it here: __del__ -> close() -> configure session <s> abort
    assert not dev.has_pending()
    assert dev.running() == dev.baseline


def test_closing_the_committing_driver_before_confirm_reverts_at_once(any_dev: EosDouble) -> None:
    """``close()`` calls ``discard_config()``, which sends ``configure session <s> abort`` for the session it
    still holds after ``commit_config(revert_in=...)``: on EOS, aborting a session whose commit timer is
    running rolls the commit back. A driver closed between commit and confirm has cancelled the change."""
    dev = any_dev
    drv = driver(dev)
    drv.open()
    drv.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
    drv.commit_config(revert_in=3600)
    assert dev.has_pending()
    drv.close()
    assert not dev.has_pending()
    assert dev.running() == dev.baseline


def test_a_new_driver_sees_the_pending_commit_but_cannot_confirm_or_roll_it_back(any_dev: EosDouble) -> None:
    """NAPALM keys confirm and rollback on its own ``config_session`` name; a driver opened after the
    committing one went away has none (as ``netimmutable recover`` would be)."""
    dev = any_dev
    committing = driver(dev)
    committing.open()
    committing.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
    committing.commit_config(revert_in=3600)
    with opened(dev) as other:
        assert other.has_pending_commit()  # device-wide: `show configuration sessions detail`
        with pytest.raises(CommitError, match="No pending commit-confirm found"):
            other.confirm_commit()
        with pytest.raises(CommitError, match="Current config session not found"):
            other.rollback()
        other.load_replace_candidate(config=with_line(dev.baseline, DRIFT_ROUTE))
        with pytest.raises(CommitError, match="Pending commit confirm already in process"):
            other.commit_config(revert_in=60)
        other.discard_config()
    assert dev.has_pending()
    assert NEW_ROUTE in dev.running().splitlines()
    committing.confirm_commit()  # the committing driver still can
    committing.close()
    assert not dev.has_pending()
    assert NEW_ROUTE in dev.running().splitlines()


def test_a_new_driver_given_the_session_name_can_confirm(dev: EosDouble) -> None:
    """The session is the device's, not the connection's: a driver that knows its name (NAPALM keeps it in
    ``config_session``, the only handle it has) confirms it. What ``recover`` would have to journal."""
    name = commit_in_a_process_then_kill_it(dev, with_line(dev.baseline, NEW_ROUTE), revert_in=3600)
    with opened(dev) as other:
        other.config_session = name
        other.confirm_commit()
    assert not dev.has_pending()
    assert NEW_ROUTE in dev.running().splitlines()
    assert NEW_ROUTE in (dev.startup() or "").splitlines()


# ------------------------------------------------------------------------------------ 6. rollback
def test_rollback_after_a_commit_restores_the_startup_config_saved_before_it(dev: EosDouble) -> None:
    with opened(dev) as drv:
        drv.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
        drv.commit_config()
        drv.rollback()  # configure replace flash:rollback-0; write memory
    assert dev.running() == dev.baseline
    assert body(dev.startup() or "") == body(dev.baseline)


def test_rollback_loses_unsaved_running_changes(dev: EosDouble) -> None:
    """``flash:rollback-0`` is a copy of the startup-config, not of the running config: a change a person
    made without ``write memory`` before the commit is gone after ``rollback()``."""
    drifted = with_line(dev.baseline, DRIFT_ROUTE)
    dev.set_running(drifted)
    with opened(dev) as drv:
        drv.load_replace_candidate(config=with_line(drifted, NEW_ROUTE))
        drv.commit_config()
        drv.rollback()
    assert dev.running() == dev.baseline
    assert DRIFT_ROUTE not in dev.running()


def test_rollback_with_its_own_pending_timer_aborts_the_session(any_dev: EosDouble) -> None:
    dev = any_dev
    with opened(dev) as drv:
        drv.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
        drv.commit_config(revert_in=3600)
        drv.rollback()  # configure session <s> abort; write memory
        assert not drv.has_pending_commit()
    assert not dev.has_pending()
    assert dev.running() == dev.baseline
    assert dev.session_states() == {}


def test_rollback_before_any_commit_fails_with_pyeapis_command_error(dev: EosDouble) -> None:
    """No commit yet means no ``flash:rollback-0``; NAPALM does not wrap the eAPI error."""
    with opened(dev) as drv, pytest.raises(pyeapi.eapilib.CommandError, match="rollback-0"):
        drv.rollback()
    assert dev.running() == dev.baseline


# ------------------------------------------------------------------------------------ 7. invalid config
@pytest.mark.parametrize(
    ("load", "error"),
    [("load_replace_candidate", ReplaceConfigException), ("load_merge_candidate", MergeConfigException)],
)
def test_an_invalid_line_is_refused_and_leaves_nothing_behind(dev: EosDouble, load: str, error: Any) -> None:
    config = with_line(dev.baseline, INVALID_LINE) if load == "load_replace_candidate" else INVALID_LINE
    with opened(dev) as drv:
        with pytest.raises(error, match=r"Invalid input \(at token 0: 'frobnicate'\)"):
            getattr(drv, load)(config=config)
        assert drv.compare_config() == ""
        assert not drv.has_pending_commit()
    assert dev.running() == dev.baseline
    assert dev.session_states() == {}  # the driver aborted its session
    assert not dev.has_pending()


def test_a_bad_value_is_refused_too(dev: EosDouble) -> None:
    with opened(dev) as drv, pytest.raises(ReplaceConfigException, match="invalid command"):
        drv.load_replace_candidate(config=dev.baseline.replace("10.0.12.1/30", "10.0.12.300/30"))
    assert dev.running() == dev.baseline


# ------------------------------------------------------------------------------------ 8. commit message
def test_a_commit_message_is_not_implemented_and_changes_nothing(dev: EosDouble) -> None:
    with opened(dev) as drv:
        drv.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
        with pytest.raises(NotImplementedError, match="Commit message not implemented"):
            drv.commit_config(message="netimmutable deploy 1a2b3c")
        assert dev.running() == dev.baseline
        assert list(dev.session_states().values()) == ["pending"]  # still loaded: the caller must discard
        with pytest.raises(NotImplementedError):
            drv.commit_config(message="x", revert_in=60)
        assert not dev.has_pending()
        drv.commit_config(message="")  # an empty message is a plain commit
    assert NEW_ROUTE in dev.running().splitlines()
    assert capability("eos").commit_message is False  # netimmutable's table says so: it must not send one


# ------------------------------------------------------------------------------------ the double itself
def test_the_baseline_is_the_devices_own_rendering_with_nothing_secret_in_clear(dev: EosDouble) -> None:
    assert dev.running() == dev.baseline
    assert dev.baseline.endswith("!\nend\n")
    user = next(ln for ln in dev.baseline.splitlines() if ln.startswith("username "))
    assert " secret sha512 $6$" in user
    assert dev.password not in dev.baseline
    with opened(dev) as drv:
        sanitized = drv.get_config(retrieve="running", sanitized=True)["running"]
    assert "secret sha512 <removed>" in sanitized


def test_failed_command_stops_the_request_and_keeps_what_ran_before(dev: EosDouble) -> None:
    """eAPI runs a request's commands in order with no transaction: ``data`` has each earlier output."""
    reply = dev.run_cmds(
        {
            "jsonrpc": "2.0",
            "method": "runCmds",
            "id": "1",
            "params": {
                "version": 1,
                "format": "json",
                "cmds": ["enable", "show hostname", INVALID_LINE, "show version"],
            },
        }
    )
    error = reply["error"]
    assert error["code"] == 1002
    assert error["message"] == f"CLI command 3 of 4 '{INVALID_LINE}' failed: invalid command"
    assert error["data"] == [
        {},
        {"hostname": "r1", "fqdn": "r1"},
        {"errors": ["Invalid input (at token 0: 'frobnicate')"]},
    ]


def test_a_merge_applies_no_forms_in_their_block(dev: EosDouble) -> None:
    with opened(dev) as drv:
        merge = f"router bgp 65001\n   no neighbor {PEER}\ninterface Loopback1\n   ip address 10.255.0.9/32\n"
        drv.load_merge_candidate(config=merge)
        diff = drv.compare_config()
        assert f"-   neighbor {PEER} remote-as 65002" in diff.splitlines()
        assert "+interface Loopback1" in diff.splitlines()
        drv.commit_config()
        assert drv.get_bgp_neighbors()["global"]["peers"] == {}
        assert "Loopback1" in drv.get_interfaces()
    assert "interface Ethernet1" in dev.running()  # a merge keeps everything it does not name


def test_revert_in_of_a_day_or_more_wraps_around_in_napalm(dev: EosDouble) -> None:
    """NAPALM formats ``revert_in`` with ``time.strftime("%H:%M:%S", time.gmtime(revert_in))``: 86,460 s
    becomes ``00:01:00`` on the wire (the capability table's 86,399 s maximum is what keeps this away)."""
    with opened(dev) as drv:
        drv.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
        drv.commit_config(revert_in=86_400 + 60)
        sent = [cmd for request in dev.requests for cmd in request if " commit timer " in cmd]
        assert sent == [f"configure session {drv.config_session} commit timer 00:01:00"]
        drv.rollback()
    assert dev.running() == dev.baseline
    eos = capability("eos")
    assert (eos.revert_unit, eos.revert_min, eos.revert_max) == (1, 1, 86_399)  # seconds, under a day


def test_stop_is_idempotent_and_cancels_the_timer() -> None:
    with start_eos("r9", peers={}) as dev:
        with opened(dev) as drv:
            peer = drv.get_bgp_neighbors()["global"]["peers"][PEER]
            assert not peer["is_up"]  # the peers table does not have it: down
            drv.load_replace_candidate(config=with_line(dev.baseline, NEW_ROUTE))
            drv.commit_config(revert_in=3600)
            drv.confirm_commit()
        dev.stop()
        dev.stop()
    with pytest.raises(pyeapi.eapilib.ConnectionError):
        driver(dev).open()


def test_routing_left_out_of_a_replace_is_shown_off(dev: EosDouble) -> None:
    """``rollback clean-config`` starts the session from the factory default, where routing is off: a
    replacement that leaves out ``ip routing`` turns it off, and EOS shows ``no ip routing``."""
    with opened(dev) as drv:
        drv.load_replace_candidate(config=dev.baseline.replace("ip routing\n", ""))
        diff = drv.compare_config().splitlines()
        assert "-ip routing" in diff
        assert "+no ip routing" in diff
        drv.discard_config()
    assert "\nip routing\n" in dev.running()


def test_configure_terminal_changes_running_at_once_and_leaves_startup(dev: EosDouble) -> None:
    """A person's edit over eAPI without a session (drift): live at once, not saved."""
    reply = dev.run_cmds(
        {
            "jsonrpc": "2.0",
            "method": "runCmds",
            "id": "2",
            "params": {"version": 1, "format": "text", "cmds": ["enable", "configure", DRIFT_ROUTE, "end"]},
        }
    )
    assert reply["result"] == [{"output": ""}] * 4
    assert DRIFT_ROUTE in dev.running().splitlines()
    assert DRIFT_ROUTE not in (dev.startup() or "")
    assert dev.session_states() == {}
