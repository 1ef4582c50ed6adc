"""Records in git: runs, good refs, force-push survival, concurrency, push/fetch, user state untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netimmutable.artifacts import open_git
from netimmutable.errors import RepoError
from netimmutable.records import (
    GOOD_LOG_REF,
    RUNS_REF,
    HostOutcome,
    HostRecord,
    Records,
    RunRecord,
    good_ref,
    new_run_id,
    utc_now,
)
from netimmutable.repo import open_repo
from tests.unit.records_fixtures import git, make_net, release, start_python


def _records(root: Path) -> Records:
    repo = open_repo(root)
    return Records(repo, open_git(repo))


def _run(run_id: str, release_sha: str, *hosts: tuple[str, HostOutcome]) -> RunRecord:
    now = utc_now()
    return RunRecord(
        run_id=run_id,
        kind="deploy",
        release=release_sha,
        started_utc=now,
        ended_utc=now,
        operator="tester@box",
        hosts=tuple(HostRecord(h, o, f"{h} {o}", release=release_sha, device_diff="+x") for h, o in hosts),
        flags=("--force-drift",),
    )


def _user_state(root: Path) -> tuple[str, str, str, bytes]:
    return (
        git(root, "for-each-ref", "refs/heads", "refs/tags"),
        git(root, "status", "--porcelain", "--untracked-files=all"),
        git(root, "rev-parse", "HEAD"),
        (root / ".git" / "index").read_bytes(),
    )


def test_runs_round_trip_newest_first_and_user_state_untouched(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    (net.root / "scratch.txt").write_text("user's own uncommitted work\n")
    before = _user_state(net.root)
    records = _records(net.root)
    first = _run("run-1", net.first, ("r1", HostOutcome.DEPLOYED), ("r2", HostOutcome.ROLLED_BACK))
    sha1 = records.write_run(first, {"r2": "hostname r2\n! captured\n"})
    sha2 = records.write_run(_run("run-2", net.first, ("r3", HostOutcome.UNCHANGED)), {})
    records.mark_good("r1", net.first, "run-1")

    assert _user_state(net.root) == before
    assert not (net.root / ".git" / "index.lock").exists()
    runs = records.runs()
    assert [r.run_id for r in runs] == ["run-2", "run-1"]
    assert runs[1] == first  # record_sha is not part of equality
    assert (runs[0].record_sha, runs[1].record_sha) == (sha2, sha1)
    assert runs[1].outcome is HostOutcome.ROLLED_BACK
    assert [r.run_id for r in records.runs("r2")] == ["run-1"]
    assert records.runs(limit=1)[0].run_id == "run-2"
    assert git(net.root, "rev-parse", RUNS_REF).strip() == sha2
    assert git(net.root, "rev-parse", f"{sha2}^").strip() == sha1
    data = json.loads(git(net.root, "show", f"{sha1}:run.json"))
    assert data["flags"] == ["--force-drift"] and data["hosts"][0]["device_diff"] == "+x"
    assert git(net.root, "show", f"{sha1}:rollback/r2.cfg") == "hostname r2\n! captured\n"
    assert records.captured_config("r2") == "hostname r2\n! captured\n"


def test_last_good_and_good_artifact(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    records = _records(net.root)
    assert records.last_good("r1") is None
    assert records.good_artifact("r1") is None
    records.write_run(_run("run-0", net.first, ("r1", HostOutcome.ROLLED_BACK)), {"r1": "hostname old\n"})
    assert records.good_artifact("r1") == "hostname old\n"  # first deployment: the captured config

    records.mark_good("r1", net.first, "run-1")
    entry = records.last_good("r1")
    assert entry is not None
    assert (entry.release, entry.run_id) == (net.first, "run-1")
    assert entry.when_utc.endswith("Z") and "@" in entry.operator and "Test Author" in entry.operator
    assert records.good_artifact("r1") == net.artifact("r1")
    assert records.good_hosts() == ["r1"]
    assert git(net.root, "rev-parse", good_ref("r1")).strip() == net.first

    # a ref moved by hand: the release is still the truth, the metadata says it is unknown
    second = release(net.root, "second", {"inventory/hosts.yaml": ("65001", "65011")})
    git(net.root, "update-ref", good_ref("r1"), second)
    moved = records.last_good("r1")
    assert moved is not None and moved.release == second and moved.run_id == ""
    with pytest.raises(RepoError):
        records.mark_good("r1", "0" * 40, "run-x")
    with pytest.raises(RepoError):
        good_ref("../etc")


def test_last_good_many_matches_last_good(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    records = _records(net.root)
    assert records.last_good_many([]) == {}
    assert records.last_good_many(["r1", "r2"]) == {"r1": None, "r2": None}
    records.mark_good("r1", net.first, "run-1")
    second = release(net.root, "second", {"inventory/hosts.yaml": ("65001", "65011")})
    records.mark_good("r2", second, "run-2")
    git(net.root, "update-ref", good_ref("r3"), second)  # set by hand: no metadata
    git(net.root, "tag", "-a", "-m", "annotated", "good-tag", net.first)
    git(net.root, "update-ref", good_ref("r4"), git(net.root, "rev-parse", "good-tag").strip())
    hosts = ["r1", "r2", "r3", "r4", "r5", "r1"]
    many = records.last_good_many(hosts)
    assert list(many) == ["r1", "r2", "r3", "r4", "r5"]
    assert many == {host: records.last_good(host) for host in hosts}
    assert many["r4"] is not None and many["r4"].release == net.first
    with pytest.raises(RepoError):
        records.last_good_many(["r1", "../etc"])


def test_mark_good_many_moves_every_ref_and_the_log_in_one_transaction(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    records = _records(net.root)
    records.mark_good("r1", net.first, "run-1")
    log_before = git(net.root, "rev-parse", GOOD_LOG_REF).strip()
    second = release(net.root, "second", {"inventory/hosts.yaml": ("65001", "65011")})

    records.mark_good_many([("r1", second), ("r2", second), ("r3", net.first), ("r2", net.first)], "run-2")
    many = records.last_good_many(["r1", "r2", "r3", "r4"])
    assert {h: e.release if e else None for h, e in many.items()} == {
        "r1": second,
        "r2": net.first,  # the last mark of a host wins
        "r3": net.first,
        "r4": None,
    }
    assert {e.run_id for e in many.values() if e} == {"run-2"}
    log = git(net.root, "log", "--format=%P %s", GOOD_LOG_REF, "-1").strip()
    assert log == f"{log_before} good 3 hosts (run run-2)"  # one commit on top of the previous tip
    table = json.loads(git(net.root, "show", f"{GOOD_LOG_REF}:good.json"))["hosts"]
    assert sorted(table) == ["r1", "r2", "r3"] and table["r1"]["release"] == second

    # all or nothing: one bad host name or release in the group moves no ref and writes no log entry
    with pytest.raises(RepoError):
        records.mark_good_many([("r4", second), ("../etc", second)], "run-3")
    with pytest.raises(RepoError):
        records.mark_good_many([("r4", second), ("r1", "0" * 40)], "run-3")
    assert records.last_good("r4") is None
    assert git(net.root, "rev-list", "--count", GOOD_LOG_REF).strip() == "2"
    records.mark_good_many([], "run-4")  # nothing to do
    assert git(net.root, "rev-list", "--count", GOOD_LOG_REF).strip() == "2"


def test_artifacts_many_reads_what_artifact_reads(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    records = _records(net.root)
    names = ["r1.cfg", "r2.expect.yaml", "r9.cfg", "r1.cfg"]
    many = records.artifacts_many(net.first, names)
    assert list(many) == ["r1.cfg", "r2.expect.yaml", "r9.cfg"]
    assert many["r1.cfg"] == records.artifact(net.first, "r1") == net.artifact("r1")
    assert many["r2.expect.yaml"] == records.expectations(net.first, "r2") is not None
    assert many["r9.cfg"] is None  # no such host in the release
    short = records.artifacts_many(net.first[:12], ["r1.cfg"])  # a short name takes the one-by-one path
    assert short == {"r1.cfg": net.artifact("r1")}


def test_good_release_survives_force_push_and_gc(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    second = release(net.root, "second", {"inventory/hosts.yaml": ("65001", "65011")})
    r1_second = net.artifact("r1")
    records = _records(net.root)
    records.mark_good("r1", second, "run-2")
    assert records.release_on_branch(second)

    # a force-push takes the release away from the branch; history expires and is garbage-collected
    git(net.root, "reset", "--hard", net.first)
    git(net.root, "reflog", "expire", "--expire=now", "--all")
    git(net.root, "gc", "--prune=now", "--quiet")

    records = _records(net.root)
    assert not records.release_on_branch(second)
    assert records.good_artifact("r1") == r1_second
    assert git(net.root, "cat-file", "-t", second).strip() == "commit"


_WRITER = """
import sys
from pathlib import Path
from netimmutable.artifacts import open_git
from netimmutable.records import HostOutcome, HostRecord, Records, RunRecord
from netimmutable.repo import open_repo
repo = open_repo(Path(sys.argv[1]))
records = Records(repo, open_git(repo))
for i in range(int(sys.argv[3])):
    host = "r1" if i % 2 else "r2"
    run = RunRecord(f"{sys.argv[2]}-{i}", "deploy", None, "t", "t", "w",
                    (HostRecord(host, HostOutcome.DEPLOYED),))
    records.write_run(run, {})
    records.mark_good(host, sys.argv[4], f"{sys.argv[2]}-{i}")
