"""Clones and CI runners on one network (issue 13 item 7): device leases on the records remote, records
fetched before and pushed after every device-changing run. Two clones of a bare remote drive one sim lab."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner, Result

from netimmutable.cli import main
from netimmutable.deploy_model import ProgressEvent
from netimmutable.journal import Journal, journal_path
from netimmutable.leases import LeaseSet, lease_ref, lease_remote, parse_utc
from netimmutable.locks import device_lock
from netimmutable.records import RUNS_REF, good_ref
from tests.cli_process import read_until, spawn_cli
from tests.unit.review.conftest import Net

__all__: list[str] = []

LEASES = "refs/netimmutable/leases/"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _shared(net: Net, tmp_path: Path, *, lease_seconds: int | None = None) -> Path:
    """``net``'s repository gets a bare remote ``origin`` holding main and the records; returns the remote."""
    if lease_seconds is not None:
        settings = net.root / "netimmutable.yaml"
        text = settings.read_text().replace("deploy:\n", f"deploy:\n  lease_seconds: {lease_seconds}\n", 1)
        settings.write_text(text)
        net.commit(f"leases last {lease_seconds} s")
    remote = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    _git(net.root, "remote", "add", "origin", str(remote))
    _git(net.root, "push", "-q", "origin", "main")
    assert net.cli("records", "push", "origin").exit_code == 0
    return remote


def _clone(net: Net, remote: Path, tmp_path: Path, name: str = "clone-b") -> Path:
    """Another operator's clone of the remote, with the lab's connections (the same sim devices)."""
    other = tmp_path / name
    _git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(other))
    (other / ".netimmutable").mkdir()
    conn = net.root / ".netimmutable" / "connections.yaml"
    (other / ".netimmutable" / "connections.yaml").write_text(conn.read_text())
    return other


def _cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--repo", str(root)], catch_exceptions=False)


def _leases(remote: Path) -> list[str]:
    return _git(remote, "for-each-ref", "--format=%(refname)", LEASES).split()


