"""The behaviour every netimmutable driver must show, run against each tier's devices.

A tier subclasses ``DriverContract`` as ``Test<Name>Contract`` and provides a ``dut`` fixture returning an
object that implements ``DeviceUnderTest``. ``DriverContract`` itself is not collected (its name does not
start with ``Test``). Every test starts and ends with ``dut.reset()``.

Configs used here are FRR syntax (``sim`` speaks it too). The device's baseline must hold a BGP session to
``dut.neighbor_ip`` on another device (``dut.peer``) that is Established at baseline, with a line
``neighbor <neighbor_ip> remote-as <AS>`` in its ``router bgp``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
from napalm.base import NetworkDriver, models
from napalm.base.exceptions import ReplaceConfigException

REPO = Path(__file__).resolve().parent.parent
NEW_ROUTE = "ip route 10.254.254.0/24 blackhole"
MERGE_ROUTE = "ip route 10.254.253.0/24 blackhole"
DRIFT_ROUTE = "ip route 10.254.252.0/24 blackhole"
INVALID_LINE = "frobnicate all the widgets 42"


class DeviceUnderTest(Protocol):
    """One device a contract test drives, plus out-of-band access to it (never through the driver).

    ``driver_name``, ``hostname``, ``username``, ``password``, ``optional_args``: what a separate process
    needs to build the same NAPALM driver, as
    ``napalm.get_network_driver(driver_name)(hostname, username, password, optional_args=optional_args)``;
    ``optional_args`` must be JSON-serialisable.
    ``baseline``: the config ``reset()`` puts back (for FRR: the router's snapshot).
    ``revert_in``: a short revert timer (s) the device honours; ``settle_timeout``: how long (s) to poll for a
    state change to show (BGP convergence, revert firing) before failing.
    ``neighbor_ip`` / ``peer``: a BGP neighbour of the baseline and the device behind that address.
    """

    driver_name: str
    hostname: str
    username: str
    password: str
    optional_args: Mapping[str, Any]
    baseline: str
    revert_in: int
    settle_timeout: float
    neighbor_ip: str

    @property
    def peer(self) -> DeviceUnderTest:
        """The device behind ``neighbor_ip`` (only ``hostname`` and ``open_driver`` are used on it)."""

    def open_driver(self) -> NetworkDriver:
        """A driver for this device, already opened (the caller closes it)."""

    def running(self) -> str:
        """The running config read out of band (sim: its files; FRR: vtysh through nsenter)."""

    def reset(self) -> None:
        """Back to ``baseline``, out of band, with no pending commit and the session(s) converged."""

    def oob_edit(self, add: Sequence[str]) -> None:
        """Add config lines out of band (drift), as a person on the console would."""


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``predicate`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for: {what}")
        time.sleep(interval)


def lines_of(text: str) -> set[str]:
    return {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("!")}


def with_line(config: str, line: str) -> str:
    """``config`` with a top-level ``line`` added before a final ``end`` (if any)."""
    body = config.rstrip("\n").split("\n")
    at = len(body) - 1 if body and body[-1].strip() == "end" else len(body)
    return "\n".join([*body[:at], line, *body[at:]]) + "\n"


# ------------------------------------------------------------------------------------ model checks
def _check_type(value: Any, hint: Any, where: str) -> None:
    origin = typing.get_origin(hint)
    if hint is Any:
        return
    if hasattr(hint, "__required_keys__"):  # a TypedDict (typing or typing_extensions)
        check_typeddict(value, hint, where)
    elif origin in (list, typing.List):  # noqa: UP006 - napalm's models use typing.List
        assert isinstance(value, list), f"{where}: expected list, got {type(value).__name__}"
    elif origin in (dict, typing.Dict):  # noqa: UP006
        assert isinstance(value, dict), f"{where}: expected dict, got {type(value).__name__}"
        args = typing.get_args(hint)
        if args:
            for k, v in value.items():
                _check_type(k, args[0], f"{where} key {k!r}")
                _check_type(v, args[1], f"{where}[{k!r}]")
    elif hint in (list, dict):
        assert isinstance(value, hint), f"{where}: expected {hint.__name__}, got {type(value).__name__}"
    elif hint is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: expected int, got {value!r}"
    elif hint is float:
        assert isinstance(value, float), f"{where}: expected float, got {value!r}"
    elif isinstance(hint, type):
        assert isinstance(value, hint), f"{where}: expected {hint.__name__}, got {value!r}"
    elif isinstance(hint, types.UnionType):
        assert isinstance(value, typing.get_args(hint)), f"{where}: got {value!r}"


def check_typeddict(value: Any, td: Any, where: str) -> None:
    """Assert ``value`` has exactly the keys of TypedDict ``td`` (all of them when total) and their types."""
    assert isinstance(value, dict), f"{where}: expected a dict, got {type(value).__name__}"
    hints = typing.get_type_hints(td)
    required = set(td.__required_keys__)
    assert required <= set(value), f"{where}: missing keys {sorted(required - set(value))}"
    assert set(value) <= set(hints), f"{where}: unexpected keys {sorted(set(value) - set(hints))}"
    for key, item in value.items():
        _check_type(item, hints[key], f"{where}.{key}")


# ------------------------------------------------------------------------------------ subprocess
_COMMIT_AND_HANG = """
import json, os, sys, time
import napalm
spec = json.loads(sys.argv[1])
drv = napalm.get_network_driver(spec["driver"])(spec["hostname"], spec["username"],
        os.environ.get("CONTRACT_PASSWORD", ""), optional_args=spec["optional_args"])
drv.open()
drv.load_replace_candidate(config=spec["config"])
drv.commit_config(revert_in=spec["revert_in"])
print("COMMITTED", flush=True)
time.sleep(3600)
"""


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


class DriverContract:
    """Behaviour shared by every driver; subclass as ``Test<Name>Contract`` with a ``dut`` fixture."""

    @pytest.fixture(autouse=True)
    def _clean_device(self, dut: DeviceUnderTest) -> Iterator[None]:
        dut.reset()
        yield
        dut.reset()

    def _bgp_up(self, dut: DeviceUnderTest, address: str) -> bool:
        drv = dut.open_driver()
        try:
            peers = drv.get_bgp_neighbors()["global"]["peers"]
        finally:
            drv.close()
        return bool(address in peers and peers[address]["is_up"])

    def _own_address_seen_by_peer(self, dut: DeviceUnderTest) -> str:
        """Our address the peer's neighbour statement points at."""
        drv = dut.open_driver()
        try:
            mine = {ip for i in drv.get_interfaces_ip().values() for ip in i.get("ipv4", {})}
        finally:
            drv.close()
        drv = dut.peer.open_driver()
        try:
            theirs = set(drv.get_bgp_neighbors()["global"]["peers"])
        finally:
            drv.close()
        found: list[str] = sorted(mine & theirs)
        assert found, f"{dut.peer.hostname} has no BGP neighbour on an address of {dut.hostname}"
        return found[0]

    # ---------------------------------------------------------------------------------- candidate
    def test_replace_compare_then_discard_leaves_running_untouched(self, dut: DeviceUnderTest) -> None:
        before = dut.running()
        drv = dut.open_driver()
        try:
            drv.load_replace_candidate(config=with_line(dut.baseline, NEW_ROUTE))
            diff = drv.compare_config()
            assert NEW_ROUTE in diff
            assert NEW_ROUTE in drv.get_config(retrieve="candidate")["candidate"]
            drv.discard_config()
            assert drv.compare_config() == ""
            assert drv.get_config(retrieve="candidate")["candidate"] == ""
        finally:
            drv.close()
        assert dut.running() == before

    def test_commit_applies_and_leaves_nothing_to_compare(self, dut: DeviceUnderTest) -> None:
        drv = dut.open_driver()
        try:
            drv.load_replace_candidate(config=with_line(dut.baseline, NEW_ROUTE))
            drv.commit_config()
            assert drv.compare_config() == ""
            assert not drv.has_pending_commit()
            assert NEW_ROUTE in lines_of(drv.get_config(retrieve="running")["running"])
            assert NEW_ROUTE in lines_of(drv.get_config(retrieve="startup")["startup"])
        finally:
            drv.close()
        assert NEW_ROUTE in lines_of(dut.running())

    def test_rollback_restores_the_config_before_the_last_commit(self, dut: DeviceUnderTest) -> None:
        before = dut.running()
        drv = dut.open_driver()
        try:
            drv.load_replace_candidate(config=with_line(dut.baseline, NEW_ROUTE))
            drv.commit_config()
            assert NEW_ROUTE in lines_of(dut.running())
            drv.rollback()
        finally:
            drv.close()
        assert dut.running() == before

    def test_merge_adds_lines_and_keeps_the_rest(self, dut: DeviceUnderTest) -> None:
        before = dut.running()
        drv = dut.open_driver()
        try:
            drv.load_merge_candidate(config=MERGE_ROUTE + "\n")
            assert MERGE_ROUTE in drv.compare_config()
            drv.commit_config()
        finally:
            drv.close()
        after = lines_of(dut.running())
        assert MERGE_ROUTE in after
        assert lines_of(before) <= after

    def test_out_of_band_edit_shows_as_drift(self, dut: DeviceUnderTest) -> None:
        dut.oob_edit([DRIFT_ROUTE])
        drv = dut.open_driver()
        try:
            assert DRIFT_ROUTE in lines_of(drv.get_config(retrieve="running")["running"])
            drv.load_replace_candidate(config=dut.baseline)
            assert DRIFT_ROUTE in drv.compare_config()
            drv.discard_config()
        finally:
            drv.close()

    def test_invalid_line_is_refused_device_untouched_no_candidate(self, dut: DeviceUnderTest) -> None:
        before = dut.running()
        drv = dut.open_driver()
        try:
            with pytest.raises(ReplaceConfigException):
                drv.load_replace_candidate(config=with_line(dut.baseline, INVALID_LINE))
            assert drv.compare_config() == ""
            assert drv.get_config(retrieve="candidate")["candidate"] == ""
            drv.commit_config()  # nothing loaded: must not change the device
        finally:
            drv.close()
        assert dut.running() == before

    # ---------------------------------------------------------------------------------- revert timer
    def test_revert_fires_after_the_session_closed(self, dut: DeviceUnderTest) -> None:
        before = dut.running()
        drv = dut.open_driver()
        try:
            drv.load_replace_candidate(config=with_line(dut.baseline, NEW_ROUTE))
            drv.commit_config(revert_in=dut.revert_in)
            assert drv.has_pending_commit()
            assert NEW_ROUTE in lines_of(dut.running())
        finally:
            drv.close()
        wait_for(
            lambda: dut.running() == before, dut.revert_in + dut.settle_timeout, "the revert timer to fire"
        )
        drv = dut.open_driver()
        try:
            # the timer clears its pending commit once its restore is done (it may still be finishing
            # when the running config already reads as before: a revert in progress is still pending)
            wait_for(lambda: not drv.has_pending_commit(), dut.settle_timeout, "the revert to finish")
            assert dut.running() == before
        finally:
            drv.close()

    def test_revert_fires_after_the_committing_process_was_killed(self, dut: DeviceUnderTest) -> None:
        before = dut.running()
        spec = {
            "driver": dut.driver_name,
            "hostname": dut.hostname,
            "username": dut.username,
            "optional_args": dict(dut.optional_args),
            "config": with_line(dut.baseline, NEW_ROUTE),
            "revert_in": dut.revert_in,
        }
        env = {**os.environ, "CONTRACT_PASSWORD": dut.password, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-c", _COMMIT_AND_HANG, json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        try:
            line = _read_line(proc, 60 + dut.settle_timeout)
            assert line.strip() == "COMMITTED", (
                f"child did not commit: {line!r} {proc.stderr and proc.stderr.read()}"
            )
            assert NEW_ROUTE in lines_of(dut.running())
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        wait_for(lambda: dut.running() == before, dut.revert_in + dut.settle_timeout, "revert after SIGKILL")
        drv = dut.open_driver()
        try:  # the next test must start with no revert in progress
            wait_for(lambda: not drv.has_pending_commit(), dut.settle_timeout, "the revert to finish")
        finally:
            drv.close()

    def test_confirm_cancels_the_revert(self, dut: DeviceUnderTest) -> None:
        drv = dut.open_driver()
        try:
            assert not drv.has_pending_commit()
            drv.load_replace_candidate(config=with_line(dut.baseline, NEW_ROUTE))
            drv.commit_config(revert_in=dut.revert_in)
            assert drv.has_pending_commit()
            drv.confirm_commit()
            assert not drv.has_pending_commit()
            assert NEW_ROUTE in lines_of(drv.get_config(retrieve="startup")["startup"])
        finally:
            drv.close()
        time.sleep(dut.revert_in + 1.0)  # past the cancelled deadline: nothing may revert now
        assert NEW_ROUTE in lines_of(dut.running())

    def test_rollback_cancels_a_pending_commit(self, dut: DeviceUnderTest) -> None:
        before = dut.running()
        drv = dut.open_driver()
        try:
            drv.load_replace_candidate(config=with_line(dut.baseline, NEW_ROUTE))
            drv.commit_config(revert_in=max(dut.revert_in, 60))
            drv.rollback()
            assert not drv.has_pending_commit()
        finally:
            drv.close()
        assert dut.running() == before

    # ---------------------------------------------------------------------------------- getters
    def test_getters_match_napalm_models(self, dut: DeviceUnderTest) -> None:
        wait_for(lambda: self._bgp_up(dut, dut.neighbor_ip), dut.settle_timeout, "baseline BGP session up")
        drv = dut.open_driver()
        try:
            assert drv.is_alive() == {"is_alive": True}
            check_typeddict(drv.get_facts(), models.FactsDict, "get_facts")
            check_typeddict(drv.get_config(), models.ConfigurationDict, "get_config")
            interfaces = drv.get_interfaces()
            assert interfaces
            for name, iface in interfaces.items():
                check_typeddict(iface, models.InterfaceDict, f"get_interfaces[{name}]")
            for name, ips in drv.get_interfaces_ip().items():
                check_typeddict(ips, models.InterfacesIPDict, f"get_interfaces_ip[{name}]")
            bgp = drv.get_bgp_neighbors()
            assert "global" in bgp
            for vrf, data in bgp.items():
                check_typeddict(data, models.BGPStateNeighborsPerVRFDict, f"get_bgp_neighbors[{vrf}]")
                for address in data["peers"]:
                    ipaddress.ip_address(address)  # peers are keyed by address
            peer = bgp["global"]["peers"][dut.neighbor_ip]
            assert peer["is_up"] is True and peer["uptime"] >= 0
            detail = drv.get_bgp_neighbors_detail()
            for vrf, by_as in detail.items():
                for asn, entries in by_as.items():
                    assert isinstance(asn, int) and not isinstance(asn, bool)
                    for entry in entries:
                        check_typeddict(
                            entry, models.PeerDetailsDict, f"get_bgp_neighbors_detail[{vrf}][{asn}]"
                        )
            facts = drv.get_facts()
            report = drv.compliance_report(
                validation_source=[
                    {"get_facts": {"hostname": facts["hostname"]}},
                    {"get_bgp_neighbors": {"global": {"peers": {dut.neighbor_ip: {"is_up": True}}}}},
                ]
            )
            assert report["complies"] is True, report
        finally:
            drv.close()

    def test_wrong_remote_as_takes_the_session_down(self, dut: DeviceUnderTest) -> None:
        wait_for(lambda: self._bgp_up(dut, dut.neighbor_ip), dut.settle_timeout, "baseline BGP session up")
        ours = self._own_address_seen_by_peer(dut)
        pattern = re.compile(
            rf"^(\s*neighbor {re.escape(dut.neighbor_ip)} remote-as )(\d+)\s*$", re.MULTILINE
        )
        match = pattern.search(dut.baseline)
        assert match, f"baseline has no 'neighbor {dut.neighbor_ip} remote-as <AS>' line"
        wrong = int(match.group(2)) + 1000
        bad = pattern.sub(rf"\g<1>{wrong}", dut.baseline)
        drv = dut.open_driver()
        try:
            drv.load_replace_candidate(config=bad)
            drv.commit_config(revert_in=max(60, dut.revert_in))
        finally:
            drv.close()
        wait_for(
            lambda: not self._bgp_up(dut, dut.neighbor_ip), dut.settle_timeout, "session down (our side)"
        )
        wait_for(lambda: not self._bgp_up(dut.peer, ours), dut.settle_timeout, "session down (peer side)")
        drv = dut.open_driver()
        try:
            assert drv.get_bgp_neighbors()["global"]["peers"][dut.neighbor_ip]["remote_as"] == wrong
            drv.rollback()
        finally:
            drv.close()
        wait_for(
            lambda: self._bgp_up(dut, dut.neighbor_ip), dut.settle_timeout, "session back up after rollback"
        )
        wait_for(lambda: self._bgp_up(dut.peer, ours), dut.settle_timeout, "peer side back up after rollback")
