"""Records parsed defensively (issue 14, item 9, records part): a good ref at a missing object or at a blob,
or a ``good.json`` that is not JSON, is an immediate located error naming the ref or file and what to do, in
every command that reads it; never a traceback, never "no record", never 50 retries."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from netimmutable.artifacts import open_git
from netimmutable.errors import CorruptRecords
from netimmutable.inventory import load_inventory
from netimmutable.journal import unfinished
from netimmutable.outcomes import HostOutcome
from netimmutable.records import GOOD_LOG_REF, RUNS_REF, Records, good_ref
from netimmutable.recover import recover
from tests.unit.deploy.conftest import Net
from tests.unit.records_fixtures import dead_run_journal, git

MISSING = "1234567890" * 4


def _git_in(root: Path, text: str, *args: str) -> str:
    """``git ARGS`` with ``text`` on its standard input; its output, stripped."""
    done = subprocess.run(["git", *args], cwd=root, input=text, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _point(net: Net, host: str, target: str) -> None:
    """Point ``host``'s good ref at ``target``: a missing object or garbage (the ref file written by hand, as
    git refuses), or a blob."""
    if target in ("missing", "garbage"):
        path = net.root / ".git" / good_ref(host)
        path.write_text((MISSING if target == "missing" else "not an object id") + "\n")
    else:
        git(
            net.root,
            "update-ref",
            good_ref(host),
            _git_in(net.root, "not a release\n", "hash-object", "-w", "--stdin"),
        )


def _corrupt_tip(root: Path, ref: str, path: str, text: str) -> str:
    """A commit on top of chain ``ref`` whose ``path`` is ``text``; returns the previous tip."""
    blob = _git_in(root, text, "hash-object", "-w", "--stdin")
    tree = _git_in(root, f"100644 blob {blob}\t{path}\n", "mktree")
    tip = git(root, "rev-parse", ref).strip()
    git(root, "update-ref", ref, git(root, "commit-tree", tree, "-p", tip, "-m", "hand-made").strip())
    return tip


def _cli_error(net: Net, *args: str) -> str:
    """Run a command that must stop at once with exit 1 and a message; its stderr. (``net.cli`` lets any
    exception through: a traceback fails the test.)"""
    started = time.monotonic()
    result = net.cli(*args)
    assert result.exit_code == 1, result.output
    assert time.monotonic() - started < 5
    return result.stderr


@pytest.mark.parametrize("target", ["missing", "blob", "garbage"])
def test_a_good_ref_at_a_missing_object_or_a_blob_is_a_located_error_in_every_command(
    net: Net, target: str
) -> None:
    before = {h: net.lab.running(h) for h in net.lab.hosts()}
    runs = git(net.root, "rev-parse", RUNS_REF)
    _point(net, "r3", target)
    for args in (("status",), ("verify",), ("deploy", "--yes"), ("rollback", "r3", "--yes")):
        err = _cli_error(net, *args)
        assert "refs/netimmutable/good/r3" in err, (args, err)
        assert f"git update-ref -d {good_ref('r3')}" in err and "records fetch" in err
    assert {h: net.lab.running(h) for h in net.lab.hosts()} == before
    assert git(net.root, "rev-parse", RUNS_REF) == runs  # no run began, none was recorded
    status = net.cli("status", "--format", "json")  # every other host's row is still shown
    rows = {row["host"]: row for row in json.loads(status.stdout)["hosts"]}
    assert status.exit_code == 1 and rows["r3"]["records_error"] and rows["r3"]["last_good"] is None
    assert all(rows[h]["last_good"] and not rows[h]["records_error"] for h in ("r1", "r2", "r4"))

    # hosts whose own records are sound are not held hostage by r3's
    assert net.deploy(limit=("r1",)).exit_code == 0

    # a good mark finds the ref corrupt at once: no retrying "other writers kept moving it"
    records = Records(net.repo, open_git(net.repo))
    started = time.monotonic()
    with pytest.raises(CorruptRecords) as info:
        records.mark_good("r3", net.first, "run-x")
    assert time.monotonic() - started < 1 and info.value.host == "r3"
    assert good_ref("r3") in info.value.message


def test_good_json_that_is_not_json_is_a_located_error_naming_the_way_back(net: Net) -> None:
    before = {h: net.lab.running(h) for h in net.lab.hosts()}
    previous = _corrupt_tip(net.root, GOOD_LOG_REF, "good.json", "{not json")
    for args in (("status",), ("verify",), ("deploy", "--limit", "r1", "--yes"), ("rollback", "r2", "--yes")):
        err = _cli_error(net, *args)
        assert f"{GOOD_LOG_REF}:good.json" in err, (args, err)
        assert f"git update-ref {GOOD_LOG_REF} {previous}" in err  # the way back to the mark before
    assert {h: net.lab.running(h) for h in net.lab.hosts()} == before
    git(net.root, "update-ref", GOOD_LOG_REF, previous)  # what the hint says
    assert net.cli("status").exit_code == 0


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2]",
        '{"hosts": [1]}',
        '{"hosts": {"r1": {"release": "x"}}}',
        '{"hosts": {"r1": {"release": "main", "run_id": "", "when_utc": "", "operator": ""}}}',
        "[" * 100_000,
        b"\xff\xfe".decode("latin-1"),
    ],
    ids=["list", "hosts-list", "entry-fields", "entry-release", "deep", "latin-1"],
)
def test_good_json_of_another_shape_is_a_located_error(net: Net, text: str) -> None:
    _corrupt_tip(net.root, GOOD_LOG_REF, "good.json", text)
    with pytest.raises(CorruptRecords) as info:
        Records(net.repo, open_git(net.repo)).last_good("r1")
    assert info.value.file == f"{GOOD_LOG_REF}:good.json"


def test_a_run_record_that_is_not_a_run_is_a_located_error(net: Net) -> None:
    _corrupt_tip(net.root, RUNS_REF, "run.json", '{"hosts": "r1"}')
    err = _cli_error(net, "history")
    assert f"{RUNS_REF}:run.json" in err


def test_recover_meets_a_corrupt_good_ref_with_a_located_error(net: Net) -> None:
    dead_run_journal(net.repo, "run-dead", net.first, "r3")
    _point(net, "r3", "blob")
    before = net.lab.running("r3")
    report = recover(net.repo, open_git(net.repo), load_inventory(net.repo))
    [host] = report.hosts
    assert host.host == "r3" and good_ref("r3") in host.message, host
    assert host.outcome is HostOutcome.UNKNOWN  # nothing decided from it: left for after the fix
    assert "git update-ref -d" in host.instructions, host  # what to do, as the other commands say it
    assert [f.run_id for f in unfinished(net.repo)] == ["run-dead"] and net.lab.running("r3") == before


def _pack_good_refs_with_garbage_for(net: Net, host: str) -> None:
    """Move every good ref into ``.git/packed-refs`` (as `git pack-refs` would, other refs left loose),
    with ``host``'s line holding no object id."""
    lines = ["# pack-refs with: peeled fully-peeled sorted "]
    for ref in sorted((net.root / ".git" / "refs" / "netimmutable" / "good").iterdir()):
        name = f"refs/netimmutable/good/{ref.name}"
        sha = ref.read_text().strip()
        lines.append(f"{'zzzz' if ref.name == host else sha} {name}")
        ref.unlink()
    (net.root / ".git" / "packed-refs").write_text("\n".join(lines) + "\n")


