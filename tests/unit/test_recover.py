"""SIGKILL a run mid-change, then recover: confirm only what verifies, roll back the rest, else UNKNOWN."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from netimmutable.artifacts import open_git
from netimmutable.inventory import load_inventory
from netimmutable.journal import unfinished
from netimmutable.locks import list_locks
from netimmutable.outcomes import Cause, HostOutcome
from netimmutable.records import Records
from netimmutable.recover import UnfinishedRunError, check_unfinished, recover
from tests.unit.netrepo_helpers import run_cli
from tests.unit.records_fixtures import BAD_CHANGE, GOOD_CHANGE, Net, make_net, release, run_python

_DEPLOY = """
import json, os, signal, sys
from pathlib import Path
from netimmutable.artifacts import open_git
from netimmutable.checks import capture_state
from netimmutable.connections import prepare_hosts
from netimmutable.device import Device
from netimmutable.inventory import load_inventory
from netimmutable.journal import Journal
from netimmutable.locks import device_lock, repo_lock
from netimmutable.records import Records
from netimmutable.repo import open_repo
root, new, good, kill_at = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
soak = float(sys.argv[5]) if len(sys.argv) > 5 else None
repo = open_repo(root)
records = Records(repo, open_git(repo))
host = load_inventory(repo).inventory.hosts["r1"]
prepare_hosts(repo, [host])
repo_lock(repo, "run-dead").acquire()
device_lock(repo, "r1", "run-dead").acquire()
journal = Journal.open(repo, "run-dead", release=new)
dev = Device.open(host)
journal.before("r1", "load", release=new)
dev.load_replace(records.artifact(new, "r1"))
journal.after("r1", "load", "ok")
if kill_at == "after-load":
    os.kill(os.getpid(), signal.SIGKILL)
kept = {}
if soak is not None:  # as a deploy journals it: the state before the change and the change's soak
    kept = {"pre_state": json.dumps(capture_state(dev).to_dict()), "soak": soak}
journal.before("r1", "commit", release=new, rollback_release=good, revert_in=300, **kept)
dev.commit("deploy", 300)
journal.after("r1", "commit", "ok")
if kill_at == "after-commit":
    os.kill(os.getpid(), signal.SIGKILL)
journal.before("r1", "rollback", rollback_release=good)
if kill_at == "before-rollback":  # the run had decided the release failed (e.g. its confirm failed)
    os.kill(os.getpid(), signal.SIGKILL)
