"""The run journal: fsynced before each step, unfinished runs found after a crash, clean runs closed."""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netimmutable import journal as journal_module
from netimmutable.errors import CorruptJournal, JournalWriteFailed
from netimmutable.journal import Journal, journal_path, unfinished, unfinished_runs
from netimmutable.repo import NetworkRepo
from netimmutable.settings import Settings
from tests.unit.deploy.conftest import Net, net
from tests.unit.records_fixtures import run_python

__all__ = ["net"]  # the fixture


@pytest.fixture
def repo(tmp_path: Path) -> NetworkRepo:
    return NetworkRepo(root=tmp_path, settings=Settings())


def test_clean_run_leaves_nothing_unfinished(repo: NetworkRepo) -> None:
    with Journal.open(repo, "run-1", release="a" * 40) as journal:
        journal.before("r1", "load", release="a" * 40)
        journal.after("r1", "load", "ok")
        journal.before("r1", "commit", revert_in=60, rollback_release="b" * 40)
        journal.after("r1", "commit", "ok")
        journal.finish("r1", "confirmed")
    assert unfinished(repo) == []
    lines = [json.loads(x) for x in journal_path(repo, "run-1").read_text().splitlines()]
    assert [x["type"] for x in lines] == ["open", "before", "after", "before", "after", "finish", "close"]
    assert all(x["utc"].endswith("Z") for x in lines)


