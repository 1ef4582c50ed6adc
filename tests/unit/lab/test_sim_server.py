"""The sim device server (``python -m netimmutable.lab.sim_server``): a real server process on 127.0.0.1,
stopped by its PID, and the ``sim`` driver talking to it (``optional_args.server``)."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import napalm
import pytest
import yaml
from napalm.base import exceptions as napalm_exc

from netimmutable.drivers.sim import SimLab
from netimmutable.drivers.sim.wire import frame
from netimmutable.lab.sim_server import SpawnedServer, spawn
from tests.contract import DeviceUnderTest, DriverContract
from tests.unit.drivers.example_network import ROUTERS, frr_config
from tests.unit.drivers.test_sim_contract import SimDut
from tests.unit.verify_sim import SimNet, make_sim_net

# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def contract_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimLab, SpawnedServer]]:
    root = Path(tmp_path_factory.mktemp("serverlab"))
    lab = SimLab(root / "lab")
    for host in ROUTERS:
        lab.create(host, frr_config(host))
    server = spawn(lab.root, root)
    try:
        yield lab, server
    finally:
        server.stop()


@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[SimNet, SpawnedServer]]:
    sim = make_sim_net(tmp_path / "net")
    server = spawn(sim.lab.root, tmp_path)
    try:
        yield sim, server
    finally:
        server.stop()


def _use_server(sim: SimNet, address: str) -> None:
    entries = {h: sim.lab.connection_entry(h, server=address) for h in sim.lab.hosts()}
    path = sim.root / ".netimmutable" / "connections.yaml"
    path.write_text(yaml.safe_dump({"hosts": entries}), encoding="utf-8")


def _driver(host: str, address: str) -> Any:
    return napalm.get_network_driver("sim")(host, "", "", optional_args={"server": address})


class _Raw:
    """A bare protocol client, for what the driver never sends."""

    def __init__(self, server: SpawnedServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)

    def send(self, message: Mapping[str, Any]) -> None:
        self.sock.sendall(frame(dict(message)))

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> dict[str, Any] | None:
        header = self._exact(4)
        if header is None:
            return None
        body = self._exact(struct.unpack(">I", header)[0])
        assert body is not None
        reply: dict[str, Any] = json.loads(body)
        return reply

    def ask(self, message: Mapping[str, Any]) -> dict[str, Any]:
        self.send(message)
        reply = self.receive()
        assert reply is not None, "the server hung up instead of answering"
        return reply

    def _exact(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


def _wait_for(server: SpawnedServer, key: str, value: int) -> dict[str, Any]:
    """Poll the server's stats until ``key`` equals ``value`` (the server notices a hang-up on its own
    schedule); returns the stats, whatever they are after 20 s, for the caller's assertion."""
    stats = server.stats()
    deadline = time.monotonic() + 20
    while stats[key] != value and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = server.stats()
    return stats


# ------------------------------------------------------------------------------------------- contract


class TestSimServerContract(DriverContract):
    """The whole driver contract, with every call answered by the server process."""

    @pytest.fixture
    def dut(self, contract_lab: tuple[SimLab, SpawnedServer]) -> DeviceUnderTest:
        lab, server = contract_lab
        return _ServedDut(lab, "r2", neighbor_ip="10.255.23.2", peer_name="r3", server=server.address)


class _ServedDut(SimDut):
    def __init__(self, lab: SimLab, hostname: str, *, server: str, **kwargs: Any) -> None:
        self.server = server
        super().__init__(lab, hostname, **kwargs)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.optional_args = {"server": self.server}

    @property
    def peer(self) -> DeviceUnderTest:
        return _ServedDut(self.lab, self.peer_name, server=self.server)


# ------------------------------------------------------------------------------------------- verify