def test_a_garbage_line_of_packed_refs_is_a_located_error_naming_packed_refs(net: Net) -> None:
    """Issue 14: `zzzz refs/netimmutable/good/r3` in packed-refs made `status` print git's failure as a
    traceback and `verify` report r3 as "no-baseline" (a good ref read as no ref)."""
    before = {h: net.lab.running(h) for h in net.lab.hosts()}
    _pack_good_refs_with_garbage_for(net, "r3")
    for args in (("status",), ("verify",), ("rollback", "r3", "--yes")):
        err = _cli_error(net, *args)
        assert ".git/packed-refs" in err and "refs/netimmutable/good/r3" in err, (args, err)
    status = net.cli("status", "--format", "json")  # every other host's row is still shown
    rows = {row["host"]: row for row in json.loads(status.stdout)["hosts"]}
    assert status.exit_code == 1 and rows["r3"]["records_error"] and rows["r3"]["last_good"] is None
    assert all(rows[h]["last_good"] and not rows[h]["records_error"] for h in ("r1", "r2", "r4"))
    verify = net.cli("verify", "--format", "json")
    assert verify.exit_code == 1 and "no-baseline" not in verify.stdout
    assert {h: net.lab.running(h) for h in net.lab.hosts()} == before
    with pytest.raises(CorruptRecords) as info:
        Records(net.repo, open_git(net.repo)).last_good("r3")
    assert info.value.host == "r3" and info.value.file is not None and "packed-refs" in info.value.file


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "is empty"),
        (b"ref: refs/netimmutable/good/r3\n", "symbolic ref loop"),
        (b"\xff\xfe", "no object id"),
    ],
    ids=["empty", "symref-loop", "not-utf8"],
)
def test_a_good_ref_file_of_any_other_shape_is_a_located_error(net: Net, content: bytes, why: str) -> None:
    """Found by the records fuzz tier: an empty good ref file was an AssertionError traceback (GitPython),
    a good ref that is a symbolic ref to itself made every reader loop forever."""
    (net.root / ".git" / good_ref("r3")).write_bytes(content)
    for args in (("status",), ("verify",)):
        err = _cli_error(net, *args)
        assert "refs/netimmutable/good/r3" in err and why in err, (args, err)