_CRASH = """
import os, signal, sys
from pathlib import Path
from netimmutable.journal import Journal
from netimmutable.repo import NetworkRepo
from netimmutable.settings import Settings
repo = NetworkRepo(root=Path(sys.argv[1]), settings=Settings())
journal = Journal.open(repo, "run-k", release="c" * 40)
journal.before("r1", "load")
journal.after("r1", "load", "ok")
journal.finish("r1", "unchanged")
journal.before("r2", "load")
journal.after("r2", "load", "ok")
kept = {"revert_in": 30, "last_good_release": "d" * 40, "target": ["x"], "device_session": "napalm_7"}
journal.record("r2", "commit", kept)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_sigkilled_run_is_unfinished_with_its_in_flight_hosts(repo: NetworkRepo) -> None:
    proc = run_python(_CRASH, str(repo.root))
    assert proc.returncode == -signal.SIGKILL
    with journal_path(repo, "run-k").open("a") as handle:
        handle.write('{"type": "after", "host": "r2", "st')  # a line cut short by the crash
    [run] = unfinished_runs(repo)
    assert (run.run_id, run.alive, run.closed) == ("run-k", False, False)
    assert run.pid > 0 and run.pid != os.getpid()
    [flight] = run.hosts
    assert flight.host == "r2" and flight.steps == ("load", "commit") and flight.step_outcome is None
    assert flight.committed and flight.revert_in == 30
    assert flight.release == "c" * 40 and flight.rollback_release == "d" * 40
    assert flight.device_session == "napalm_7"  # EOS: the only session that can confirm or cancel it
    assert unfinished(repo) == [flight]


def test_a_live_run_is_not_unfinished(repo: NetworkRepo) -> None:
    journal = Journal.open(repo, "run-live")
    journal.before("r1", "commit")
    assert unfinished_runs(repo) == []
    assert [r.run_id for r in unfinished_runs(repo, include_alive=True)] == ["run-live"]
    journal.abandon()


def test_exception_leaves_journal_open_and_unresolved_survives_close(repo: NetworkRepo) -> None:
    data = journal_path(repo, "run-x")
    with pytest.raises(RuntimeError), Journal.open(repo, "run-x") as journal:
        journal.before("r1", "commit")
        raise RuntimeError("boom")
    assert b'"close"' not in data.read_bytes()
    with Journal.open(repo, "run-u") as journal:
        journal.before("r2", "commit")
        journal.before("r3", "commit")
        journal.finish("r3", "confirmed")
        journal.unresolved("r2", "unreachable after commit")
    # run-x's process (this one) is alive: only the closed run with an unresolved host shows
    [run] = unfinished_runs(repo)
    assert run.run_id == "run-u" and run.closed and [h.host for h in run.hosts] == ["r2"]
    Journal.attach(repo, "run-u").finish("r2", "recovered")
    assert unfinished_runs(repo) == []


def test_entries_are_durable_before_the_step(repo: NetworkRepo) -> None:
    journal = Journal.open(repo, "run-d")
    journal.before("r1", "commit", revert_deadline_utc="2024-01-01T00:05:00Z")
    # what another process reads right now (no close, no flush by us) already holds the entry
    text = journal_path(repo, "run-d").read_text()
    assert '"revert_deadline_utc": "2024-01-01T00:05:00Z"' in text
    with pytest.raises(TypeError):
        journal.before("r1", "commit", config={"a": 1})
    with pytest.raises(ValueError, match="unknown journal step"):
        journal.before("r1", "reboot")  # type: ignore[arg-type]
    journal.close()
    assert journal_path(repo, "run-d").exists()


def test_hosts_writing_at_once_share_fsyncs_and_every_entry_is_synced_before_it_returns(
    repo: NetworkRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from netimmutable import journal as journal_module

    real_fsync = os.fsync
    synced_upto: list[int] = []  # file size at each fsync: what that fsync made durable
    returned_at: dict[str, int] = {}  # host -> synced size when its before() returned

    def slow_fsync(fd: int) -> None:
        size = os.fstat(fd).st_size
        time.sleep(0.02)  # a slow disk: writers pile up behind one fsync
        real_fsync(fd)
        synced_upto.append(size)

    monkeypatch.setattr(journal_module.os, "fsync", slow_fsync)
    journal = Journal.open(repo, "run-group", release="a" * 40)
    barrier = threading.Barrier(20)

    def host(i: int) -> None:
        barrier.wait()
        journal.before(f"r{i}", "load", release="a" * 40)
        returned_at[f"r{i}"] = max(synced_upto)

    threads = [threading.Thread(target=host, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    journal.close()
    lines = journal_path(repo, "run-group").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert sorted(e["host"] for e in entries if e["type"] == "before") == sorted(f"r{i}" for i in range(20))
    # each host's entry was inside the synced part of the file when before() returned
    text = journal_path(repo, "run-group").read_bytes()
    for name, upto in returned_at.items():
        assert f'"host": "{name}"'.encode() in text[:upto], name
    assert len(synced_upto) < 1 + 20 + 1  # open + 20 entries + close would be one fsync each


# ---------------------------------------------------------------- corrupt journals (issue 14, item 9)
_OPEN = json.dumps({"type": "open", "run_id": "run-x", "kind": "deploy", "pid": 2**30, "utc": "x"}) + "\n"
_BEFORE = json.dumps({"type": "before", "host": "r1", "step": "commit", "details": {}, "utc": "x"}) + "\n"


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (os.urandom(64).replace(b"\n", b"") + b"\n" + os.urandom(64) + b"\n", 1),
        (_OPEN.encode() + b'{"type":"before"}\n', 2),
        (b'{"type":"before"}\n', 1),
        (_OPEN.replace('"pid": 1073741824', '"pid": "twelve"').encode() + _BEFORE.encode(), 1),
        (_OPEN.encode() + b"[" * 100_000 + b"]" * 100_000 + b"\n" + _BEFORE.encode(), 2),
        (_OPEN.encode() + _BEFORE.replace('"r1"', '"../r1"').encode(), 2),
        (_OPEN.encode() + _BEFORE.replace('"commit"', '"reboot"').encode(), 2),
        (_OPEN.encode() + _BEFORE.replace('"details": {}', '"details": {"release": [1]}').encode(), 2),
        (
            _OPEN.encode()
            + b'{"type": "before", "host": "r1", "step": "load"}\n'
            + b"not json\n"
            + _BEFORE.encode(),
            3,
        ),
    ],
    ids=[
        "random-bytes",
        "bare-before",
        "bare-before-alone",
        "pid-not-a-number",
        "deep-nesting",
        "bad-host",
        "bad-step",
        "non-scalar-detail",
        "garbage-mid-file",
    ],
)
def test_a_corrupt_journal_is_a_located_error_never_no_run(
    repo: NetworkRepo, content: bytes, line: int
) -> None:
    path = journal_path(repo, "run-x")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(CorruptJournal) as info:
        unfinished_runs(repo)
    assert info.value.file == ".netimmutable/journal/run-x.jsonl" and info.value.line == line
    assert info.value.hint is not None and "netimmutable verify" in info.value.hint


def test_the_hints_name_the_folder_the_journals_are_in(net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journals of a git repository are in git's common dir (`.git/netimmutable/journal/`); the hints
    sent people to `.netimmutable/journal/`, where there is nothing to move."""
    path = journal_path(net.repo, "run-x")
    assert path.parent == net.root / ".git" / "netimmutable" / "journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not json\n")
    with pytest.raises(CorruptJournal) as info:
        unfinished_runs(net.repo)
    assert info.value.hint is not None and ".git/netimmutable/journal/" in info.value.hint
    path.unlink()

    def full(_fd: int, _data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal_module.os, "write", full)
    with pytest.raises(JournalWriteFailed) as failed:
        Journal.open(net.repo, "run-y", release="a" * 40)
    monkeypatch.undo()
    assert failed.value.hint is not None and ".git/netimmutable/journal/" in failed.value.hint


