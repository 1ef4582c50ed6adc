"""Property tests of the records parsers (issue 14, the fuzz tier): whatever the bytes of ``good.json`` (the
good-log tip), of ``run.json`` (the runs tip), of a good ref's loose file or of its ``packed-refs`` line,
reading the records (``good_hosts``, ``last_good``, ``last_good_many``, ``runs``, ``last_run_of``) either
answers or raises a ``CorruptRecords`` naming the ref or file - never another exception, never a hang.

The house pattern of tests/unit/safety/test_properties.py: hostile fragments, arbitrary bytes and valid JSON
of arbitrary structure, a bounded number of examples.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netimmutable.artifacts import open_git
from netimmutable.errors import CorruptRecords
from netimmutable.records import GOOD_LOG_REF, RUNS_REF, Records, good_ref
from netimmutable.repo import NetworkRepo, open_repo
from tests.unit.netrepo_helpers import git, head, make_netrepo

_FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_RELEASE_PLACEHOLDER = "RELEASE"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkRepo]:
    """A network repo with its first release recorded good on a1 and one run recorded (written by
    netimmutable itself), so each example only replaces one record."""
    root = tmp_path_factory.mktemp("records") / "net"
    make_netrepo(root)
    repo = open_repo(root)
    records = Records(repo, open_git(repo))
    records.mark_good("a1", head(root), "run-1")
    yield repo


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True)
        | st.text(max_size=20)
        | st.just(_RELEASE_PLACEHOLDER)
        | st.just("1234567890" * 4)
    )
    keys = st.sampled_from(
        [
            "hosts",
            "a1",
            "b2",
            "release",
            "run_id",
            "when_utc",
            "operator",
            "kind",
            "host",
            "outcome",
            "cause",
            "flags",
            "started_utc",
            "ended_utc",
            "message",
        ]
    ) | st.text(max_size=8)
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
        max_leaves=30,
    )


def _record_bytes(release: str) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes; JSON of any structure (the release id where a value says so); deep nesting."""
    return st.one_of(
        st.binary(max_size=200),
        _json_values().map(lambda v: json.dumps(v).replace(_RELEASE_PLACEHOLDER, release).encode()),
        st.integers(1, 3000).map(lambda n: ("[" * n + "]" * n).encode()),
        st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


def _git_in(root: Path, data: bytes, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, input=data, capture_output=True, check=True)
    return done.stdout.decode().strip()


def _replace_tip(root: Path, ref: str, path: str, data: bytes, as_tree: bool) -> None:
    """A record commit on top of ``ref`` whose ``path`` holds ``data`` (or is a folder holding it)."""
    blob = _git_in(root, data, "hash-object", "-w", "--stdin")
    entry = f"100644 blob {blob}\t{path}\n"
    if as_tree:
        sub = _git_in(root, f"100644 blob {blob}\tx\n".encode(), "mktree")
        entry = f"040000 tree {sub}\t{path}\n"
    tree = _git_in(root, entry.encode(), "mktree")
    tip = git(root, "rev-parse", ref).strip()
    git(root, "update-ref", ref, git(root, "commit-tree", tree, "-p", tip, "-m", "fuzzed").strip(), tip)


def _reads() -> list[Callable[[Records], object]]:
    return [
        lambda r: r.good_hosts(),
        lambda r: r.last_good("a1"),
        lambda r: r.last_good("b2"),
        lambda r: r.last_good_many(["a1", "b2"]),
        lambda r: r.runs(limit=5),
        lambda r: r.runs("a1", limit=5),
        lambda r: r.last_run_of("a1"),
    ]


def _answers_or_corrupt(repo: NetworkRepo) -> None:
    for read in _reads():
        records = Records(repo, open_git(repo))  # no cache carried from one read to the next
        try:
            read(records)
        except CorruptRecords as exc:
            assert exc.message and "Traceback" not in str(exc)
            assert exc.file or "refs/netimmutable/" in exc.message  # it names the file or the ref


@_FUZZ
@given(data=st.data(), as_tree=st.booleans())
def test_any_good_json_reads_or_is_corrupt_records(
    data: st.DataObject, as_tree: bool, repo: NetworkRepo
) -> None:
    root = repo.root
    before = git(root, "rev-parse", GOOD_LOG_REF).strip()
    _replace_tip(root, GOOD_LOG_REF, "good.json", data.draw(_record_bytes(head(root))), as_tree)
    try:
        _answers_or_corrupt(repo)
    finally:
        git(root, "update-ref", GOOD_LOG_REF, before)


@_FUZZ
@given(data=st.data(), as_tree=st.booleans())
def test_any_run_json_reads_or_is_corrupt_records(
    data: st.DataObject, as_tree: bool, repo: NetworkRepo
) -> None:
    root = repo.root
    if not git(root, "for-each-ref", RUNS_REF):
        tree = _git_in(root, b"", "mktree")
        git(root, "update-ref", RUNS_REF, git(root, "commit-tree", tree, "-m", "first").strip())
    before = git(root, "rev-parse", RUNS_REF).strip()
    _replace_tip(root, RUNS_REF, "run.json", data.draw(_record_bytes(head(root))), as_tree)
    try:
        _answers_or_corrupt(repo)
    finally:
        git(root, "update-ref", RUNS_REF, before)


def _ref_bytes(release: str) -> st.SearchStrategy[bytes]:
    names = st.sampled_from(
        [good_ref("a1"), good_ref("b2"), GOOD_LOG_REF, "refs/heads/main", "HEAD", "refs/nowhere", "..", ""]
    )
    return st.one_of(
        st.binary(max_size=80),
        st.just(release.encode()),
        st.just(release[:20].encode()),
        st.just(("1234567890" * 4).encode()),
        names.map(lambda n: f"ref: {n}\n".encode()),
        st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


@_FUZZ
@given(data=st.data(), packed=st.booleans())
def test_any_good_ref_content_reads_or_is_corrupt_records(
    data: st.DataObject, packed: bool, repo: NetworkRepo
) -> None:
    """The loose file of ``refs/netimmutable/good/a1``, or its line of ``packed-refs``, holds anything."""
    root = repo.root
    content = data.draw(_ref_bytes(head(root)))
    loose = root / ".git" / good_ref("a1")
    saved = loose.read_bytes()
    try:
        if packed:
            loose.unlink()
            line = content.replace(b"\n", b" ").replace(b"\r", b" ")
            (root / ".git" / "packed-refs").write_bytes(
                b"# pack-refs with: peeled fully-peeled sorted \n"
                + line
                + b" "
                + good_ref("a1").encode()
                + b"\n"
            )
        else:
            loose.write_bytes(content)
        _answers_or_corrupt(repo)
    finally:
        (root / ".git" / "packed-refs").unlink(missing_ok=True)
        loose.write_bytes(saved)