def _lease(remote: Path, host: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(_git(remote, "show", f"{lease_ref(host)}:lease.json"))
    return data


def _journal_on(remote: Path, host: str) -> str:
    """The journal pushed with ``host``'s lease ("" while there is none)."""
    proc = subprocess.run(
        ["git", "-C", str(remote), "show", f"{lease_ref(host)}:journal.jsonl"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout if proc.returncode == 0 else ""


def test_a_lease_is_held_on_the_remote_while_the_run_lasts_and_released_after(
    net: Net, tmp_path: Path
) -> None:
    remote = _shared(net, tmp_path)
    release = net.announce("r1", "10.255.230.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    seen: list[dict[str, str]] = []

    def progress(event: ProgressEvent) -> None:
        if event.host == "r1" and not seen:
            seen.append(_lease(remote, "r1"))

    report = net.deploy(limit=("r1",), progress=progress)

    assert report.exit_code == 0, report
    assert seen and seen[0]["run_id"] == report.run_id and seen[0]["purpose"] == "deploy"
    assert seen[0]["holder"] == report.operator.split(" (")[0]
    assert parse_utc(seen[0]["expires_utc"]) > parse_utc(seen[0]["acquired_utc"])
    assert _leases(remote) == []  # released
    assert net.records().last_good("r1").release == release  # type: ignore[union-attr]


def test_without_a_records_remote_no_lease_is_taken(net: Net, tmp_path: Path) -> None:
    remote = _shared(net, tmp_path)
    settings = net.root / "netimmutable.yaml"
    settings.write_text(settings.read_text() + "records_remote: none\n")
    net.announce("r1", "10.255.231.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    _git(remote, "config", "receive.denyDeletes", "true")  # a lease release would fail loudly
    before = _git(remote, "for-each-ref")

    assert net.deploy(limit=("r1",)).exit_code == 0
    assert _git(remote, "for-each-ref") == before


def test_a_run_killed_in_one_clone_blocks_every_clone_and_is_recovered_from_another(
    net: Net, tmp_path: Path
) -> None:
    """Clone A's deploy holds r1's lease: clone B's deploy of r1 fails fast naming it; A is killed mid-change;
    its journal is on the remote with the lease; once the lease expired B's recover takes it over from that
    journal, rolls r1 back and releases the lease."""
    remote = _shared(net, tmp_path, lease_seconds=3)
    net.wrong_remote_as("r1", peer="10.255.12.2")  # r1's session to r2 never comes up: post-checks fail
    _git(net.root, "push", "-q", "origin", "main")
    clone_b = _clone(net, remote, tmp_path)
    proc = spawn_cli("deploy", "--yes", "--limit", "r1", "--settle-timeout", "50", "--repo", str(net.root))
    try:
        read_until(proc, "r1: post-check")
        lease = _lease(remote, "r1")

        started = time.monotonic()
        refused = _cli(clone_b, "deploy", "--yes", "--limit", "r1")
        took = time.monotonic() - started

        assert refused.exit_code == 1, refused.output
        said = " ".join(refused.output.split())
        assert f"r1 is leased on origin by run {lease['run_id']} (deploy) of {lease['holder']}" in said
        assert " until 20" in said  # its expiry (renewed since `lease` was read)
        assert took < 30, took
        deadline = time.monotonic() + 10  # the renewer pushes the journal once it grew
        while '"step": "commit"' not in _journal_on(remote, "r1"):
            assert time.monotonic() < deadline, "the run's journal never reached the remote"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert net.lab.has_pending("r1")  # killed after the commit, before the confirm
    expires = parse_utc(_lease(remote, "r1")["expires_utc"])
    time.sleep(max(0.0, expires - time.time()) + 1.1)

    again = _cli(clone_b, "deploy", "--yes", "--limit", "r1")
    assert again.exit_code == 1, again.output
    assert "expired" in again.output and "netimmutable recover" in again.output

    recovered = _cli(clone_b, "recover")

    assert recovered.exit_code == 4, recovered.output
    assert f"run {lease['run_id']}: journal taken from its expired lease" in recovered.output
    assert "rolled-back" in recovered.output
    assert net.lab.running("r1") == net.artifact(net.first, "r1")
    net.no_pending()
    assert _leases(remote) == []
    runs = _git(remote, "log", "--format=%s", RUNS_REF)
    assert runs.splitlines()[0].startswith("recover ")  # B's record pushed after the run


def test_records_are_fetched_before_and_pushed_after_every_run(net: Net, tmp_path: Path) -> None:
    remote = _shared(net, tmp_path)
    release = net.announce("r1", "10.255.232.0/24")
    _git(net.root, "push", "-q", "origin", "main")

    deployed = _cli(net.root, "deploy", "--yes", "--limit", "r1")  # no `records push`

    assert deployed.exit_code == 0, deployed.output
    assert _git(remote, "rev-parse", good_ref("r1")) == release
    clone_b = _clone(net, remote, tmp_path)
    assert _git(clone_b, "for-each-ref", "refs/netimmutable/") == ""  # a fresh clone has no records

    rolled = _cli(clone_b, "rollback", "--yes", "r2")  # no `records fetch`: r2's last good comes with it

    assert rolled.exit_code == 0, rolled.output
    assert _git(clone_b, "rev-parse", good_ref("r1")) == release
    assert _git(remote, "log", "-1", "--format=%s", RUNS_REF).startswith("rollback ")


def test_a_record_that_cannot_be_pushed_is_a_warning_and_exit_1(net: Net, tmp_path: Path) -> None:
    remote = _shared(net, tmp_path)
    net.announce("r1", "10.255.233.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\ngrep -q ' refs/netimmutable/runs$' && exit 1\nexit 0\n")
    hook.chmod(0o755)

    result = _cli(net.root, "deploy", "--yes", "--limit", "r1")

    assert "10.255.233.0/24" in net.lab.running("r1")  # deployed and verified...
    assert result.exit_code == 1, result.output  # ...but its record is only in this clone
    said = " ".join(result.output.split())
    assert "warning: the records of this run are not on origin" in said
    assert "netimmutable records push origin" in said
    assert _leases(remote) == []


def test_recover_forget_drops_the_lease_a_run_left_on_a_host(net: Net, tmp_path: Path) -> None:
    """A host left UNKNOWN keeps its lease; once a person checked it (`recover --forget`), other clones may
    change it again at once, not only after the lease expired and someone recovered it."""
    remote = _shared(net, tmp_path)
    with device_lock(net.repo, "r1", "run-left-r1-unknown") as lock:
        journal = Journal.open(net.repo, "run-left-r1-unknown", release=net.first)
        journal.before("r1", "commit", release=net.first, rollback_release=net.first)
        journal.abandon()
        lock.keep("run-left-r1-unknown left r1 unknown")
    path = journal_path(net.repo, "run-left-r1-unknown")
    head, *rest = path.read_text().splitlines()
    path.write_text("\n".join([json.dumps({**json.loads(head), "pid": 2**30}), *rest]) + "\n")  # it died
    assert _lease(remote, "r1")["kept"] == "run-left-r1-unknown left r1 unknown"
    clone_b = _clone(net, remote, tmp_path)
    assert _cli(clone_b, "deploy", "--yes", "--limit", "r1").exit_code == 1

    forgot = _cli(net.root, "recover", "--forget", "r1")

    assert forgot.exit_code == 0, forgot.output
    assert "its lease on the records remote removed" in forgot.output
    assert _leases(remote) == []
    assert _cli(clone_b, "deploy", "--yes", "--limit", "r1").exit_code == 0


def test_a_run_killed_before_its_journal_reached_the_remote_is_recovered_from_another_clone(
    net: Net, tmp_path: Path
) -> None:
    """Clone A's run took r1's lease and died before the renewer pushed its journal: clone B's recover
    inspects r1 (back on its last-good release: verified), releases the lease, and B deploys again."""
    remote = _shared(net, tmp_path)
    lease_set = lease_remote(net.repo)
    assert lease_set is not None
    past = time.time() - 600
    leases = LeaseSet(lease_set, ["r1"], "run-died-at-once", "deploy", seconds=60, clock=lambda: past)
    leases._base = replace(leases._base, pid=2**30)  # its holder: a process that died
    leases.acquire()
    clone_b = _clone(net, remote, tmp_path)
    assert "expired" in _cli(clone_b, "deploy", "--yes", "--limit", "r1").output

    recovered = _cli(clone_b, "recover")

    assert recovered.exit_code == 0, recovered.output
    assert "r1: leased by a stopped run, not in its journal: inspected" in recovered.output
    assert "reverted        back on last-good release" in recovered.output
    assert _leases(remote) == []
    assert _cli(clone_b, "deploy", "--yes", "--limit", "r1").exit_code == 0


def test_an_unreachable_records_remote_stops_the_run_before_any_device_and_can_be_switched_off(
    net: Net, tmp_path: Path
) -> None:
    _shared(net, tmp_path)
    net.announce("r1", "10.255.234.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    _git(net.root, "remote", "set-url", "origin", str(tmp_path / "gone.git"))  # the remote is down
    before = net.lab.state("r1").generation

    down = _cli(net.root, "deploy", "--yes", "--limit", "r1")

    assert down.exit_code == 1, down.output
    said = " ".join(down.output.split())
    assert "fetching records from origin failed" in said and "nothing was touched" in said
    assert "git config netimmutable.recordsRemote none" in said
    assert net.lab.state("r1").generation == before
    _git(net.root, "config", "netimmutable.recordsRemote", "none")  # an emergency: this clone goes alone
    alone = _cli(net.root, "deploy", "--yes", "--limit", "r1")
    assert alone.exit_code == 0, alone.output
    assert "10.255.234.0/24" in net.lab.running("r1")


def test_a_run_that_loses_a_lease_starts_no_further_host(net: Net, tmp_path: Path) -> None:
    # another clone took r4's lease over (this run stalled past its expiry): the window stops as on Ctrl-C
    remote = _shared(net, tmp_path, lease_seconds=3)  # renewed every second
    net.announce("r1", "10.255.240.0/24")
    net.announce("r4", "10.255.241.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    taken: list[str] = []
    said: list[str] = []

    def progress(event: ProgressEvent) -> None:
        said.append(event.message)
        if event.host == "r1" and event.outcome is not None and not taken:
            empty_tree = _git(remote, "hash-object", "-w", "-t", "tree", "/dev/null")
            theirs = _git(remote, "commit-tree", "-m", "another clone's lease", empty_tree)
            _git(remote, "update-ref", lease_ref("r4"), theirs)
            taken.append(theirs)
            deadline = time.monotonic() + 10  # the renewer finds out within a second or two
            while not any("lost its lease" in m for m in said) and time.monotonic() < deadline:
                time.sleep(0.1)

    report = net.deploy(canary="r1", batch_size=4, progress=progress)

    r1, r4 = report.host("r1"), report.host("r4")
    assert r1 is not None and r1.outcome.ok, r1
    assert r4 is not None and r4.outcome.value == "skipped" and "the lease of r4 was lost" in r4.message, r4
    assert report.stopped == "interrupted (the lease of r4 was lost)"
    assert net.lab.running("r4") == net.artifact(net.first, "r4")  # never touched
    assert _git(remote, "rev-parse", lease_ref("r4")) == taken[0]  # their lease stays theirs


def test_verify_in_another_clone_reports_a_leased_host_in_flight_not_drift(net: Net, tmp_path: Path) -> None:
    # clone A's run holds r1 (its lease on the remote) and has changed it; clone B's scheduled verify runs
    remote = _shared(net, tmp_path)
    lease_set = lease_remote(net.repo)
    assert lease_set is not None
    leases = LeaseSet(lease_set, ["r1"], "run-of-clone-a", "deploy", seconds=300)
    leases.acquire()
    net.lab.edit("r1", add=["ip route 10.9.0.0/24 blackhole"])  # mid-change, as the device sees it
    clone_b = _clone(net, remote, tmp_path)
    assert _cli(clone_b, "records", "fetch", "origin").exit_code == 0

    verified = _cli(clone_b, "verify", "--format", "json")

    hosts = {h["host"]: h for h in json.loads(verified.stdout)["hosts"]}
    assert hosts["r1"]["state"] == "in-flight", hosts["r1"]
    assert "run-of-clone-a" in hosts["r1"]["message"]
    assert {hosts[h]["state"] for h in ("r2", "r3", "r4")} == {"in-sync"}
    leases.release()
