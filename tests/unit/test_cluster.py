"""The cluster engine (``netimmutable.cluster``) against real ``dask scheduler`` / ``dask worker`` processes
on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nornir.core.inventory import ConnectionOptions, Host

from netimmutable.cluster import (
    Cluster,
    ClusterError,
    ClusterOptions,
    TaskOutcome,
    host_from_payload,
    host_payload,
    site_resource,
)
from netimmutable.connections import CONNECTION
from tests.cluster_procs import DaskProcs, WorkerSpec, dask_cluster
from tests.unit import cluster_tasks

pytest.importorskip("distributed")


def _host(name: str, site: str | None = None, password: str | None = "s3cret-pw") -> Host:  # noqa: S107 - a test value
    host = Host(name=name, hostname=f"{name}.example", platform="eos", data={"site": site} if site else {})
    host.connection_options[CONNECTION] = ConnectionOptions(
        hostname=host.hostname,
        port=443,
        username="ops",
        platform="eos",
        extras={"optional_args": {"transport": "https", "password": "leak"}, "timeout": 30},
    )
    host.password = password
    return host


def test_payload_carries_no_password_and_the_worker_uses_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = host_payload(_host("r1", "lon1"))
    assert "s3cret-pw" not in repr(payload)
    assert "leak" not in repr(payload)
    assert payload["extras"] == {"optional_args": {"transport": "https"}, "timeout": 30}
    monkeypatch.setenv("NETIMMUTABLE_PASSWORD_R1", "worker-own")
    host = host_from_payload(payload)
    assert (host.name, host.hostname, host.port, host.username, host.platform) == (
        "r1",
        "r1.example",
        443,
        "ops",
        "eos",
    )
    assert host.password == "worker-own"
    assert host["site"] == "lon1"
    params = host.get_connection_parameters(CONNECTION)
    assert params.platform == "eos" and params.extras == {
        "optional_args": {"transport": "https"},
        "timeout": 30,
    }


def test_unreachable_scheduler_fails_fast_naming_the_address_and_setting() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(ClusterError) as caught:
        Cluster.connect(ClusterOptions(address, connect_timeout=1.0))
    assert time.monotonic() - started < 30
    assert address in str(caught.value)
    assert "cluster.address" in str(caught.value) and "--cluster" in str(caught.value)


@pytest.fixture(scope="module")
def two_sites() -> Iterator[DaskProcs]:
    workers = [
        WorkerSpec("w-lon", resources={site_resource("lon1"): 100}),
        WorkerSpec("w-par", resources={site_resource("par1"): 100}),
    ]
    with dask_cluster(workers, env={"NETIMMUTABLE_PASSWORD": "from-worker-env"}) as procs:
        yield procs


def test_site_affinity_worker_names_and_worker_credentials(two_sites: DaskProcs) -> None:
    hosts = {"a1": "lon1", "a2": "lon1", "b1": "par1", "any": None, "c1": "nyc1"}
    payloads = {name: host_payload(_host(name, site, password=None)) for name, site in hosts.items()}
    seen: list[str] = []
    with Cluster.connect(ClusterOptions(two_sites.address)) as cluster:
        out = cluster.map_hosts(
            cluster_tasks.describe,
            payloads,
            sites=hosts,
            reschedule_lost=True,
            on_done=lambda o: seen.append(o.host),
        )
    assert sorted(seen) == sorted(hosts)
    assert {h: o.worker for h, o in out.items() if h != "c1"} == {
        "a1": "w-lon",
        "a2": "w-lon",
        "b1": "w-par",
        "any": out["any"].worker,
    }
    assert out["any"].worker in {"w-lon", "w-par"}
    for name in ("a1", "a2", "b1", "any"):
        value = out[name].value
        assert value is not None and not out[name].error and not out[name].lost
        assert value["pid"] == two_sites.pids[out[name].worker]
        assert value["password"] == "from-worker-env"  # the test process has no such variable
        assert value["site"] == hosts[name]
    assert "NETIMMUTABLE_PASSWORD" not in os.environ
    c1 = out["c1"]
    assert c1.value is None and c1.worker == "" and not c1.lost
    assert "host c1" in c1.error and "nyc1" in c1.error and site_resource("nyc1") in c1.error


def test_an_exception_in_the_task_is_data_with_the_worker(two_sites: DaskProcs) -> None:
    with Cluster.connect(ClusterOptions(two_sites.address)) as cluster:
        out = cluster.map_hosts(
            cluster_tasks.boom, {"x": {"name": "x"}}, sites={"x": "par1"}, reschedule_lost=False
        )
    assert out["x"].worker == "w-par" and not out["x"].lost and out["x"].value is None
    first, rest = out["x"].error.split("\n", 1)
    assert first == "ValueError: bad payload for x"
    assert "Traceback" in rest and "cluster_tasks.py" in rest


def _kill_when_started(procs: DaskProcs, victim: str, marks: Path) -> threading.Thread:
    """Kill ``victim`` (SIGKILL) as soon as a task has started on it."""
    pid = procs.pids[victim]

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(p.suffix == f".{pid}" for p in marks.iterdir()):
                procs.kill(victim)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _run_with_a_kill(
    tmp_path: Path, reschedule_lost: bool
) -> tuple[DaskProcs, dict[str, TaskOutcome[dict[str, int]]], int]:
    marks = tmp_path / "marks"
    marks.mkdir()
    payloads = {f"h{i}": {"name": f"h{i}", "marks": str(marks), "sleep": 2.0} for i in range(4)}
    with dask_cluster([WorkerSpec("w-1", nthreads=2), WorkerSpec("w-2", nthreads=2)]) as procs:
        victim_pid = procs.pids["w-1"]
        watcher = _kill_when_started(procs, "w-1", marks)
        with Cluster.connect(ClusterOptions(procs.address, connect_timeout=5.0)) as cluster:
            out = cluster.map_hosts(cluster_tasks.slow, payloads, sites={}, reschedule_lost=reschedule_lost)
        watcher.join(timeout=30)
        assert procs.workers["w-1"].poll() is not None, "the worker was never killed"
    return procs, out, victim_pid


def _attempts(marks: Path, host: str) -> list[int]:
    return sorted(int(p.suffix[1:]) for p in marks.iterdir() if p.stem == host)


def test_a_killed_worker_s_hosts_are_rescheduled_when_allowed(tmp_path: Path) -> None:
    procs, out, victim = _run_with_a_kill(tmp_path, reschedule_lost=True)
    assert sorted(out) == ["h0", "h1", "h2", "h3"]
    for outcome in out.values():
        assert not outcome.lost and not outcome.error, outcome
        assert outcome.worker == "w-2"  # w-1 died before any of its hosts finished
        assert outcome.value == {"pid": procs.pids["w-2"]}
    rerun = [h for h in out if victim in _attempts(tmp_path / "marks", h)]
    assert rerun, "no host had started on the killed worker"
    for host in rerun:
        assert _attempts(tmp_path / "marks", host) == sorted([victim, procs.pids["w-2"]])


def test_a_killed_worker_s_hosts_are_lost_never_run_twice(tmp_path: Path) -> None:
    procs, out, victim = _run_with_a_kill(tmp_path, reschedule_lost=False)
    marks = tmp_path / "marks"
    started_on_victim = {h for h in out if victim in _attempts(marks, h)}
    assert started_on_victim
    for host, outcome in out.items():
        assert len(_attempts(marks, host)) == 1, f"{host} ran twice"
        if host in started_on_victim:
            assert outcome.lost and outcome.worker == "w-1" and outcome.value is None, outcome
            assert "w-1" in outcome.error
        else:
            assert not outcome.lost and outcome.worker == "w-2", outcome
            assert outcome.value == {"pid": procs.pids["w-2"]}


def test_a_dead_scheduler_ends_the_run_with_every_unfinished_host_lost(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    payloads = {f"h{i}": {"name": f"h{i}", "marks": str(marks), "sleep": 3.0} for i in range(4)}
    with dask_cluster([WorkerSpec("w-1", nthreads=4)]) as procs:

        def kill_scheduler() -> None:
            deadline = time.monotonic() + 120
            while not any(marks.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(procs.scheduler_pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_scheduler, daemon=True)
        killer.start()
        with Cluster.connect(ClusterOptions(procs.address, connect_timeout=5.0)) as cluster:
            out = cluster.map_hosts(cluster_tasks.slow, payloads, sites={}, reschedule_lost=False)
        killer.join(timeout=30)
    assert sorted(out) == sorted(payloads)
    for outcome in out.values():
        assert outcome.lost and outcome.value is None, outcome
        assert "connection to the scheduler was lost" in outcome.error


def test_payload_data_keys_are_resolved_through_groups() -> None:
    from nornir.core.inventory import Defaults, Group, ParentGroups

    group = Group(name="lon", data={"site": "lon1", "role": "edge"})
    host = _host("r9")
    host.groups = ParentGroups([group])
    host.defaults = Defaults(data={"tier": 2})
    assert host_payload(host, data_keys=("site", "tier", "missing"))["data"] == {"site": "lon1", "tier": 2}
    assert host_payload(host, data_keys=())["data"] == {}
    assert host_payload(host)["data"] == {"site": "lon1", "role": "edge", "tier": 2}
    assert host_payload(host)["groups"] == ["lon"]