def test_only_a_last_line_cut_short_is_ignored(repo: NetworkRepo) -> None:
    path = journal_path(repo, "run-x")
    path.parent.mkdir(parents=True)
    path.write_text(_OPEN + _BEFORE + '{"type": "after", "host": "r1", "st')  # the crash cut this write
    [run] = unfinished_runs(repo)
    assert [h.host for h in run.hosts] == ["r1"] and run.hosts[0].step == "commit"
    path.write_text("")  # created, then killed before the open entry: no step began
    assert unfinished_runs(repo) == []


def test_a_corrupt_journal_stops_deploy_even_for_another_host(net: Net) -> None:
    path = journal_path(net.repo, "run-x")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(200).replace(b"\n", b"") + b"\n")
    before = {h: net.lab.running(h) for h in net.lab.hosts()}
    for args in (("deploy", "--yes", "--limit", "r1"), ("status",), ("recover",)):
        result = net.cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert f"{path.relative_to(net.root)}:1" in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert {h: net.lab.running(h) for h in net.lab.hosts()} == before


_FRAGMENTS = [
    _OPEN,
    _BEFORE,
    '{"type": "after", "host": "r1", "step": "commit", "outcome": "ok"}\n',
    '{"type": "finish", "host": "r1", "outcome": 1}\n',
    '{"type": "close"}\n',
    "[[[[\n",
    "\xff\n",
    '{"type": "open", "pid": 1.5}\n',
    '{"type": "before", "host": "r1", "step": "load", "details": []}\n',
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_FRAGMENTS), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))),
        max_size=8,
    )
)
def test_any_journal_reads_as_runs_or_a_located_corrupt_journal(
    tmp_path_factory: Any, parts: list[str]
) -> None:
    repo = NetworkRepo(root=tmp_path_factory.mktemp("j"), settings=Settings())
    path = journal_path(repo, "run-x")
    path.parent.mkdir(parents=True)
    path.write_bytes("".join(parts).encode("utf-8", "surrogateescape"))
    try:
        runs = unfinished_runs(repo)
    except CorruptJournal as exc:
        assert exc.file == ".netimmutable/journal/run-x.jsonl" and exc.line is not None
    else:
        assert all(run.journal == path for run in runs)