dev.rollback_driver()
dev.load_replace(records.artifact(good, "r1"))
os.kill(os.getpid(), signal.SIGKILL)  # during the rollback, before its commit
"""


def _crash(net: Net, new: str, kill_at: str, *extra: str) -> None:
    records = Records(net.repo, open_git(net.repo))
    records.mark_good("r1", net.first, "run-before")
    done = run_python(_DEPLOY, str(net.root), new, net.first, kill_at, *extra)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert [f.host for f in unfinished(net.repo)] == ["r1"]


def _recover(net: Net) -> tuple[HostOutcome, str]:
    repo = net.repo
    report = recover(repo, open_git(repo), load_inventory(repo))
    [host] = report.hosts
    return host.outcome, host.message


def test_killed_after_commit_good_release_is_verified_and_confirmed(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    _crash(net, new, "after-commit")
    assert net.lab.has_pending("r1")
    with pytest.raises(UnfinishedRunError, match="run-dead"):
        check_unfinished(net.repo)
    action, message = _recover(net)
    assert action is HostOutcome.DEPLOYED, message
    assert not net.lab.has_pending("r1")
    assert net.lab.running("r1") == net.lab.startup("r1")
    good = Records(net.repo, open_git(net.repo)).last_good("r1")
    assert good is not None and good.release == new
    assert unfinished(net.repo) == [] and list_locks(net.repo) == []
    check_unfinished(net.repo)
    [run] = Records(net.repo, open_git(net.repo)).runs(limit=1)
    assert run.kind == "recover" and str(run.hosts[0].outcome) == "deployed"


def test_recover_checks_regressions_against_the_journaled_pre_state(tmp_path: Path) -> None:
    # r1's change (a description) verifies on its own, but after the crash r4 stops announcing its network:
    # r1 receives nothing from r4 any more. Only the pre-change state the journal kept shows that
    net = make_net(tmp_path)
    good_config = net.lab.running("r1")
    new = release(net.root, "r1 description", GOOD_CHANGE)
    _crash(net, new, "after-commit", "0")
    net.lab.edit("r4", remove=["network 10.255.104.0/24"])

    report = recover(net.repo, open_git(net.repo), load_inventory(net.repo))

    [host] = report.hosts
    lost = "regression: BGP neighbour 10.255.14.2 (AS 65004) received 1 prefixes before the change, 0 now"
    assert host.message.startswith(f"it runs the new release but the post-checks fail: {lost}"), host
    # not confirmed: rolled back; the loss persists (r4 caused it), so the rollback does not verify either:
    # as in a deploy, the host is left to a person, its lock kept
    assert host.outcome is HostOutcome.ROLLBACK_FAILED and report.exit_code == 5, host
    assert net.lab.running("r1") == good_config and not net.lab.has_pending("r1")
    good = Records(net.repo, open_git(net.repo)).last_good("r1")
    assert good is not None and good.release == net.first  # the new release was never recorded good
    [lock] = list_locks(net.repo)
    assert lock.info is not None and "rollback-failed after recovery" in lock.info.kept


def test_recover_soaks_as_long_as_the_change_had_to(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    _crash(net, new, "after-commit", "1.5")
    started = time.monotonic()

    action, message = _recover(net)

    assert action is HostOutcome.DEPLOYED, message
    assert "held 1.5s of soak" in message
    assert time.monotonic() - started >= 1.5  # the checks kept holding through the soak
    good = Records(net.repo, open_git(net.repo)).last_good("r1")
    assert good is not None and good.release == new


def test_killed_after_commit_bad_release_is_rolled_back(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    good_config = net.lab.running("r1")
    new = release(net.root, "wrong AS", BAD_CHANGE)
    _crash(net, new, "after-commit")
    action, message = _recover(net)
    assert action is HostOutcome.ROLLED_BACK, message
    assert "post-checks fail" in message
    assert net.lab.running("r1") == good_config and not net.lab.has_pending("r1")
    records = Records(net.repo, open_git(net.repo))
    good = records.last_good("r1")
    assert good is not None and good.release == net.first  # never recorded good without verification
    assert unfinished(net.repo) == [] and list_locks(net.repo) == []
    [r1] = records.runs(limit=1)[0].hosts  # the recovery's record says why, in the deploy's vocabulary
    assert (r1.outcome, r1.cause) == (HostOutcome.ROLLED_BACK, Cause.CHECKS)


@pytest.mark.parametrize("kill_at", ["after-load", "during-rollback"])
def test_killed_before_commit_or_mid_rollback_ends_back_on_last_good(tmp_path: Path, kill_at: str) -> None:
    net = make_net(tmp_path)
    good_config = net.lab.running("r1")
    new = release(net.root, "wrong AS", BAD_CHANGE)
    _crash(net, new, kill_at)
    action, message = _recover(net)
    # after the load nothing was committed: the device is found back; a journaled rollback is completed
    expected = HostOutcome.REVERTED if kill_at == "after-load" else HostOutcome.ROLLED_BACK
    assert action is expected, message
    assert net.lab.running("r1") == good_config and not net.lab.has_pending("r1")
    assert list_locks(net.repo) == []


def test_a_journaled_rollback_is_completed_never_turned_into_a_confirm(tmp_path: Path) -> None:
    # issue 12: killed right after the journal's "before rollback" (the release had failed), `recover` saw the
    # device on the new release, re-checked it without the run's regression checks, confirmed it and
    # recorded it good
    net = make_net(tmp_path)
    good_config = net.lab.running("r1")
    new = release(net.root, "r1 description", GOOD_CHANGE)  # passes recover's own checks
    _crash(net, new, "before-rollback")
    assert net.lab.has_pending("r1")
    action, message = _recover(net)
    assert action is HostOutcome.ROLLED_BACK, message
    assert "rolling it back" in message
    assert net.lab.running("r1") == good_config and not net.lab.has_pending("r1")
    good = Records(net.repo, open_git(net.repo)).last_good("r1")
    assert good is not None and good.release == net.first
    assert unfinished(net.repo) == [] and list_locks(net.repo) == []


def test_unreachable_device_is_unknown_keeps_lock_then_recovers(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    _crash(net, new, "after-commit")
    net.lab.set_knobs("r1", unreachable=True)
    result = run_cli(["recover", "--repo", str(net.root)])
    assert result.exit_code == 5
    assert "unknown" in result.stdout and "once the device is reachable" in result.stdout
    [lock] = list_locks(net.repo)
    assert (
        lock.info is not None
        and "unknown after recovery" in lock.info.kept
        and lock.info.run_id == "run-dead"
    )
    assert [f.host for f in unfinished(net.repo)] == ["r1"]

    net.lab.clear_knobs("r1")
    result = run_cli(["recover", "--repo", str(net.root), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"outcome": "deployed"' in result.stdout
    assert list_locks(net.repo) == [] and unfinished(net.repo) == []
    history = run_cli(["history", "r1", "--repo", str(net.root)])
    assert history.stdout.count("recover") >= 2
    status = run_cli(["status", "--repo", str(net.root), "--format", "json"])
    assert status.exit_code == 0 and new in status.stdout


def test_recover_list_and_nothing_to_do(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    result = run_cli(["recover", "--repo", str(net.root)])
    assert result.exit_code == 0 and "nothing to recover" in result.stdout
    new = release(net.root, "r1 description", GOOD_CHANGE)
    _crash(net, new, "after-load")
    listed = run_cli(["recover", "--list", "--repo", str(net.root)])
    assert "run-dead" in listed.stdout and "load" in listed.stdout
    unlock = run_cli(["unlock", "r1", "--repo", str(net.root)])
    assert unlock.exit_code == 1  # the run must be recovered first
    forgot = run_cli(["recover", "--forget", "r1", "--repo", str(net.root)])
    assert forgot.exit_code == 0 and unfinished(net.repo) == []


THEIR_ROUTE = "ip route 10.77.0.0/16 blackhole"


def _their_pending_commit(net: Net) -> None:
    """Another session commits on r1 with commit-confirm and has not confirmed yet."""
    from netimmutable.drivers.sim import SimDriver

    driver = SimDriver("r1", optional_args={"lab_dir": str(net.lab.root)})
    driver.open()
    try:
        running = net.lab.running("r1")
        driver.load_replace_candidate(config=running.replace("\nend\n", f"\n{THEIR_ROUTE}\nend\n"))
        driver.commit_config(message="someone else", revert_in=600)
    finally:
        driver.close()


@pytest.mark.parametrize("due", ["2020-01-01T00:00:00Z", "past-grace"])
def test_a_commit_pending_after_the_dead_runs_revert_deadline_is_another_sessions_and_left_alone(
    tmp_path: Path, due: str
) -> None:
    """The dead run's own timer fired long ago (the device went back to the last good release); whatever is
    pending now was committed by someone else after it: recover must neither cancel nor confirm it."""
    from netimmutable.utctime import utc_text
    from tests.unit.records_fixtures import dead_run_journal

    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    if due == "past-grace":  # just beyond the grace recover allows a late device timer
        due = utc_text(time.time() - 121)
    dead_run_journal(
        net.repo, "run-dead", new, "r1", rollback_release=net.first, revert_in=60, revert_deadline_utc=due
    )
    _their_pending_commit(net)

    report = recover(net.repo, open_git(net.repo), load_inventory(net.repo))

    [r1] = report.hosts
    assert r1.outcome is HostOutcome.UNKNOWN and r1.cause is Cause.PENDING_COMMIT, r1
    assert "another session" in r1.message
    assert net.lab.has_pending("r1"), "their pending commit was cancelled"
    assert THEIR_ROUTE in net.lab.running("r1")
    assert report.exit_code != 0
    assert [f.host for f in unfinished(net.repo)] == ["r1"]  # kept for a person, not forgotten


@pytest.mark.parametrize(
    "release_change", [GOOD_CHANGE, BAD_CHANGE], ids=["would-confirm", "would-roll-back"]
)
def test_a_recovery_that_lost_its_lease_leaves_the_device_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, release_change: dict[str, tuple[str, str]]
) -> None:
    """Another clone took the device's lease over (or this one could not renew it): recover neither
    confirms, cancels nor rolls back; the host stays in flight with cause lease, for the lease's holder."""
    from netimmutable import recover as recover_module

    net = make_net(tmp_path)
    new = release(net.root, "r1 change", release_change)
    _crash(net, new, "after-commit")
    running = net.lab.running("r1")
    lost = "lease lost to run 20261203T000000Z-abcdef12 (recover) of b@box on origin"
    monkeypatch.setattr(recover_module, "_fence_of", lambda _lock, _host: lambda: lost)

    report = recover(net.repo, open_git(net.repo), load_inventory(net.repo))

    [r1] = report.hosts
    assert (r1.outcome, r1.cause) == (HostOutcome.UNKNOWN, Cause.LEASE), r1
    assert lost in r1.message and report.exit_code == 5
    assert net.lab.has_pending("r1") and net.lab.running("r1") == running  # untouched
    good = Records(net.repo, open_git(net.repo)).last_good("r1")
    assert good is not None and good.release == net.first
    assert [f.host for f in unfinished(net.repo)] == ["r1"]


