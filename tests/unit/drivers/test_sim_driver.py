"""``sim``-specific behaviour: knobs, state shared between processes, the address index, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import napalm
import pytest
from napalm.base.exceptions import (
    CommitError,
    ConnectionClosedException,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
)

from netimmutable.drivers.sim import SimDriver, SimLab
from tests.contract import wait_for, with_line
from tests.unit.drivers.example_network import ROUTERS, frr_config

REPO = Path(__file__).resolve().parents[3]
ROUTE = "ip route 10.254.254.0/24 blackhole"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path / "lab")
    for host in ROUTERS:
        lab.create(host, frr_config(host))
    yield lab
    lab.destroy()


def connect(lab: SimLab, host: str) -> SimDriver:
    drv = SimDriver(host, "", "", optional_args={"lab_dir": str(lab.root)})
    drv.open()
    return drv


def peers(lab: SimLab, host: str) -> dict[str, dict[str, object]]:
    drv = connect(lab, host)
    try:
        result: dict[str, dict[str, object]] = drv.get_bgp_neighbors()["global"]["peers"]
        return result
    finally:
        drv.close()


def run_python(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_napalm_finds_the_sim_driver() -> None:
    assert napalm.get_network_driver("sim") is SimDriver


def test_open_unknown_device_or_missing_lab_dir_is_a_connection_error(lab: SimLab) -> None:
    with pytest.raises(ConnectionException, match="no such sim device"):
        SimDriver("r9", "", "", optional_args={"lab_dir": str(lab.root)}).open()
    with pytest.raises(ConnectionException, match="lab_dir"):
        SimDriver("r1", "", "").open()
    with pytest.raises(ConnectionException, match="invalid sim device name"):
        SimDriver("../r1", "", "", optional_args={"lab_dir": str(lab.root)}).open()


def test_calls_before_open_raise_connection_closed(lab: SimLab) -> None:
    drv = SimDriver("r1", "", "", optional_args={"lab_dir": str(lab.root)})
    with pytest.raises(ConnectionClosedException):
        drv.get_facts()
    assert drv.is_alive() == {"is_alive": False}


# ------------------------------------------------------------------------------------------ knobs
def test_latency_knobs_delay_calls(lab: SimLab) -> None:
    lab.set_knobs("r1", latency=0.05, commit_latency=0.2)
    drv = connect(lab, "r1")
    started = time.monotonic()
    drv.get_facts()
    assert time.monotonic() - started >= 0.05
    drv.load_merge_candidate(config=ROUTE + "\n")
    started = time.monotonic()
    drv.commit_config()
    assert time.monotonic() - started >= 0.25
    lab.clear_knobs("r1")
    assert lab.knobs("r1").latency == 0.0


def test_fail_step_raises_the_named_exception_and_leaves_the_device_alone(lab: SimLab) -> None:
    before = lab.running("r1")
    lab.set_knobs("r1", fail_step="commit", fail_exception="CommitError", fail_message="boom", fail_times=1)
    drv = connect(lab, "r1")
    drv.load_replace_candidate(config=with_line(before, ROUTE))
    with pytest.raises(CommitError, match="boom"):
        drv.commit_config()
    assert lab.running("r1") == before
    drv.commit_config()  # the one injected failure is spent: the retry lands
    assert ROUTE in lab.running("r1")
    assert lab.knobs("r1").fail_step is None


@pytest.mark.parametrize(
    ("step", "call"),
    [
        ("load", lambda d: d.load_replace_candidate(config="hostname x\n")),
        ("compare", lambda d: d.compare_config()),
        ("confirm", lambda d: d.confirm_commit()),
        ("rollback", lambda d: d.rollback()),
        ("get_config", lambda d: d.get_config()),
        ("getters", lambda d: d.get_bgp_neighbors()),
    ],
)
def test_every_step_can_fail(lab: SimLab, step: str, call: object) -> None:
    lab.set_knobs("r1", fail_step=step, fail_exception="CommandErrorException")
    drv = connect(lab, "r1")
    with pytest.raises(napalm.base.exceptions.CommandErrorException):
        call(drv)  # type: ignore[operator]


def test_open_can_fail_and_unknown_knobs_are_refused(lab: SimLab) -> None:
    lab.set_knobs("r1", fail_step="open", fail_exception="ConnectAuthError")
    with pytest.raises(napalm.base.exceptions.ConnectAuthError):
        connect(lab, "r1")
    with pytest.raises(ValueError, match="unknown knob"):
        lab.set_knobs("r1", latnecy=1)
    with pytest.raises(ValueError, match=r"napalm\.base\.exceptions"):
        lab.set_knobs("r1", fail_exception="KeyError")


def test_drop_after_commit_lands_the_commit_then_the_session_is_dead(lab: SimLab) -> None:
    lab.set_knobs("r1", drop_after_commit=True)
    drv = connect(lab, "r1")
    drv.load_replace_candidate(config=with_line(lab.running("r1"), ROUTE))
    drv.commit_config(revert_in=60)
    assert ROUTE in lab.running("r1")
    assert drv.is_alive() == {"is_alive": False}
    with pytest.raises(ConnectionException):
        drv.confirm_commit()
    lab.set_knobs("r1", drop_after_commit=False)
    fresh = connect(lab, "r1")
    assert fresh.has_pending_commit()
    fresh.confirm_commit()  # a new session may confirm what the lost one committed
    assert not fresh.has_pending_commit()
    assert ROUTE in lab.startup("r1")


def test_unreachable_device_refuses_open_and_breaks_open_sessions(lab: SimLab) -> None:
    drv = connect(lab, "r1")
    lab.set_knobs("r1", unreachable=True)
    with pytest.raises(ConnectionException):
        connect(lab, "r1")
    with pytest.raises(ConnectionException):
        drv.get_facts()
    lab.set_knobs("r1", unreachable=False)
    assert connect(lab, "r1").get_facts()["hostname"] == "r1"


def test_reject_pattern_refuses_the_candidate_naming_the_line(lab: SimLab) -> None:
    before = lab.running("r1")
    lab.set_knobs("r1", reject_pattern=r"^ip route 10\.254\.")
    drv = connect(lab, "r1")
    candidate = with_line(before, ROUTE)
    number = candidate.splitlines().index(ROUTE) + 1
    with pytest.raises(ReplaceConfigException, match=rf"line {number}: .*{ROUTE}"):
        drv.load_replace_candidate(config=candidate)
    assert drv.compare_config() == ""
    with pytest.raises(MergeConfigException, match="Rejected"):
        drv.load_merge_candidate(config=ROUTE + "\n")
    drv.commit_config()
    assert lab.running("r1") == before


def test_syntax_errors_name_line_and_reason(lab: SimLab) -> None:
    drv = connect(lab, "r1")
    with pytest.raises(
        ReplaceConfigException, match=r"line 2: % Invalid AS number: neighbor 10.0.0.1 remote-as foo"
    ):
        drv.load_replace_candidate(config="router bgp 65001\n neighbor 10.0.0.1 remote-as foo\nexit\n")
    with pytest.raises(ReplaceConfigException, match=r"line 2: % Malformed address"):
        drv.load_replace_candidate(config="interface eth0\n ip address 10.0.0.300/24\nexit\n")


def test_edit_creates_drift_and_removes_lines(lab: SimLab) -> None:
    startup = lab.startup("r1")
    lab.edit("r1", add=[ROUTE], remove=["ip route 10.255.101.0/24 blackhole"])
    running = lab.running("r1")
    assert ROUTE in running
    assert "ip route 10.255.101.0/24 blackhole" not in running
    assert lab.startup("r1") == startup
    drv = connect(lab, "r1")
    drv.load_replace_candidate(config=frr_config("r1"))
    diff = drv.compare_config()
    assert f"-{ROUTE}" in diff
    assert "+ip route 10.255.101.0/24 blackhole" in diff


def test_get_config_sanitized_masks_secrets(lab: SimLab) -> None:
    lab.edit("r1", add=["router bgp 65001\n neighbor 10.255.12.2 password s3cret"])
    drv = connect(lab, "r1")
    assert "s3cret" in drv.get_config()["running"]
    assert "s3cret" not in drv.get_config(sanitized=True)["running"]


# ------------------------------------------------------------------------------------------ commit semantics
def test_commit_refused_while_another_commit_is_pending(lab: SimLab) -> None:
    first, second = connect(lab, "r1"), connect(lab, "r1")
    first.load_merge_candidate(config=ROUTE + "\n")
    first.commit_config(revert_in=60)
    second.load_merge_candidate(config="ip route 10.254.1.0/24 blackhole\n")
    with pytest.raises(CommitError, match="pending confirmation"):
        second.commit_config()
    assert "10.254.1.0/24" not in lab.running("r1")
    assert second.has_pending_commit()


def test_revert_deadline_lives_in_the_device_files_and_fires_in_another_process(lab: SimLab) -> None:
    before = lab.running("r1")
    drv = connect(lab, "r1")
    drv.load_merge_candidate(config=ROUTE + "\n")
    drv.commit_config(revert_in=1, message="canary")
    pending = lab.state("r1").pending
    assert pending is not None and pending.restore == before
    state = json.loads((lab.root / "r1" / "state.json").read_text())
    assert state["pending"]["deadline"] == pending.deadline
    time.sleep(max(0.0, pending.deadline - time.time()) + 0.1)  # past the deadline, nobody has looked yet
    code = (
        "import sys; from pathlib import Path; from netimmutable.drivers.sim import SimLab;"
        "lab = SimLab(Path(sys.argv[1])); print(lab.running('r1') == sys.argv[2]);"
        "print([e.kind for e in lab.state('r1').history])"
    )
    out = run_python(code, str(lab.root), before).splitlines()
    assert out[0] == "True"
    assert "revert" in out[1]
    assert not drv.has_pending_commit()
    assert [e.message for e in lab.state("r1").history if e.kind == "commit"] == ["canary"]


def test_state_and_knobs_are_shared_between_processes(lab: SimLab) -> None:
    code = (
        "import sys, napalm\n"
        "d = napalm.get_network_driver('sim')('r1', '', '', optional_args={'lab_dir': sys.argv[1]})\n"
        "d.open(); d.load_merge_candidate(config=sys.argv[2] + '\\n'); d.commit_config();"
        "from netimmutable.drivers.sim import SimLab; from pathlib import Path;"
        "SimLab(Path(sys.argv[1])).set_knobs('r2', latency=0.01, reject_pattern='x')"
    )
    run_python(code, str(lab.root), ROUTE)
    assert ROUTE in lab.running("r1")
    assert lab.knobs("r2").reject_pattern == "x"
    assert lab.knobs("r2").latency == 0.01


def test_two_processes_merging_concurrently_lose_no_update(lab: SimLab) -> None:
    code = (
        "import sys, napalm\n"
        "d = napalm.get_network_driver('sim')('r1', '', '', optional_args={'lab_dir': sys.argv[1]})\n"
        "d.open()\n"
        "for i in range(25):\n"
        "    d.load_merge_candidate(config=f'ip route 10.{sys.argv[2]}.{i}.0/24 blackhole\\n')\n"
        "    d.commit_config()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(lab.root), str(n)],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (201, 202)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    running = lab.running("r1")
    for n in (201, 202):
        for i in range(25):
            assert f"ip route 10.{n}.{i}.0/24 blackhole" in running
    assert lab.state("r1").generation == 1 + 50


# ------------------------------------------------------------------------------------------ BGP and the index
def test_all_sessions_of_the_example_ring_are_established(lab: SimLab) -> None:
    for host in ROUTERS:
        for address, peer in peers(lab, host).items():
            assert peer["is_up"] is True, (host, address)
            assert peer["address_family"] == {
                "ipv4": {"received_prefixes": 1, "accepted_prefixes": 1, "sent_prefixes": 1}
            }


def test_prefix_counts_follow_the_peers_network_statements(lab: SimLab) -> None:
    lab.edit("r3", add=["router bgp 65003\n address-family ipv4 unicast\n  network 10.255.203.0/24"])
    assert peers(lab, "r2")["10.255.23.2"]["address_family"]["ipv4"]["received_prefixes"] == 2  # type: ignore[index]


def test_index_follows_address_changes(lab: SimLab) -> None:
    assert peers(lab, "r2")["10.255.23.2"]["is_up"] is True
    assert (lab.root / ".sim-index" / "10.255.23.2").read_text().split() == ["r3"]
    drv = connect(lab, "r3")
    drv.load_replace_candidate(
        config=frr_config("r3").replace("ip address 10.255.23.2/30", "ip address 10.255.23.6/30")
    )
    drv.commit_config()
    assert not (lab.root / ".sim-index" / "10.255.23.2").exists()
    assert (lab.root / ".sim-index" / "10.255.23.6").read_text().split() == ["r3"]
    assert peers(lab, "r2")["10.255.23.2"]["is_up"] is False
    drv.rollback()
    assert peers(lab, "r2")["10.255.23.2"]["is_up"] is True
    assert lab.rebuild_index() == len(list((lab.root / ".sim-index").iterdir()))


def test_index_follows_a_revert_that_fires(lab: SimLab) -> None:
    drv = connect(lab, "r3")
    drv.load_replace_candidate(
        config=frr_config("r3").replace("ip address 10.255.23.2/30", "ip address 10.255.23.6/30")
    )
    drv.commit_config(revert_in=1)
    drv.close()
    assert peers(lab, "r2")["10.255.23.2"]["is_up"] is False
    wait_for(
        lambda: peers(lab, "r2")["10.255.23.2"]["is_up"] is True, 10, "revert on r3 restores the session"
    )


@pytest.mark.parametrize(
    ("host", "edit"),
    [
        ("r3", "interface eth-r2\n shutdown"),  # peer's interface down
        ("r2", "interface eth-r3\n shutdown"),  # our interface down
        ("r3", "router bgp 65003\n neighbor 10.255.23.1 shutdown"),  # peer side admin down
        ("r2", "router bgp 65002\n neighbor 10.255.23.2 shutdown"),  # our side admin down
    ],
)
def test_shutdown_takes_the_session_down(lab: SimLab, host: str, edit: str) -> None:
    lab.edit(host, add=[edit])
    peer = peers(lab, "r2")["10.255.23.2"]
    assert peer["is_up"] is False
    assert peer["uptime"] == -1
    assert peer["is_enabled"] is (edit != "router bgp 65002\n neighbor 10.255.23.2 shutdown")


def test_interfaces_reflect_shutdown(lab: SimLab) -> None:
    lab.edit("r2", add=["interface eth-r3\n shutdown"])
    drv = connect(lab, "r2")
    ifaces = drv.get_interfaces()
    assert ifaces["eth-r3"]["is_up"] is False and ifaces["eth-r3"]["is_enabled"] is False
    assert ifaces["eth-r1"]["is_up"] is True
    assert drv.get_interfaces_ip()["eth-r1"] == {"ipv4": {"10.255.12.2": {"prefix_length": 30}}}
    assert drv.get_facts()["interface_list"] == ["eth-r1", "eth-r3", "lo"]


def test_detail_groups_by_remote_as(lab: SimLab) -> None:
    drv = connect(lab, "r2")
    detail = drv.get_bgp_neighbors_detail()
    assert sorted(detail["global"]) == [65001, 65003]
    only = drv.get_bgp_neighbors_detail("10.255.23.2")["global"]
    assert list(only) == [65003]
    assert only[65003][0]["connection_state"] == "Established"
    assert only[65003][0]["local_address"] == "10.255.23.1"


def test_destroy_refuses_a_folder_that_is_not_a_lab(tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    with pytest.raises(ValueError, match="not a sim lab"):
        SimLab(tmp_path / "precious").destroy()
    assert (tmp_path / "precious").is_dir()
    SimLab(tmp_path / "absent").destroy()


def test_connection_entry_matches_the_contract(lab: SimLab) -> None:
    assert lab.connection_entry("r1") == {
        "hostname": "r1",
        "driver": "sim",
        "optional_args": {"lab_dir": str(lab.root)},
    }
