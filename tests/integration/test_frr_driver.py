"""FRR driver behaviour beyond the shared contract on real routers: exact renders, failures, timings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from napalm.base.exceptions import (
    CommitError,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
)

from tests.contract import lines_of, wait_for, with_line
from tests.integration.conftest import FrrLab, FrrRouter, record_timing

# one lab per machine: every real-router test runs in the same xdist worker, one after another
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("frr-lab")]

STATIC = "ip route 10.254.240.0/24 blackhole"
# accepted by vtysh's syntax check, refused by bgpd: frr-reload.py applies the static route, then fails
UNKNOWN_PEER_GROUP = " neighbor 10.255.99.2 peer-group NO-SUCH-GROUP"
LEFT_BEHIND = {"candidate.conf", "merge.conf", "rollback.new", "pending", "pending.pid", "startup.pre"}


def _semantically_broken(baseline: str) -> str:
    text = with_line(baseline, STATIC)
    anchor = " bgp router-id 10.255.255.1\n"
    assert anchor in text
    return text.replace(anchor, anchor + UNKNOWN_PEER_GROUP + "\n")


def test_lab_is_up_and_every_router_runs_its_snapshot_exactly(frr_lab: FrrLab) -> None:
    assert frr_lab.status.healthy
    record_timing("lab_up", frr_lab.status.up_seconds or 0.0)
    for router in frr_lab.routers.values():
        assert router.running() == router.baseline, f"{router.name}: template output != running-config"
        drv = router.open_driver()
        try:
            drv.load_replace_candidate(filename=str(router.snapshot))
            assert drv.compare_config() == ""
            drv.discard_config()
        finally:
            drv.close()


def test_compliance_report_on_the_example_expectations(frr_lab: FrrLab) -> None:
    for router in frr_lab.routers.values():
        drv = router.open_driver()
        try:
            expect = router.repo / "snapshots" / f"{router.name}.expect.yaml"
            report = drv.compliance_report(validation_file=str(expect))
        finally:
            drv.close()
        assert report["complies"] is True, (router.name, report)


def test_syntax_error_is_refused_at_load_router_untouched(r1: FrrRouter) -> None:
    before, startup = r1.running(), r1.startup()
    drv = r1.open_driver()
    try:
        with pytest.raises(ReplaceConfigException, match=r"neighbor 10\.255\.12\.2 remote-as sixty"):
            drv.load_replace_candidate(config=r1.baseline.replace("remote-as 65002", "remote-as sixty"))
        with pytest.raises(MergeConfigException, match="Unknown command"):
            drv.load_merge_candidate(config="frobnicate all the widgets 42\n")
        assert drv.compare_config() == ""
    finally:
        drv.close()
    assert (r1.running(), r1.startup()) == (before, startup)
    assert not r1.workdir_files() & LEFT_BEHIND


def test_failed_part_way_replace_is_restored(r1: FrrRouter) -> None:
    before, startup = r1.running(), r1.startup()
    drv = r1.open_driver()
    try:
        drv.load_replace_candidate(config=_semantically_broken(r1.baseline))  # passes the syntax check
        with pytest.raises(CommitError, match="Configure the peer-group first") as err:
            drv.commit_config()
        assert "previous configuration restored" in str(err.value)
        assert not drv.has_pending_commit()
    finally:
        drv.close()
    assert r1.running() == before
    assert STATIC not in lines_of(r1.running())
    assert r1.startup() == startup
    assert not r1.workdir_files() & LEFT_BEHIND


def test_failed_part_way_merge_is_restored(r1: FrrRouter) -> None:
    before = r1.running()
    drv = r1.open_driver()
    try:
        drv.load_merge_candidate(config=f"{STATIC}\nrouter bgp 65001\n{UNKNOWN_PEER_GROUP}\nexit\n")
        with pytest.raises(CommitError, match="peer-group"):
            drv.commit_config(revert_in=60)
        assert not drv.has_pending_commit()
    finally:
        drv.close()
    assert r1.running() == before


def test_pending_commit_is_not_persisted_and_blocks_another_commit(r1: FrrRouter) -> None:
    startup = r1.startup()
    drv = r1.open_driver()
    try:
        drv.load_replace_candidate(config=with_line(r1.baseline, STATIC))
        t0 = time.monotonic()
        drv.commit_config(revert_in=60)
        record_timing("commit_config_revert_in", time.monotonic() - t0)
        assert r1.startup() == startup  # a reboot now would come back on the old config
        drv.load_replace_candidate(config=r1.baseline)
        with pytest.raises(CommitError, match="pending"):
            drv.commit_config()
        drv.discard_config()
        drv.confirm_commit()
        with pytest.raises(CommitError, match="no pending commit"):
            drv.confirm_commit()
        assert STATIC in lines_of(r1.startup())
    finally:
        drv.close()
    assert r1.workdir_files() & LEFT_BEHIND == set()


def test_commit_rollback_and_revert_timings(r1: FrrRouter) -> None:
    before = r1.running()
    drv = r1.open_driver()
    try:
        drv.load_replace_candidate(config=with_line(r1.baseline, STATIC))
        t0 = time.monotonic()
        drv.commit_config()
        record_timing("commit_config", time.monotonic() - t0)
        t0 = time.monotonic()
        drv.rollback()
        record_timing("rollback", time.monotonic() - t0)
        assert r1.running() == before
        drv.load_replace_candidate(config=with_line(r1.baseline, STATIC))
        drv.commit_config(revert_in=r1.revert_in)
        committed = time.monotonic()
    finally:
        drv.close()
    wait_for(lambda: r1.running() == before, r1.revert_in + 15, "revert timer", interval=0.05)
    fired = time.monotonic() - committed
    record_timing("revert_fired_after_commit(revert_in=3)", fired)
    assert r1.revert_in <= fired + 0.5


def test_get_config_shapes_are_consistent(r1: FrrRouter) -> None:
    drv = r1.open_driver()
    try:
        config = drv.get_config()
        assert config["running"] == config["startup"] == r1.baseline
        assert config["running"].startswith("frr version ") and config["running"].endswith("end\n")
        assert config["candidate"] == ""
        candidate = with_line(r1.baseline, STATIC)
        drv.load_replace_candidate(config=candidate)
        assert drv.get_config(retrieve="candidate") == {"running": "", "startup": "", "candidate": candidate}
        drv.discard_config()
    finally:
        drv.close()


_MOVING = {"uptime", "input_messages", "output_messages", "messages_queued_out"}
"""What a router's answers change between two reads a moment apart (keepalives, clocks)."""