def test_a_journaled_rollback_long_past_its_revert_deadline_leaves_a_foreign_pending_commit_alone(
    tmp_path: Path,
) -> None:
    """The dead run had begun its rollback (journal) with its own commit pending; its device timer fired
    long ago and someone else has committed with commit-confirm since: completing "the rollback" must not
    cancel their commit (review finding: the rollback shortcut skipped the deadline rule)."""
    import json

    from netimmutable.journal import journal_path
    from tests.unit.records_fixtures import dead_run_journal

    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    late = "2020-01-01T00:00:00Z"
    dead_run_journal(
        net.repo, "run-dead", new, "r1", rollback_release=net.first, revert_in=60, revert_deadline_utc=late
    )
    entry = {"type": "before", "host": "r1", "step": "rollback", "details": {"rollback_release": net.first}}
    with journal_path(net.repo, "run-dead").open("a") as handle:  # the run had decided to roll back
        handle.write(json.dumps({**entry, "utc": "2020-01-01T00:00:01Z"}) + "\n")
    _their_pending_commit(net)

    report = recover(net.repo, open_git(net.repo), load_inventory(net.repo))

    [r1] = report.hosts
    assert r1.outcome is HostOutcome.UNKNOWN and r1.cause is Cause.PENDING_COMMIT, r1
    assert net.lab.has_pending("r1") and THEIR_ROUTE in net.lab.running("r1")
