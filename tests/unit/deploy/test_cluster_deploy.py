"""``deploy --cluster``: host pipelines on real ``dask worker`` processes (127.0.0.1), sim devices.

The coordinator (this test process) is the only writer of git, records, journal and locks; workers open the
devices with their own credentials and resolve config secrets from their own environment. A worker
SIGKILLed mid-change: the host is never run again, ends UNKNOWN naming the worker, its journal entry and
lock kept, and ``netimmutable recover`` settles it afterwards.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netimmutable.cluster import ClusterError
from netimmutable.deploy_model import ProgressEvent
from netimmutable.journal import unfinished
from netimmutable.locks import list_locks
from netimmutable.outcomes import Cause, HostOutcome
from tests.cluster_procs import DaskProcs, WorkerSpec, dask_cluster
from tests.unit.deploy.conftest import Net

pytest.importorskip("distributed")

PASSWORD_LINE = (
    " neighbor {{ n.address }} password "
    '{{ secret("bgp/" ~ ([host.name, n.description] | sort | join("-"))) }}\n'
)
SESSIONS = ("bgp/r1-r2", "bgp/r1-r4", "bgp/r2-r3", "bgp/r3-r4")


def _variable(name: str) -> str:
    return "NETIMMUTABLE_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _commits(net: Net, host: str, since: float) -> int:
    return sum(1 for e in net.lab.state(host).history if e.kind == "commit" and e.at >= since)


def _journal_lines(net: Net, run_id: str) -> list[dict[str, Any]]:
    [path] = list((net.root / ".git" / "netimmutable" / "journal").glob(f"{run_id}.jsonl"))
    return [json.loads(line) for line in path.read_text().splitlines()]


def _secret_values() -> dict[str, str]:
    return {name: f"pw-{name[4:]}-{os.getpid()}" for name in SESSIONS}


@pytest.fixture
def secrets_values() -> dict[str, str]:
    return _secret_values()


def _add_passwords(net: Net, line: str = PASSWORD_LINE) -> None:
    template = net.root / "templates" / "frr" / "bgp.j2"
    text = template.read_text()
    anchor = " neighbor {{ n.address }} timers connect"
    assert anchor in text
    template.write_text(text.replace(anchor, line + anchor, 1))


def _workers(values: dict[str, str]) -> Iterator[DaskProcs]:
    """Two workers whose environment (theirs only) holds the BGP session passwords."""
    env = {_variable(name): value for name, value in values.items()}
    with dask_cluster([WorkerSpec("w1", nthreads=2), WorkerSpec("w2", nthreads=2)], env=env) as procs:
        yield procs


@pytest.fixture
def two_workers(secrets_values: dict[str, str]) -> Iterator[DaskProcs]:
    """For a test that kills one of them."""
    yield from _workers(secrets_values)


@pytest.fixture(scope="module")
def shared_workers() -> Iterator[DaskProcs]:
    """For the tests that leave the workers as they were (started once for the module)."""
    yield from _workers(_secret_values())


def test_deploy_on_two_workers_coordinator_writes_everything(
    net: Net, shared_workers: DaskProcs, secrets_values: dict[str, str]
) -> None:
    for name in SESSIONS:
        assert _variable(name) not in os.environ  # only the workers have the secrets
    _add_passwords(net)
    new = net.commit("bgp session passwords")
    since = time.time()

    report = net.deploy(cluster=shared_workers.address, batch_size=2)

    assert report.exit_code == 0, [(h.host, h.outcome, h.message) for h in report.hosts]
    assert {h.host: h.outcome for h in report.hosts} == dict.fromkeys(
        ("r1", "r2", "r3", "r4"), HostOutcome.DEPLOYED
    )
    assert {h.worker for h in report.hosts} <= {"w1", "w2"} and all(h.worker for h in report.hosts)
    assert [h["worker"] for h in report.to_json()["hosts"]] == [h.worker for h in report.hosts]
    for host in ("r1", "r2", "r3", "r4"):  # the devices got the values the workers resolved
        assert _commits(net, host, since) == 1
        running = net.lab.running(host)
        assert any(value in running for value in secrets_values.values()), host
        assert not net.lab.has_pending(host)
    # records and journal: written by the coordinator, for every host
    records = net.records()
    assert all(records.last_good(h).release == new for h in ("r1", "r2", "r3", "r4"))  # type: ignore[union-attr]
    lines = _journal_lines(net, report.run_id)
    assert lines[0]["type"] == "open" and lines[0]["pid"] == os.getpid()
    assert lines[-1]["type"] == "close"
    for host in ("r1", "r2", "r3", "r4"):
        steps = [(e["type"], e.get("step")) for e in lines if e.get("host") == host]
        assert ("before", "commit") in steps and ("before", "confirm") in steps and ("finish", None) in steps
    # progress came through the coordinator, every host to its end
    done = {e.host for e in net.events if e.outcome is HostOutcome.DEPLOYED}
    assert done == {"r1", "r2", "r3", "r4"}
    # no secret value in the journal, the records, the report or the workers' logs
    haystack = "\n".join(
        [
            json.dumps(lines),
            json.dumps(report.to_json()),
            shared_workers.log("w1"),
            shared_workers.log("w2"),
            shared_workers.log("scheduler"),
        ]
    )
    assert not [n for n, v in secrets_values.items() if v in haystack]
    assert "Exception while handling" not in shared_workers.log(
        "scheduler"
    )  # the channel's gets never time out
    assert list_locks(net.repo) == [] and unfinished(net.repo) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_scheduler_fails_before_any_lock_or_device(net: Net) -> None:
    settings = net.root / "netimmutable.yaml"
    settings.write_text(settings.read_text() + "cluster:\n  connect_timeout: 1\n")
    net.announce("r2", "10.99.0.0/24")
    since = time.time()
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ClusterError) as caught:
        net.deploy(cluster=address)
    assert address in caught.value.message and "--cluster" in (caught.value.hint or "")
    assert list_locks(net.repo) == []
    assert not (net.root / ".git" / "netimmutable" / "journal").exists() or not any(
        p.read_text()
        for p in (net.root / ".git" / "netimmutable" / "journal").glob("*.jsonl")
        if p.stat().st_mtime >= since
    )
    assert all(_commits(net, h, since) == 0 for h in ("r1", "r2", "r3", "r4"))
    result = net.cli("deploy", "--cluster", address, "--yes")
    assert result.exit_code == 1 and address in result.output
    report = net.deploy()  # in process, as always without --cluster
    assert report.exit_code == 0 and [h.worker for h in report.hosts] == ["", "", "", ""]
    assert [h["worker"] for h in report.to_json()["hosts"]] == [None, None, None, None]


def _running_worker(address: str, key_part: str) -> str:
    """The name of the worker processing the task whose key holds ``key_part``."""
    from distributed import Client

    with Client(address, timeout=10, set_as_default=False) as client:
        names = {a: str(w.get("name")) for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
        for worker, keys in client.processing().items():
            if any(key_part in str(k) for k in keys):
                return names[worker]
    return ""


def test_worker_killed_mid_soak_host_is_unknown_never_rerun_then_recovered(
    net: Net, two_workers: DaskProcs
) -> None:
    new = net.announce("r2", "10.99.0.0/24")
    since = time.time()
    killed: list[str] = []

    def kill_when_soaking(event: ProgressEvent) -> None:
        net.events.append(event)
        if event.host == "r2" and "soaking" in event.message and not killed:
            killed.append("")

            def kill() -> None:
                name = _running_worker(two_workers.address, "-r2")
                killed[0] = name
                two_workers.kill(name)

            threading.Thread(target=kill, daemon=True).start()

    report = net.deploy(
        cluster=two_workers.address, limit=("r2",), soak=12.0, revert_in=60, progress=kill_when_soaking
    )

    assert killed and killed[0] in ("w1", "w2"), net.events
    [r2] = report.hosts
    assert r2.outcome is HostOutcome.UNKNOWN and r2.cause is Cause.WORKER_LOST, r2.message
    assert r2.worker == killed[0] and f"worker {killed[0]} died" in r2.message
    assert "netimmutable recover" in r2.message and "before confirm" not in r2.message
    assert report.exit_code == 5
    assert _commits(net, "r2", since) == 1  # never run a second time
    assert net.lab.has_pending("r2")  # the device's revert timer still guards the change
    [lock] = list_locks(net.repo)
    assert lock.info is not None and lock.info.kept and lock.info.run_id == report.run_id
    assert [f.host for f in unfinished(net.repo)] == ["r2"]
    steps = [(e["type"], e.get("step")) for e in _journal_lines(net, report.run_id) if e.get("host") == "r2"]
    assert ("before", "commit") in steps and ("before", "confirm") not in steps
    assert ("unresolved", None) in steps

    result = net.cli("recover", "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"outcome": "deployed"' in result.stdout
    assert not net.lab.has_pending("r2") and _commits(net, "r2", since) == 1
    assert net.lab.running("r2") == net.lab.startup("r2")
    good = net.records().last_good("r2")
    assert good is not None and good.release == new
    assert list_locks(net.repo) == [] and unfinished(net.repo) == []


def test_a_failing_canary_rolls_back_on_its_worker_and_stops_the_window(
    net: Net, shared_workers: DaskProcs
) -> None:
    net.wrong_remote_as("r2")
    since = time.time()
    result = net.cli("deploy", "--cluster", shared_workers.address, "--canary", "r2", "--yes")
    assert result.exit_code == 4, result.output
    assert re.search(r"r2\s+rolled-back\s+\S+\s+\S+s\s+w[12]\s", result.stdout), result.stdout
    assert "the canary failed" in result.stdout
    assert all(_commits(net, h, since) == 0 for h in ("r1", "r3", "r4"))  # no other host touched
    assert _commits(net, "r2", since) >= 1 and not net.lab.has_pending("r2")
    assert "65009" not in net.lab.running("r2")  # back on its last-good
    assert list_locks(net.repo) == [] and unfinished(net.repo) == []

    [run] = net.records().runs(limit=1)
    assert f"--cluster={shared_workers.address}" in run.flags

    settings = net.root / "netimmutable.yaml"  # the setting instead of the flag
    settings.write_text(settings.read_text() + f"cluster:\n  address: {shared_workers.address}\n")
    net.announce("r1", "10.99.0.0/24")
    result = net.cli("deploy", "--limit", "r1", "--yes", "--format", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["hosts"][0]["worker"] in ("w1", "w2"), result.output


def test_the_coordinators_full_disk_before_the_commit_stops_the_workers_commit(
    net: Net, shared_workers: DaskProcs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker waits for the coordinator's journal entry: the coordinator cannot write it (ENOSPC), so
    the commit is not taken on the worker's device."""
    import errno

    from netimmutable import journal as journal_module

    net.announce("r1", "10.99.0.0/24")
    before = net.lab.running("r1")
    since = time.time()
    real = os.write

    def write(fd: int, data: Any) -> int:
        if b'"step": "commit", "type": "before"' in bytes(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(journal_module.os, "write", write)
    report = net.deploy(cluster=shared_workers.address, limit=("r1",))
    monkeypatch.undo()
    [r1] = report.hosts
    assert r1.outcome is HostOutcome.FAILED and r1.cause is Cause.JOURNAL, r1.message
    assert "not changed" in r1.message and "journal could not be written" in r1.message
    assert r1.worker in ("w1", "w2") and report.exit_code == 1
    assert _commits(net, "r1", since) == 0 and net.lab.running("r1") == before
    assert not net.lab.has_pending("r1")
    assert list_locks(net.repo) == [] and unfinished(net.repo) == []


def test_a_secret_no_worker_has_fails_the_host_before_it_is_touched(
    net: Net, shared_workers: DaskProcs
) -> None:
    _add_passwords(net, " neighbor {{ n.address }} password {{ secret('bgp/nobody-has-it') }}\n")
    net.commit("a password nobody has")
    since = time.time()
    report = net.deploy(cluster=shared_workers.address)
    assert report.exit_code == 1
    refused = [h for h in report.hosts if h.outcome is HostOutcome.REFUSED]
    assert len(refused) == 1 and refused[0] is report.hosts[0], [(h.host, h.outcome) for h in report.hosts]
    assert refused[0].cause is Cause.PREFLIGHT and "refused before any change" in refused[0].message
    assert "NETIMMUTABLE_SECRET_BGP_NOBODY_HAS_IT" in refused[0].message
    assert refused[0].worker in ("w1", "w2")
    assert any(e.host == refused[0].host and e.outcome is HostOutcome.REFUSED for e in net.events)
    assert report.stopped.startswith("the canary failed")
    assert all(_commits(net, h, since) == 0 for h in ("r1", "r2", "r3", "r4"))
    assert list_locks(net.repo) == [] and unfinished(net.repo) == []


def test_ctrl_c_on_the_coordinator_reaches_the_worker_mid_soak(net: Net, shared_workers: DaskProcs) -> None:
    """A Ctrl-C delivered through the coordinator's progress display cancels the run; the worker sees it
    (the channel's cancel event) and cuts the soak short: the change is rolled back and verified."""
    net.announce("r3", "10.99.0.0/24")
    before = net.lab.running("r3")
    pressed: list[bool] = []

    def press_ctrl_c(event: ProgressEvent) -> None:
        net.events.append(event)
        if event.host == "r3" and "soaking" in event.message and not pressed:
            pressed.append(True)
            raise KeyboardInterrupt

    report = net.deploy(
        cluster=shared_workers.address, limit=("r3",), soak=120.0, revert_in=300, progress=press_ctrl_c
    )
    assert pressed
    [r3] = report.hosts
    assert r3.outcome is HostOutcome.ROLLED_BACK, r3.message
    assert "interrupted (Ctrl-C) during the soak" in r3.message  # the reason came through the channel too
    assert r3.worker in ("w1", "w2")
    assert report.interrupted and report.exit_code == 4
    # without the cancel reaching the worker, the checks would have held through the soak: deployed
    assert net.lab.running("r3") == before and not net.lab.has_pending("r3")
    assert list_locks(net.repo) == [] and unfinished(net.repo) == []


def test_site_affinity_runs_a_host_only_on_a_worker_of_its_site(net: Net) -> None:
    settings = net.root / "netimmutable.yaml"
    settings.write_text(settings.read_text() + "cluster:\n  site_key: asn\n")
    net.change_all()
    since = time.time()
    with dask_cluster([WorkerSpec("w-as65002", resources={"site-65002": 10})]) as procs:
        report = net.deploy(cluster=procs.address, canary="r2")
    by_host = {h.host: h for h in report.hosts}
    assert by_host["r2"].outcome is HostOutcome.DEPLOYED and by_host["r2"].worker == "w-as65002"
    others = [by_host[h] for h in ("r1", "r3", "r4")]
    unreachable = [h for h in others if h.outcome is HostOutcome.UNREACHABLE]
    assert unreachable and all(not h.worker for h in unreachable), others
    assert all(f"site-{h.host.replace('r', '6500')}" in h.message for h in unreachable)
    # the failure budget (1) is spent by the first of them: the window stops as in process
    assert all(h.cause is Cause.NOT_ATTEMPTED for h in others if h not in unreachable)
    assert report.stopped.startswith("failure budget spent") and report.exit_code == 1
    assert _commits(net, "r2", since) == 1
    assert all(_commits(net, h, since) == 0 for h in ("r1", "r3", "r4"))
    assert list_locks(net.repo) == [] and unfinished(net.repo) == []


def test_a_saved_plan_pins_the_hosts_on_the_workers_too(
    net: Net, shared_workers: DaskProcs, tmp_path: Path
) -> None:
    """The plan's check goes to the worker with the job: a device changed since the plan is refused there."""
    net.announce("r1", "10.99.0.0/24")
    plan = tmp_path / "plan.json"
    assert net.cli("plan", "--save", str(plan)).exit_code == 3
    net.lab.edit("r1", add=["! changed by hand since the plan"])
    since = time.time()
    report = net.deploy(cluster=shared_workers.address, plan_file=str(plan), limit=("r1",), force_drift=True)
    [r1] = report.hosts
    assert r1.outcome is HostOutcome.REFUSED and r1.cause is Cause.PLAN, r1.message
    assert r1.worker in ("w1", "w2") and _commits(net, "r1", since) == 0
    assert list_locks(net.repo) == [] and unfinished(net.repo) == []
