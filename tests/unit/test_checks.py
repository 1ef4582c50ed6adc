"""Pure comparisons of the pre/post-checks, on plain data (no devices)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from netimmutable.checks import (
    SOAK_ROUNDS,
    TIMER_POLL,
    BgpPeerState,
    ChangeScope,
    CheckTarget,
    InterfaceState,
    StateSnapshot,
    change_scope,
    compliance_failures,
    expectations_problem,
    post_check,
    regressions,
    state_from_napalm,
)
from netimmutable.errors import Unsupported


def peer(address: str, up: bool = True, received: int = 5, asn: int = 65002) -> BgpPeerState:
    return BgpPeerState("global", address, asn, up, True, received)


def snap(*peers: BgpPeerState, interfaces: tuple[InterfaceState, ...] = ()) -> StateSnapshot:
    return StateSnapshot("r1", None, interfaces, peers)


def test_established_session_going_down_is_a_regression() -> None:
    found = regressions(snap(peer("10.0.0.2")), snap(peer("10.0.0.2", up=False, received=0)), ChangeScope())
    assert found == ("BGP neighbour 10.0.0.2 (AS 65002) was Established before the change and is down now",)


def test_session_removed_or_changed_by_the_release_is_excused() -> None:
    scope = change_scope(
        "router bgp 1\n neighbor 10.0.0.2 remote-as 2\n neighbor 10.0.0.6 remote-as 3\n",
        "router bgp 1\n neighbor 10.0.0.6 remote-as 3\n",
    )
    assert scope.neighbors == frozenset({"10.0.0.2"})
    assert regressions(snap(peer("10.0.0.2"), peer("10.0.0.6")), snap(peer("10.0.0.6")), scope) == ()


def test_session_gone_without_release_change_is_a_regression() -> None:
    found = regressions(snap(peer("10.0.0.2")), snap(), ChangeScope())
    assert found and "is gone now" in found[0]


@pytest.mark.parametrize(
    ("before", "after", "collapsed"), [(10, 0, True), (10, 4, True), (10, 5, False), (0, 0, False)]
)
def test_received_prefix_collapse(before: int, after: int, collapsed: bool) -> None:
    found = regressions(
        snap(peer("10.0.0.2", received=before)), snap(peer("10.0.0.2", received=after)), ChangeScope()
    )
    assert bool(found) is collapsed


def test_interface_up_going_down_unless_changed() -> None:
    up, down = InterfaceState("eth1", True, True), InterfaceState("eth1", False, False)
    assert regressions(snap(interfaces=(up,)), snap(interfaces=(down,)), ChangeScope()) == (
        "interface eth1 was up before the change and is down now",
    )
    scope = change_scope("interface eth1\n ip address 10.0.0.1/30\n", "interface eth1\n shutdown\n")
    assert regressions(snap(interfaces=(up,)), snap(interfaces=(down,)), scope) == ()


def test_local_as_change_excuses_every_session() -> None:
    scope = change_scope(
        "router bgp 1\n neighbor 10.0.0.2 remote-as 2\n", "router bgp 9\n neighbor 10.0.0.2 remote-as 2\n"
    )
    assert scope.all_neighbors
    assert regressions(snap(peer("10.0.0.2")), snap(peer("10.0.0.2", up=False)), scope) == ()


def test_state_from_napalm_and_digest_are_stable() -> None:
    bgp = {
        "global": {
            "router_id": "1.1.1.1",
            "peers": {
                "10.0.0.2": {
                    "remote_as": 65002,
                    "is_up": True,
                    "is_enabled": True,
                    "uptime": 10,
                    "address_family": {"ipv4": {"received_prefixes": 2}, "ipv6": {"received_prefixes": -1}},
                }
            },
        }
    }
    facts = {
        "hostname": "r1",
        "vendor": "v",
        "model": "m",
        "os_version": "1",
        "serial_number": "s",
        "uptime": 5.0,
    }
    a = state_from_napalm("r1", facts, {"eth1": {"is_up": True, "is_enabled": True}}, bgp)
    facts["uptime"] = 99.0
    bgp["global"]["peers"]["10.0.0.2"]["uptime"] = 99
    b = state_from_napalm("r1", facts, {"eth1": {"is_up": True, "is_enabled": True}}, bgp)
    assert a.digest == b.digest  # uptimes are not state
    assert a.bgp_peers[0].received_prefixes == 2
    assert state_from_napalm("r1", None, None, None, ["get_facts"]).unsupported == ("get_facts",)


def test_compliance_report_failures_are_readable_and_skips_fail() -> None:
    report = {
        "complies": False,
        "skipped": ["get_lldp_neighbors"],
        "get_lldp_neighbors": {"skipped": True, "reason": "NotImplemented"},
        "get_facts": {
            "complies": False,
            "present": {
                "hostname": {"complies": False, "nested": False, "expected_value": "r1", "actual_value": "r9"}
            },
            "missing": [],
            "extra": [],
        },
    }
    assert compliance_failures(report) == (
        "get_lldp_neighbors: could not be checked on this platform (skipped)",
        "get_facts.hostname: expected 'r1', got 'r9'",
    )


@pytest.mark.parametrize(
    ("text", "required", "problem"),
    [
        (None, True, "no .expect.yaml"),
        ("", True, "empty"),
        ("---\n", True, "empty"),
        ("[]\n", True, "empty"),
        ("- get_facts: {hostname: r1}\n", True, None),
        ("get_facts: 1\n", True, "must be a list"),
        (None, False, None),
    ],
)
def test_missing_or_empty_expectations_are_a_failure(
    text: str | None, required: bool, problem: str | None
) -> None:
    found = expectations_problem(text, required)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


class FakeDevice:
    """A device whose BGP session comes up after ``up_after`` polls."""

    name = "r1"
    platform = "frr"

    def __init__(self, config: str, up_after: int, getters: bool = True) -> None:
        self.config = config
        self.up_after = up_after
        self.polls = 0
        self.getters = getters

    def running_config(self) -> str:
        return self.config

    def facts(self) -> dict[str, Any]:
        return {"hostname": "r1"}

    def interfaces(self) -> dict[str, Any]:
        if not self.getters:
            raise Unsupported("get_interfaces: not supported by this driver", host="r1")
        return {}

    def bgp_neighbors(self) -> dict[str, Any]:
        self.polls += 1
        up = self.polls > self.up_after
        return {"global": {"peers": {"10.0.0.2": {"remote_as": 2, "is_up": up, "is_enabled": True}}}}

    def compliance(
        self, expectations_yaml: str, label: str = "", known: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        return {"complies": True, "skipped": []}


def _check(device: FakeDevice, target: CheckTarget, timeout: float) -> Any:
    return _timed(device, timeout, target=target)[0]


def test_post_check_polls_until_the_session_settles() -> None:
    result = _check(FakeDevice("hostname r1\n", up_after=3), CheckTarget("hostname r1\n", None, False), 10)
    assert result.ok and result.attempts == 4 and result.notes == ("no expectations configured",)


def test_post_check_fails_after_the_settle_deadline() -> None:
    result = _check(FakeDevice("hostname r1\n", up_after=99), CheckTarget("hostname r1\n", None, False), 3)
    assert not result.ok
    assert "still failing after 3s" in result.failures[-1]


def _timed(
    device: FakeDevice,
    settle: float,
    cancel_at: float | None = None,
    target: CheckTarget | None = None,
    **options: Any,
) -> tuple[Any, float]:
    """``post_check`` on a clock of its own (sleeping moves it; Ctrl-C at ``cancel_at`` seconds): the
    result and the time it ended."""
    clock = [0.0]
    result = post_check(
        device,
        target or CheckTarget("hostname r1\n", None, False),
        snap(peer("10.0.0.2", received=-1, asn=2)),
        ChangeScope(),
        settle_timeout=settle,
        settle_interval=1.0,
        clock=lambda: clock[0],
        sleep=lambda s: clock.__setitem__(0, clock[0] + s),
        cancelled=lambda: cancel_at is not None and clock[0] >= cancel_at,
        **options,
    )
    return result, clock[0]


def test_post_check_stops_at_once_when_the_revert_timer_fires() -> None:
    # the session would never settle (60 s of rounds); the device's timer fires after the second round
    device = FakeDevice("hostname r1\n", up_after=99)
    result, ended = _timed(device, 60, still_pending=lambda: device.polls < 2)
    assert result.reverted and not result.ok
    assert result.attempts == 2 and device.polls == 2  # no round after the timer fired
    assert ended < 60 and "revert timer fired" in result.failures[0]


class RevertingDevice(FakeDevice):
    """The session is up for two rounds; then the device's revert timer fires, and the revert takes the
    session down in the same read: the round fails because of the timer, not because of the change."""

    def bgp_neighbors(self) -> dict[str, Any]:
        self.polls += 1
        up = self.polls <= 2
        return {"global": {"peers": {"10.0.0.2": {"remote_as": 2, "is_up": up, "is_enabled": True}}}}


def test_a_round_broken_by_the_revert_timer_is_reported_reverted_not_failed() -> None:
    device = RevertingDevice("hostname r1\n", up_after=0)
    result, _ended = _timed(device, 10, soak=30.0, still_pending=lambda: device.polls < 3)
    assert result.reverted and not result.ok
    assert "revert timer fired" in result.failures[0]


def test_a_soak_pause_notices_the_revert_timer_within_the_timer_poll() -> None:
    """A 60 s soak sleeps 20 s between rounds; the timer firing 1 s in must stop the checks within
    TIMER_POLL seconds, not at the next round."""
    device = FakeDevice("hostname r1\n", up_after=0)
    clock = [0.0]
    result = post_check(
        device,
        CheckTarget("hostname r1\n", None, False),
        snap(peer("10.0.0.2", received=-1, asn=2)),
        ChangeScope(),
        settle_timeout=10,
        settle_interval=1.0,
        clock=lambda: clock[0],
        sleep=lambda s: clock.__setitem__(0, clock[0] + s),
        soak=60.0,
        still_pending=lambda: clock[0] < 1.0,
    )
    assert result.reverted and not result.ok
    assert clock[0] <= 1.0 + TIMER_POLL + 1.0, clock[0]
    assert device.polls == 1  # no round of checks after the timer fired


def _soak(device: FakeDevice, soak: float, cancel_at: float | None = None) -> tuple[Any, float]:
    return _timed(device, 10, cancel_at, soak=soak)


def test_a_soak_is_checked_a_few_times_spread_over_it_the_last_at_its_end() -> None:
    device = FakeDevice("hostname r1\n", up_after=0)
    result, ended = _soak(device, 9.0)
    assert result.ok and result.soaked >= 9.0 and ended == 9.0
    assert result.attempts == 1 + SOAK_ROUNDS and device.polls == 1 + SOAK_ROUNDS  # not one per second
    assert result.soak_wait == 9.0


def test_ctrl_c_during_a_soak_pause_is_seen_within_a_settle_interval() -> None:
    result, ended = _soak(FakeDevice("hostname r1\n", up_after=0), 9.0, cancel_at=1.5)
    assert not result.ok and "interrupted (Ctrl-C) during the soak" in result.failures[-1]
    assert ended == 2.0  # the next step of the pause, not the next round three seconds later


def test_post_check_fails_at_once_when_not_converged() -> None:
    device = FakeDevice("hostname r9\n", up_after=0)
    result = _check(device, CheckTarget("hostname r1\n", None, False), 10)
    assert not result.ok and device.polls == 0
    assert "-hostname r1" in result.convergence and "+hostname r9" in result.convergence


def test_post_check_refuses_configured_but_empty_expectations() -> None:
    result = _check(FakeDevice("hostname r1\n", up_after=0), CheckTarget("hostname r1\n", "", True), 10)
    assert not result.ok and "empty" in result.failures[0]


def test_getters_the_platform_lacks_are_not_regressions() -> None:
    device = FakeDevice("hostname r1\n", up_after=0, getters=False)
    result = _check(device, CheckTarget("hostname r1\n", None, False), 1)
    assert result.ok
    assert result.state is not None and result.state.unsupported == ("get_interfaces",)