"""


def test_concurrent_writers_lose_no_record(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    procs = [start_python(_WRITER, str(net.root), name, "15", net.first) for name in ("a", "b", "c")]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    records = _records(net.root)
    ids = {r.run_id for r in records.runs(limit=1000)}
    assert ids == {f"{n}-{i}" for n in "abc" for i in range(15)}
    # the good log is a single chain with one commit per mark
    assert int(git(net.root, "rev-list", "--count", GOOD_LOG_REF)) == 45


def test_push_and_fetch_merge_records_from_two_machines(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--bare", "--quiet", str(remote))
    git(net.root, "remote", "add", "origin", str(remote))
    git(net.root, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", "-b", "main", str(remote), str(other))

    mine = _records(net.root)
    mine.write_run(_run("mine-1", net.first, ("r1", HostOutcome.DEPLOYED)), {})
    mine.mark_good("r1", net.first, "mine-1")
    mine.push_records("origin")

    theirs = _records(other)
    theirs.write_run(_run("theirs-1", net.first, ("r2", HostOutcome.DEPLOYED)), {})
    theirs.mark_good("r2", net.first, "theirs-1")
    with pytest.raises(RepoError, match="fetch"):
        theirs.push_records("origin")  # the remote moved: not a fast-forward
    changed = theirs.fetch_records("origin")
    assert "refs/netimmutable/runs" in changed and good_ref("r1") in changed
    assert {r.run_id for r in theirs.runs()} == {"mine-1", "theirs-1"}
    assert theirs.last_good("r1") is not None and theirs.last_good("r2") is not None
    theirs.push_records("origin")

    mine.fetch_records("origin")
    assert {r.run_id for r in mine.runs()} == {"mine-1", "theirs-1"}
    good = mine.last_good("r2")
    assert good is not None and good.run_id == "theirs-1"
    assert not git(net.root, "for-each-ref", "refs/netimmutable-fetch")


def test_push_moves_a_good_ref_back_to_an_older_release_guarded_by_the_good_log(tmp_path: Path) -> None:
    """A rollback marks an older release good: the remote's good ref moves back (not a fast-forward), in one
    atomic push with the good-log, which must fast-forward (a newer mark elsewhere is never overwritten)."""
    net = make_net(tmp_path)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--bare", "--quiet", str(remote))
    git(net.root, "remote", "add", "origin", str(remote))
    git(net.root, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    git(net.root, "commit", "--quiet", "--allow-empty", "-m", "second")
    second = git(net.root, "rev-parse", "HEAD").strip()
    mine = _records(net.root)
    mine.mark_good("r1", second, "run-1")
    mine.push_records("origin")
    mine.mark_good("r1", net.first, "run-2")  # rolled back

    mine.push_records("origin")

    assert git(remote, "rev-parse", good_ref("r1")).strip() == net.first
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", "-b", "main", str(remote), str(other))
    theirs = _records(other)
    theirs.fetch_records("origin")
    theirs.mark_good("r2", net.first, "run-3")
    theirs.push_records("origin")
    mine.mark_good("r1", second, "run-4")
    with pytest.raises(RepoError, match="fetch"):
        mine.push_records("origin")  # the good-log moved: nothing is pushed, good refs included
    assert git(remote, "rev-parse", good_ref("r1")).strip() == net.first


def test_run_ids_are_unique_and_sortable() -> None:
    ids = [new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(i[8] == "T" and i[15] == "Z" for i in ids)
