"""``plan --cluster`` against real ``dask scheduler`` / ``dask worker`` processes on 127.0.0.1 (sim devices),
and a scheduler that cannot be reached (``plan`` and ``verify`` fail fast, before any device or file)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from netimmutable.plan import load_plan
from tests.cluster_procs import DaskProcs, WorkerSpec, dask_cluster
from tests.unit.netrepo_helpers import run_cli
from tests.unit.records_fixtures import GOOD_CHANGE, make_net, release

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def one_worker() -> Iterator[DaskProcs]:
    with dask_cluster([WorkerSpec("w-plan")]) as procs:
        yield procs


def test_plan_on_the_cluster_equals_the_plan_in_process_and_names_the_worker(
    tmp_path: Path, one_worker: DaskProcs
) -> None:
    net = make_net(tmp_path)
    release(net.root, "r1 description", GOOD_CHANGE)
    before = {h: net.lab.state(h) for h in ("r1", "r2", "r3", "r4")}
    saved = tmp_path / "plan.json"
    args = ["plan", "--repo", str(net.root), "--format", "json"]
    remote = run_cli([*args, "--cluster", one_worker.address, "--save", str(saved)])
    local = run_cli(args)
    assert remote.exit_code == local.exit_code == 3, remote.output
    remote_hosts = json.loads(remote.stdout)["hosts"]
    local_hosts = json.loads(local.stdout)["hosts"]
    assert [h["worker"] for h in remote_hosts] == ["w-plan"] * 4
    assert all("worker" not in h for h in local_hosts)  # in process: absent
    assert [{k: v for k, v in h.items() if k != "worker"} for h in remote_hosts] == local_hosts
    assert "+ description to r2 link" in remote_hosts[0]["diff"]
    for host, state in before.items():  # load, compare, discard: nothing committed, nothing pending
        assert net.lab.running(host) == state.running
        assert not net.lab.has_pending(host)
    assert [h.worker for h in load_plan(saved).hosts] == ["w-plan"] * 4
    text = run_cli(["plan", "--repo", str(net.root), "--cluster", one_worker.address, "--limit", "r1"])
    assert text.exit_code == 3 and "[worker w-plan]" in text.stdout


def _dead_address() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("command", ["plan", "verify"])
def test_an_unreachable_scheduler_fails_fast_before_anything(tmp_path: Path, command: str) -> None:
    net = make_net(tmp_path)
    settings = net.root / "netimmutable.yaml"
    settings.write_text(settings.read_text() + "cluster:\n  connect_timeout: 1\n")
    address = _dead_address()
    state_file = net.root / ".netimmutable" / "verify-state.json"
    existed = state_file.exists()
    net.lab.set_knobs("r1", fail_step="open", fail_exception="ConnectionException", fail_times=5)
    result = run_cli([command, "--repo", str(net.root), "--cluster", address])
    assert result.exit_code == 1
    assert address in result.stderr and "cluster.address" in result.stderr and "--cluster" in result.stderr
    assert result.stdout == ""
    assert state_file.exists() == existed  # verify stored no outcome
    assert net.lab.knobs("r1").fail_times == 5  # nothing opened the device (each open counts one down)
    run_cli(["plan", "--repo", str(net.root), "--limit", "r1"])  # what opening it does to the count
    assert net.lab.knobs("r1").fail_times == 5 - 3  # three connect attempts
