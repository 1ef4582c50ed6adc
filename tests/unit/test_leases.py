"""Device leases on a records remote (issue 13): compare-and-swap refs on a bare remote shared by clones."""

from __future__ import annotations

import functools
import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from netimmutable.errors import LeaseError, LeaseHeld
from netimmutable.journal import unfinished_runs
from netimmutable.leases import (
    Expired,
    LeaseRemote,
    LeaseSet,
    import_journals,
    lease_ref,
    lease_remote,
    records_remote,
)
from netimmutable.repo import NetworkRepo
from netimmutable.settings import Settings

__all__: list[str] = []


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, NetworkRepo, NetworkRepo]:
    """A bare remote and two clones of it (``origin``), as two operators' machines would have."""
    remote = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    repos = []
    for name in ("a", "b"):
        _git(tmp_path, "clone", "-q", str(remote), str(tmp_path / name))
        repos.append(NetworkRepo(tmp_path / name, Settings()))
    return remote, repos[0], repos[1]


def _remote(repo: NetworkRepo) -> LeaseRemote:
    remote = lease_remote(repo)
    assert remote is not None
    return remote


def _lease(remote: Path, host: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(_git(remote, "show", f"{lease_ref(host)}:lease.json"))
    return data


def _leases_on(remote: Path) -> list[str]:
    return _git(remote, "for-each-ref", "--format=%(refname)", "refs/netimmutable/leases/").split()


def _at_once(calls: list[Callable[[], None]]) -> None:
    """Run ``calls`` in threads released at the same moment; return when all are done."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], None]) -> None:
        barrier.wait()
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_a_second_clone_fails_fast_naming_holder_run_and_expiry_and_takes_nothing(
    clones: tuple[Path, NetworkRepo, NetworkRepo],
) -> None:
    remote, a, b = clones
    held = LeaseSet(_remote(a), ["r1", "r2"], "run-a", "deploy", seconds=60).acquire()
    lease = _lease(remote, "r1")
    assert (lease["run_id"], lease["purpose"], lease["holder"].split("@")[1]) == (
        "run-a",
        "deploy",
        lease["machine"],
    )

    started = time.monotonic()
    with pytest.raises(LeaseHeld) as caught:
        LeaseSet(_remote(b), ["r0", "r1"], "run-b", "deploy", seconds=60).acquire()
    assert time.monotonic() - started < 5  # no waiting
    text = str(caught.value)
    assert "r1 is leased on origin by run run-a (deploy)" in text
    assert lease["holder"] in text and f"until {lease['expires_utc']}" in text
    assert _leases_on(remote) == ["refs/netimmutable/leases/r1", "refs/netimmutable/leases/r2"]  # no r0

    held.release()
    assert _leases_on(remote) == []
    LeaseSet(_remote(b), ["r1"], "run-b", "deploy", seconds=60).acquire().release()


def test_of_many_clones_taking_one_lease_at_once_exactly_one_wins(
    clones: tuple[Path, NetworkRepo, NetworkRepo],
) -> None:
    remote, a, b = clones
    outcomes: list[str] = []

    def take(repo: NetworkRepo, run: str) -> None:
        try:
            LeaseSet(_remote(repo), ["r1"], run, "deploy", seconds=60).acquire()
            outcomes.append(run)
        except LeaseHeld:
            outcomes.append("held")

    _at_once([functools.partial(take, (a, b)[i % 2], f"run-{i}") for i in range(6)])

    winners = [o for o in outcomes if o != "held"]
    assert len(winners) == 1, outcomes
    assert _lease(remote, "r1")["run_id"] == winners[0]


def test_runs_of_one_clone_take_leases_of_other_hosts_at_the_same_moment(
    clones: tuple[Path, NetworkRepo, NetworkRepo],
) -> None:
    """Worktrees of one repository read the remote's leases at once: none of them fails for the other."""
    remote, a, _ = clones
    failures: list[BaseException] = []
    taken: list[LeaseSet] = []

    def take(host: str) -> None:
        try:
            taken.append(LeaseSet(_remote(a), [host], f"run-{host}", "deploy", seconds=60).acquire())
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    _at_once([functools.partial(take, f"r{i}") for i in range(6)])

    assert failures == []
    assert len(_leases_on(remote)) == 6
    assert _git(a.root, "for-each-ref", "refs/netimmutable-leases/") == ""  # staging refs are removed
    for leases in taken:
        leases.release()


def test_renewal_extends_the_expiry_and_pushes_the_journal_as_it_grows(
    clones: tuple[Path, NetworkRepo, NetworkRepo], tmp_path: Path
) -> None:
    remote, a, _ = clones
    journal = tmp_path / "run-a.jsonl"
    leases = LeaseSet(_remote(a), ["r1"], "run-a", "deploy", seconds=3, journal=journal).acquire().start()
    try:
        first = _lease(remote, "r1")
        assert "journal.jsonl" not in _git(remote, "ls-tree", "--name-only", lease_ref("r1"))
        journal.write_text('{"type": "open", "run_id": "run-a"}\n')
        deadline = time.monotonic() + 10
        while "journal.jsonl" not in _git(remote, "ls-tree", "--name-only", lease_ref("r1")):
            assert time.monotonic() < deadline, "the journal never reached the remote"
            time.sleep(0.1)
        assert _git(remote, "show", f"{lease_ref('r1')}:journal.jsonl") == journal.read_text()
        time.sleep(2.2)  # past a third of the lease: renewed
        assert _lease(remote, "r1")["expires_utc"] > first["expires_utc"]
    finally:
        leases.release()
    assert _leases_on(remote) == []


def test_a_kept_lease_stays_with_the_final_journal_and_its_reason(
    clones: tuple[Path, NetworkRepo, NetworkRepo], tmp_path: Path
) -> None:
    remote, a, b = clones
    journal = tmp_path / "run-a.jsonl"
    leases = LeaseSet(_remote(a), ["r1", "r2"], "run-a", "deploy", seconds=60, journal=journal).acquire()
    journal.write_text('{"type": "open"}\n{"type": "unresolved", "host": "r2"}\n')
    leases.keep("r2", "run run-a left r2 unknown")
    leases.release()

    assert _leases_on(remote) == ["refs/netimmutable/leases/r2"]
    assert _lease(remote, "r2")["kept"] == "run run-a left r2 unknown"
    assert _git(remote, "show", f"{lease_ref('r2')}:journal.jsonl") == journal.read_text()
    with pytest.raises(LeaseHeld, match="kept on purpose: run run-a left r2 unknown") as caught:
        LeaseSet(_remote(b), ["r2"], "run-b", "deploy", seconds=60).acquire()
    assert "recover" in (caught.value.hint or "")


def test_an_expired_lease_is_refused_to_a_new_run_and_taken_over_by_recover_of_that_run(
    clones: tuple[Path, NetworkRepo, NetworkRepo], tmp_path: Path
) -> None:
    remote, a, b = clones
    journal = tmp_path / "run-a.jsonl"
    journal.write_text('{"type": "open"}\n')
    LeaseSet(
        _remote(a), ["r1"], "run-a", "deploy", seconds=60, journal=journal, clock=lambda: time.time() - 120
    ).acquire()  # a run that stopped renewing a minute ago

    with pytest.raises(LeaseHeld, match="expired at") as caught:
        LeaseSet(_remote(b), ["r1"], "run-b", "deploy", seconds=60).acquire()
    assert "`netimmutable recover`" in (caught.value.hint or "")
    with pytest.raises(LeaseHeld):  # recover takes over only the runs it finishes
        LeaseSet(_remote(b), ["r1"], "run-other", "recover", seconds=60).acquire(takeover={"run-other"})

    taken = LeaseSet(_remote(b), ["r1"], "run-a", "recover run-b", seconds=60).acquire(takeover={"run-a"})
    lease = _lease(remote, "r1")
    assert (lease["run_id"], lease["purpose"]) == ("run-a", "recover run-b")
    taken.release()
    assert _leases_on(remote) == []


DEAD_PID = 2**30  # above any pid_max: no such process


def dead_lease(repo: NetworkRepo, hosts: list[str], run_id: str, journal: Path | None = None) -> LeaseSet:
    """The leases a run left when it was killed a minute ago (its process gone, not renewed since)."""
    past = time.time() - 120
    leases = LeaseSet(_remote(repo), hosts, run_id, "deploy", seconds=60, journal=journal, clock=lambda: past)
    leases._base = replace(leases._base, pid=DEAD_PID)
    return leases.acquire()


def test_a_run_whose_lease_was_taken_over_releases_its_other_leases_and_says_so(
    clones: tuple[Path, NetworkRepo, NetworkRepo],
) -> None:
    remote, a, b = clones
    past = time.time() - 120
    stale = LeaseSet(_remote(a), ["r1", "r2"], "run-a", "deploy", seconds=60, clock=lambda: past).acquire()
    LeaseSet(_remote(b), ["r1"], "run-a", "recover run-b", seconds=60).acquire(takeover={"run-a"})

    stale.release()

    assert _leases_on(remote) == ["refs/netimmutable/leases/r1"]  # r2 released, r1 left to its new holder
    assert _lease(remote, "r1")["purpose"] == "recover run-b"
    assert stale.warnings == ["leases of r1 on origin were moved by another run and left alone"]


def test_recover_imports_the_journal_of_an_expired_lease_only(
    clones: tuple[Path, NetworkRepo, NetworkRepo], tmp_path: Path
) -> None:
    _, a, b = clones
    journal = tmp_path / "j.jsonl"
    journal.write_text(
        '{"type": "open", "run_id": "run-dead", "kind": "deploy", "release": null, "user": "ann", '
        '"machine": "elsewhere", "pid": 1, "pid_start": "", "utc": "2026-01-01T00:00:00Z"}\n'
        '{"type": "before", "host": "r1", "step": "commit", "details": {}, "utc": "2026-01-01T00:00:01Z"}\n'
    )
    dead_lease(a, ["r1"], "run-dead", journal)
    live = LeaseSet(_remote(a), ["r2"], "run-live", "deploy", seconds=60, journal=journal).acquire()

    assert import_journals(b) == Expired(imported=("run-dead",))

    imported = b.shared_dir / "journal" / "run-dead.jsonl"
    assert imported.read_text() == journal.read_text()
    assert [(r.run_id, [h.host for h in r.hosts]) for r in unfinished_runs(b)] == [("run-dead", ["r1"])]
    assert not (b.shared_dir / "journal" / "run-live.jsonl").exists()
    assert import_journals(b) == Expired()  # a journal already here is left as it is
    live.release()


def test_a_lease_whose_journal_never_reached_the_remote_is_put_in_flight_for_recover(
    clones: tuple[Path, NetworkRepo, NetworkRepo],
) -> None:
    """Killed before the renewer pushed its journal (or before its step on that host was pushed): the
    device is inspected by recover, never left leased for ever."""
    _, a, b = clones
    dead_lease(a, ["r1"], "run-dead")

    assert import_journals(b) == Expired(imported=("run-dead",), inspect=("r1",))

    [run] = unfinished_runs(b)
    assert (run.run_id, run.alive, run.pid) == ("run-dead", False, DEAD_PID)
    assert [(h.host, h.steps) for h in run.hosts] == [("r1", ("load",))]


def test_an_expired_lease_of_a_host_its_run_had_settled_is_removed(
    clones: tuple[Path, NetworkRepo, NetworkRepo], tmp_path: Path
) -> None:
    """The run finished r1 (and closed, for r2) but could not release their leases: nothing to recover."""
    remote, a, b = clones
    open_entry = (
        '{"type": "open", "run_id": "RUN", "kind": "deploy", "release": null, "user": "ann", '
        '"machine": "elsewhere", "pid": 1, "pid_start": "", "utc": "2026-01-01T00:00:00Z"}\n'
    )
    finished = tmp_path / "finished.jsonl"
    finished.write_text(
        open_entry.replace("RUN", "run-finished-r1")
        + '{"type": "before", "host": "r1", "step": "load", "details": {}, "utc": "2026-01-01T00:00:01Z"}\n'
        '{"type": "finish", "host": "r1", "outcome": "confirmed", "utc": "2026-01-01T00:00:02Z"}\n'
    )
    closed = tmp_path / "closed.jsonl"
    closed.write_text(
        open_entry.replace("RUN", "run-closed") + '{"type": "close", "by": "x", "utc": "2026"}\n'
    )
    dead_lease(a, ["r1"], "run-finished-r1", finished)
    dead_lease(a, ["r2"], "run-closed", closed)

    result = import_journals(b)

    assert result == Expired(released=("r1", "r2"))  # their journals are not kept either
    assert _leases_on(remote) == []
    assert unfinished_runs(b) == []


def test_without_a_records_remote_there_are_no_leases(tmp_path: Path) -> None:
    """The records remote is read from outside the release: git config, else the approval branch's tip."""
    _git(tmp_path, "init", "-q", "-b", "main", str(tmp_path / "solo"))
    solo = NetworkRepo(tmp_path / "solo", Settings(records_remote="none"))  # the working tree's: never read
    assert records_remote(solo) is None and lease_remote(solo) is None
    _git(solo.root, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    assert records_remote(solo) == "origin"

    def approve(settings: str) -> None:  # a commit on origin/main (the approval tip) with these settings
        (solo.root / "netimmutable.yaml").write_text(settings)
        _git(solo.root, "add", "netimmutable.yaml")
        _git(solo.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", settings)
        _git(solo.root, "update-ref", "refs/remotes/origin/main", "HEAD")

    approve("version: 1\nrecords_remote: none\n")
    assert records_remote(solo) is None
    approve("version: 1\nrecords_remote: backup\n")
    with pytest.raises(LeaseError, match=r"'backup' \(netimmutable.yaml at origin/main\) is not a remote"):
        records_remote(solo)
    _git(solo.root, "config", "netimmutable.recordsRemote", "none")  # local, untracked: wins
    assert records_remote(solo) is None


def test_an_unreachable_records_remote_is_a_clear_error(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", str(tmp_path / "solo"))
    solo = NetworkRepo(tmp_path / "solo", Settings())
    _git(solo.root, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    with pytest.raises(LeaseError, match="cannot read leases on records remote origin") as caught:
        LeaseSet(_remote(solo), ["r1"], "run-a", "deploy", seconds=60).acquire()
    assert "git config netimmutable.recordsRemote none" in (caught.value.hint or "")


def test_a_lease_set_knows_whether_each_lease_is_still_valid(
    clones: tuple[Path, NetworkRepo, NetworkRepo],
) -> None:
    """Valid until a quarter of the lease before its expiry; valid again once renewed; lost when another
    run took it (its holder named). Clock injected: no waiting."""
    remote, a, b = clones
    now = [1_000_000.0]
    leases = LeaseSet(_remote(a), ["r1", "r2"], "run-a", "deploy", seconds=60, clock=lambda: now[0])
    leases.acquire()
    assert leases.problem("r1") == "" and leases.problem("r9") == ""  # r9: not one of this set
    now[0] += 44.9  # 60 - 15 margin
    assert leases.problem("r1") == ""
    now[0] += 0.2
    assert "lease on origin not renewed since 1970-01-12T13:46:40Z" in leases.problem("r1")
    assert "expires at 1970-01-12T13:47:40Z" in leases.problem("r2")
    leases.renew()
    assert leases.problem("r1") == "" and leases.problem("r2") == ""

    now[0] += 61  # expired: another clone's recover takes r2 over
    theirs = LeaseSet(_remote(b), ["r2"], "run-b", "recover", seconds=60, clock=lambda: now[0])
    theirs.acquire(takeover=["run-a"])
    leases.renew()  # refused (r2 moved): r2 found lost; r1 is renewed at the next tick
    assert "not renewed since" in leases.problem("r1")
    leases.renew()

    lost = leases.problem("r2")
    assert lost.startswith("lease lost to ") and lost.endswith("(run run-b, recover) on origin"), lost
    assert leases.problem("r1") == ""  # renewed: this run still holds r1
    assert _lease(remote, "r2")["run_id"] == "run-b"
    leases.release()
    theirs.release()
    assert _leases_on(remote) == []