def _steady(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _steady(v) for k, v in value.items() if k not in _MOVING}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    return value


def test_one_read_together_answers_what_each_getter_reads_alone(r1: FrrRouter) -> None:
    """On a real router: one SSH exec for the hold times, the running config and a check round, with the
    same answers as the getters asking one by one; a commit forgets it."""
    drv = r1.open_driver()
    execs: list[str] = []
    run = drv._ssh.run

    def counted(command: str, **kwargs: Any) -> Any:
        execs.append(command)
        return run(command, **kwargs)

    drv._ssh.run = counted

    def post() -> list[Any]:
        return [
            drv.get_bgp_neighbors_detail(),
            drv.get_config(retrieve="running"),
            drv.get_facts(),
            drv.get_interfaces(),
            drv.get_bgp_neighbors(),
            drv.get_interfaces_ip(),
        ]

    try:
        alone = post()
        assert len(execs) == 5  # detail, running config, interfaces + version, uptime, BGP
        execs.clear()
        drv.read_together(
            ["get_bgp_neighbors_detail", "get_config", "get_facts", "get_interfaces", "get_bgp_neighbors"]
        )
        together = post()
        assert len(execs) == 1
        assert together[1]["running"] == r1.baseline
        assert _steady(together) == _steady(alone)
        assert together[0]["global"] and together[2]["hostname"] == r1.name
        assert abs(together[2]["uptime"] - alone[2]["uptime"]) < 60

        drv.read_together(["get_bgp_neighbors"])
        drv.commit_config()  # nothing loaded: the router is not touched, what was read is forgotten
        execs.clear()
        drv.get_bgp_neighbors()
        assert len(execs) == 1 and execs[0].startswith("vtysh -c 'show bgp vrf all neighbors json' -c")
    finally:
        drv.close()


def test_host_key_is_verified(r1: FrrRouter, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    args = {**r1.optional_args, "known_hosts": str(empty)}
    import napalm

    drv = napalm.get_network_driver("frr")(r1.hostname, r1.username, "", optional_args=args)
    with pytest.raises(ConnectionException, match="not found in known_hosts"):
        drv.open()


def test_connections_file_matches_the_contract(frr_lab: FrrLab) -> None:
    hosts = yaml.safe_load((frr_lab.repo / ".netimmutable" / "connections.yaml").read_text())["hosts"]
    assert sorted(hosts) == ["r1", "r2", "r3", "r4"]
    for name, entry in hosts.items():
        assert entry["hostname"] == f"10.255.200.{name[1:]}"
        assert entry["driver"] == "frr" and entry["username"] == "root" and entry["port"] == 22
        assert Path(entry["optional_args"]["key_file"]).is_file()
        assert Path(entry["optional_args"]["known_hosts"]).is_file()