def _comparable(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    volatile = {"checked_utc", "duration_s", "worker"}
    return [{k: v for k, v in host.items() if k not in volatile} for host in report["hosts"]]


def test_verify_through_the_server_equals_verify_in_process(net: tuple[SimNet, SpawnedServer]) -> None:
    sim, server = net
    sim.lab.edit("r2", add=["ip route 10.99.0.0/24 blackhole"])
    code_here, here = sim.verify_json("--no-expectations")
    before = server.stats()
    _use_server(sim, server.address)
    code_there, there = sim.verify_json("--no-expectations")
    after = server.stats()
    assert code_here == code_there == 3
    assert _comparable(there) == _comparable(here)
    states = {h["host"]: h["state"] for h in there["hosts"]}
    assert states == {"r1": "in-sync", "r2": "drift", "r3": "in-sync", "r4": "in-sync"}
    drifted = next(h for h in there["hosts"] if h["host"] == "r2")
    assert "+ip route 10.99.0.0/24 blackhole" in drifted["diff"]
    # every device call of that verify was answered by the server: open + get_config per host
    assert after["calls"] - before["calls"] == 2 * 4
    assert after["sessions"] - before["sessions"] == 4
    assert _wait_for(server, "open_sessions", 0)["open_sessions"] == 0


def test_expectations_are_evaluated_through_the_server(net: tuple[SimNet, SpawnedServer]) -> None:
    sim, server = net
    sim.lab.edit("r3", remove=["neighbor 10.255.23.1 remote-as 65002"])  # r2's session to r3 goes down
    code_here, here = sim.verify_json()
    _use_server(sim, server.address)
    code_there, there = sim.verify_json()
    assert code_here == code_there
    assert _comparable(there) == _comparable(here)
    assert {h["host"]: h["state"] for h in there["hosts"]}["r2"] == "expectations-failed"


def test_latency_is_the_servers_device_time(net: tuple[SimNet, SpawnedServer]) -> None:
    sim, server = net
    for host in ("r1", "r2"):
        sim.lab.set_knobs(host, latency=0.05)
    sim.lab.set_knobs("r3", latency=0.2)
    _use_server(sim, server.address)
    before = server.stats()
    code, report = sim.verify_json("--no-expectations")
    after = server.stats()
    assert code == 0, report
    assert after["calls"] - before["calls"] == 8
    # open and get_config of each host answered with its latency (r4 has none)
    assert after["device_seconds"] - before["device_seconds"] == pytest.approx(2 * (0.05 + 0.05 + 0.2))


def test_a_server_gone_mid_run_makes_hosts_unreachable_not_drift(net: tuple[SimNet, SpawnedServer]) -> None:
    sim, server = net
    _use_server(sim, server.address)
    assert server.stop() == 0  # SIGTERM: a clean stop
    code, report = sim.verify_json("--no-expectations")
    assert code == 1
    assert {h["state"] for h in report["hosts"]} == {"unreachable"}
    assert all(server.address in h["message"] for h in report["hosts"]), report["hosts"][0]["message"]


# ------------------------------------------------------------------------------------------- sessions


def test_faults_and_state_are_the_labs(contract_lab: tuple[SimLab, SpawnedServer]) -> None:
    lab, server = contract_lab
    lab.set_knobs("r1", unreachable=True)
    try:
        with pytest.raises(napalm_exc.ConnectionException, match="unreachable"):
            _driver("r1", server.address).open()
    finally:
        lab.clear_knobs("r1")
    device = _driver("r1", server.address)
    device.open()
    try:
        lab.edit("r1", add=["ip route 10.98.0.0/24 blackhole"])  # out of band, in the lab's files
        assert "ip route 10.98.0.0/24 blackhole" in device.get_config(retrieve="running")["running"]
    finally:
        device.close()
        lab.set_running("r1", frr_config("r1"))
    with pytest.raises(napalm_exc.ConnectionException, match="no such sim device"):
        _driver("nosuch", server.address).open()


def test_server_survives_clients_that_hang_up(contract_lab: tuple[SimLab, SpawnedServer]) -> None:
    lab, server = contract_lab
    lab.set_knobs("r4", latency=0.2)
    try:
        sessions = server.stats()["open_sessions"]
        raw = _Raw(server)
        assert raw.ask({"op": "open", "host": "r4"})["ok"] is True
        raw.send({"op": "call", "method": "get_config", "args": [], "kwargs": {}})
        raw.close()  # gone while the server holds the answer back for the latency
        half = _Raw(server)
        assert half.ask({"op": "open", "host": "r4"})["ok"] is True
        half.send_bytes(struct.pack(">I", 100) + b'{"op":')  # gone in the middle of a frame
        half.close()
        assert _wait_for(server, "open_sessions", sessions)["open_sessions"] == sessions
        device = _driver("r4", server.address)
        device.open()
        assert device.get_config(retrieve="running")["running"] == lab.running("r4")
        device.close()
    finally:
        lab.clear_knobs("r4")


def test_bad_requests_get_a_clear_error(contract_lab: tuple[SimLab, SpawnedServer]) -> None:
    _, server = contract_lab
    raw = _Raw(server)
    try:
        reply = raw.ask({"op": "dance"})
        assert reply["error"]["type"] == "BadRequest"
        assert "unknown op 'dance'" in reply["error"]["message"]
        reply = raw.ask({"op": "call", "method": "get_config"})
        assert "no session on this connection" in reply["error"]["message"]
        reply = raw.ask({"op": "open", "host": "../etc"})
        assert "invalid sim device name" in reply["error"]["message"]
        assert raw.ask({"op": "open", "host": "r1"})["ok"] is True
        for method in ("_store", "__init__", "close_everything"):
            reply = raw.ask({"op": "call", "method": method})
            assert reply["error"]["type"] == "BadRequest"
            assert f"unknown method {method!r}" in reply["error"]["message"]
        reply = raw.ask({"op": "call", "method": "get_config", "args": {}, "kwargs": []})
        assert "args must be a list" in reply["error"]["message"]
        reply = raw.ask({"op": "call", "method": "get_config", "kwargs": {"format": "xml"}})
        assert reply["error"] == {
            "type": "NotImplementedError",
            "message": "sim: config format 'xml' (only 'text')",
        }
        reply = raw.ask({"op": "open", "host": "r2"})
        assert "already has a session with r1" in reply["error"]["message"]
        assert raw.ask({"op": "call", "method": "is_alive"})["error"]["type"] == "BadRequest"
        # still a working session after all that
        assert "hostname r1" in raw.ask({"op": "call", "method": "get_config"})["result"]["running"]
        raw.send_bytes(struct.pack(">I", 9) + b"not json!")
        reply = raw.receive()
        assert reply is not None
        assert reply["error"]["type"] == "ProtocolError"
        assert "not UTF-8 JSON" in reply["error"]["message"]
        assert raw.receive() is None  # a broken stream is closed after the answer
    finally:
        raw.close()
    huge = _Raw(server)
    try:
        huge.send_bytes(struct.pack(">I", 2**31))
        reply = huge.receive()
        assert reply is not None
        assert "frame of 2147483648 bytes announced" in reply["error"]["message"]
    finally:
        huge.close()
    assert server.stats()["calls"] >= 1  # and the server still answers


def test_driver_errors_name_the_server(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        _driver("r1", "localhost")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(
        napalm_exc.ConnectionException, match=f"cannot reach the sim server at 127.0.0.1:{port}"
    ):
        _driver("r1", f"127.0.0.1:{port}").open()


def test_server_refuses_a_folder_that_is_not_a_lab(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netimmutable.lab.sim_server", "--lab", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{tmp_path} is not a sim lab folder" in proc.stderr
