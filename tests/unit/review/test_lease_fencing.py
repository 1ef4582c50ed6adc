"""A run fences itself off a device whose lease it lost or could not renew (issue 13, leases): it never
commits or confirms on it any more, and leaves a pending commit to the device's revert timer or to the clone
that took the lease over. Two clones of a bare remote drive one sim lab; renewal failures are injected by
pointing the run's clone at a remote that is gone."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from netimmutable.deploy_model import Phase, ProgressEvent
from netimmutable.leases import LeaseSet, lease_ref, lease_remote, parse_utc
from netimmutable.outcomes import Cause, HostOutcome
from netimmutable.repo import open_repo
from tests.unit.review.conftest import Net
from tests.unit.review.test_leases_clones import _cli, _clone, _git, _journal_on, _lease, _shared

__all__: list[str] = []


def _wait(what: str, done: object, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not done() if callable(done) else not done:
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_run_that_cannot_renew_its_lease_never_confirms_past_its_expiry(net: Net, tmp_path: Path) -> None:
    """The records remote goes away after r1's commit; the soak outlasts the lease (3 s): the run does not
    confirm, r1 stays pending for its revert timer, the host ends UNKNOWN with cause lease, exit non-zero;
    the lease is still on the remote, so the other clone is told to recover."""
    remote = _shared(net, tmp_path, lease_seconds=3)
    release = net.announce("r1", "10.255.250.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    clone_b = _clone(net, remote, tmp_path)
    url = str(remote)
    broken: list[bool] = []

    def progress(event: ProgressEvent) -> None:
        if event.host == "r1" and event.phase is Phase.POSTCHECK and not broken:
            _wait("the journal never reached the remote", lambda: '"commit"' in _journal_on(remote, "r1"))
            _git(net.root, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
            broken.append(True)

    report = net.deploy(limit=("r1",), soak=5.0, progress=progress)

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.UNKNOWN, r1
    assert r1.cause is Cause.LEASE
    assert "lease on origin not renewed since" in r1.message, r1.message
    assert "not confirmed by this run; left to the device's revert timer (60s)" in r1.message
    assert report.exit_code != 0
    assert net.lab.has_pending("r1")  # never confirmed: the device's timer decides
    assert "10.255.250.0/24" in net.lab.running("r1")
    assert net.records().last_good("r1").release != release  # type: ignore[union-attr]
    [run] = net.records().runs(limit=1)
    [recorded] = [h for h in run.hosts if h.host == "r1"]
    assert run.run_id == report.run_id and recorded.outcome is HostOutcome.UNKNOWN
    assert recorded.cause is Cause.LEASE and "not renewed since" in recorded.message
    _git(net.root, "remote", "set-url", "origin", url)
    lease = _lease(remote, "r1")
    assert lease["run_id"] == report.run_id
    _wait("the lease never expired", lambda: time.time() > parse_utc(lease["expires_utc"]) + 0.5, 10)
    other = _cli(clone_b, "deploy", "--yes", "--limit", "r1")
    assert other.exit_code == 1 and "netimmutable recover" in other.output, other.output


def _taken_over_during_the_checks(
    net: Net, remote: Path, clone_b: Path, tmp_path: Path
) -> tuple[Callable[[ProgressEvent], None], list[LeaseSet]]:
    """A progress callback: once r1 is committed, this run's remote goes away (renewals fail) until r1's
    lease expired; clone B's recover takes it over; the remote comes back and the run finds it lost."""
    url = str(remote)
    said: list[str] = []
    theirs: list[LeaseSet] = []

    def progress(event: ProgressEvent) -> None:
        said.append(event.message)
        if event.host != "r1" or event.phase is not Phase.POSTCHECK or theirs:
            return
        _git(net.root, "remote", "set-url", "origin", str(tmp_path / "gone.git"))  # renewals fail
        run_id = _lease(remote, "r1")["run_id"]
        _wait("the lease never expired", lambda: time.time() > parse_utc(_lease(remote, "r1")["expires_utc"]))
        b_remote = lease_remote(open_repo(clone_b))
        assert b_remote is not None
        theirs.append(LeaseSet(b_remote, ["r1"], "run-b-recover", "recover", seconds=300))
        theirs[0].acquire(takeover=[run_id])  # what B's `recover` does with an expired lease of that run
        _git(net.root, "remote", "set-url", "origin", url)
        _wait("the run never saw its lease lost", lambda: any("lost its lease" in m for m in said))

    return progress, theirs


def test_a_run_whose_lease_another_clone_took_over_leaves_the_device_to_it(net: Net, tmp_path: Path) -> None:
    """r1's lease expires while the run cannot reach the remote; clone B's recover takes it over; the run
    sees the remote again, finds the lease lost, and neither confirms nor rolls back: r1 stays pending, B's
    lease stays B's, the message names B."""
    remote = _shared(net, tmp_path, lease_seconds=3)
    net.announce("r1", "10.255.251.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    progress, theirs = _taken_over_during_the_checks(net, remote, _clone(net, remote, tmp_path), tmp_path)

    report = net.deploy(limit=("r1",), progress=progress)

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.UNKNOWN, r1
    assert r1.cause is Cause.LEASE
    assert "lease lost to " in r1.message and "(run run-b-recover, recover) on origin" in r1.message
    assert "not confirmed by this run" in r1.message and "or their recover" in r1.message
    assert report.exit_code == 5
    assert net.lab.has_pending("r1")  # neither confirmed nor cancelled by the run that lost it
    assert "10.255.251.0/24" in net.lab.running("r1")
    assert _lease(remote, "r1")["run_id"] == "run-b-recover"  # theirs, untouched
    assert _git(remote, "rev-parse", lease_ref("r1")) == theirs[0]._held["r1"]
    theirs[0].release()


def test_without_a_revert_timer_a_host_whose_lease_was_lost_is_not_recorded_good(
    net: Net, tmp_path: Path
) -> None:
    """No revert timer: the commit stands and there is no confirm to withhold; the run still does not record
    r1 good (clone B's recover owns it now): unknown, cause lease."""
    remote = _shared(net, tmp_path, lease_seconds=3)
    release = net.announce("r1", "10.255.253.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    progress, theirs = _taken_over_during_the_checks(net, remote, _clone(net, remote, tmp_path), tmp_path)

    report = net.deploy(limit=("r1",), revert_in=0, progress=progress)

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.UNKNOWN and r1.cause is Cause.LEASE, r1
    assert "not recorded good by this run; left to their recover" in r1.message
    assert "10.255.253.0/24" in net.lab.running("r1")  # the change stands, not rolled back by this run
    assert net.records().last_good("r1").release != release  # type: ignore[union-attr]
    theirs[0].release()


def test_a_lease_expiring_before_the_commit_leaves_the_device_untouched(net: Net, tmp_path: Path) -> None:
    """The lease cannot be renewed while r1 is loaded: the run does not commit (REFUSED, cause lease)."""
    _shared(net, tmp_path, lease_seconds=3)
    net.announce("r1", "10.255.252.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    before = net.lab.state("r1").generation
    broken: list[bool] = []

    def progress(event: ProgressEvent) -> None:
        if event.host == "r1" and event.phase is Phase.LOAD and not broken:
            _git(net.root, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
            broken.append(True)
            time.sleep(3.0)  # past the lease's valid part (3 s minus a quarter)

    report = net.deploy(limit=("r1",), progress=progress)

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.REFUSED, r1
    assert r1.cause is Cause.LEASE and "not committed, device untouched" in r1.message
    assert report.exit_code != 0
    assert net.lab.state("r1").generation == before
    assert not net.lab.has_pending("r1")
