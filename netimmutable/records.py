"""Deployment records in the network repository's git, outside the user's branches.

    refs/netimmutable/good/<host>   -> the release commit last verified good on <host> (keeps it reachable
                                       even when a force-push removes it from every branch)
    refs/netimmutable/good-log      -> chain of commits whose ``good.json`` says who marked which release
                                       good on which host, when, in which run
    refs/netimmutable/runs          -> chain of record commits, one per run; each tree holds ``run.json``
                                       and ``rollback/<host>.cfg`` (running configs captured before a
                                       first deployment). Merge commits (from ``fetch_records``) hold none.
    refs/netimmutable/captured/<host>/<run id>
                                    -> the blob of the running config captured before <host>'s first
                                       deployment, written before the push: the journal names that blob, and
                                       this ref keeps it from ``git gc`` until the run's record holds it
                                       (then it is deleted; one left by a killed run is harmless)

Everything is written with plumbing (``hash-object -w``, ``mktree``, ``commit-tree``) and published with
``update-ref <ref> <new> <expected-old>``: a writer that lost a race re-reads the tip and tries again, so
concurrent writers never lose a record. The working tree, the index and the user's branches are never
touched. Records hold what the caller gives them: configs with ``<<secret:name>>`` placeholders, diffs
already masked. Timestamps are UTC (ISO 8601, ``Z``).

Examples:
    >>> good_ref("r1")
    'refs/netimmutable/good/r1'
    >>> HostOutcome("rolled-back").is_failure
    True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import io
import json
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
from gitdb import IStream, LooseObjectDB

from netimmutable.approval import approval, reachable
from netimmutable.artifacts import git_env, git_identity, read_blobs
from netimmutable.errors import CorruptRecords, NetImmutableError, RepoError
from netimmutable.inventory import HOST_NAME_RE
from netimmutable.outcomes import Cause, HostOutcome
from netimmutable.ref_files import PACKED_REFS, RefProblem, bad_packed_lines, packed_ref_names, resolve_ref
from netimmutable.render import CONFIG_SUFFIX, EXPECT_SUFFIX
from netimmutable.repo import NetworkRepo
from netimmutable.utctime import utc_now

__all__ = [
    "GOOD_LOG_REF",
    "GOOD_PREFIX",
    "RECORDS_NAMESPACE",
    "RUNS_REF",
    "GoodEntry",
    "HostOutcome",
    "HostRecord",
    "Records",
    "RunRecord",
    "good_ref",
    "new_run_id",
    "operator_identity",
    "utc_now",
]

RECORDS_NAMESPACE = "refs/netimmutable"
GOOD_PREFIX = f"{RECORDS_NAMESPACE}/good/"
CAPTURED_PREFIX = f"{RECORDS_NAMESPACE}/captured/"
GOOD_LOG_REF = f"{RECORDS_NAMESPACE}/good-log"
RUNS_REF = f"{RECORDS_NAMESPACE}/runs"
RUN_SCHEMA = "netimmutable.run/1"
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_RETRIES = 50
_STUCK_SECONDS = 1.0
"""How long a ref update that fails with nothing moved is tried again (a lock held by another writer
lasts milliseconds; a full disk does not go away)."""


def new_run_id() -> str:
    """A run id that sorts by start time and is unique across machines: ``20240501T120000Z-1a2b3c4d``."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def operator_identity(gitrepo: git.Repo | None = None) -> str:
    """``user@machine``, plus the git identity when one is configured: ``ann@lap (Ann <ann@x.org>)``."""
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    if gitrepo is None:
        return who
    reader = gitrepo.config_reader()
    name = str(reader.get_value("user", "name", default="") or "")
    email = str(reader.get_value("user", "email", default="") or "")
    if name or email:
        who += f" ({name} <{email}>)" if email else f" ({name})"
    return who


def good_ref(host: str) -> str:
    if not HOST_NAME_RE.match(host) or host.endswith((".lock", ".")) or ".." in host:
        raise RepoError(f"host name {host!r} cannot be used in a git ref name", host=host)
    return f"{GOOD_PREFIX}{host}"


def _captured_ref(host: str, run_id: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", run_id) is None:  # new_run_id: UTC time and hex
        raise RepoError(f"run id {run_id!r} cannot be used in a git ref name")
    return f"{CAPTURED_PREFIX}{good_ref(host).removeprefix(GOOD_PREFIX)}/{run_id}"


# How a run is summed up: its most severe host outcome (a skipped host says less than a rolled-back one).
_SEVERITY = {
    HostOutcome.UNCHANGED: 0,
    HostOutcome.DEPLOYED: 1,
    HostOutcome.SKIPPED: 2,
    HostOutcome.REFUSED: 3,
    HostOutcome.UNREACHABLE: 4,
    HostOutcome.FAILED: 5,
    HostOutcome.REVERTED: 6,
    HostOutcome.ROLLED_BACK: 7,
    HostOutcome.UNKNOWN: 99,
    HostOutcome.ROLLBACK_FAILED: 100,
}


@dataclass(frozen=True, slots=True)
class GoodEntry:
    """The release last verified good on a host, and who recorded it when."""

    host: str
    release: str
    run_id: str
    when_utc: str
    operator: str


@dataclass(frozen=True, slots=True)
class HostRecord:
    """One host's part of a run."""

    host: str
    outcome: HostOutcome
    message: str = ""
    release: str | None = None
    """The release this run put (or tried to put) on the host."""
    device_diff: str = ""
    """The device's own diff of the candidate, secrets masked by the caller."""
    pre_config_digest: str | None = None
    post_config_digest: str | None = None
    pre_state_digest: str | None = None
    post_state_digest: str | None = None
    rollback_target: str | None = None
    """The last-good release sha the host goes back to, or ``"captured"`` (``rollback/<host>.cfg``)."""
    cause: Cause = Cause.NONE
    failed_utc: str | None = None
    """When the host's change was found failing and its rollback began."""
    ended_utc: str | None = None
    """When the host's outcome was decided (a rollback: once it was verified)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "outcome": str(self.outcome),
            "cause": self.cause.value,
            "failed_utc": self.failed_utc,
            "ended_utc": self.ended_utc,
            "message": self.message,
            "release": self.release,
            "device_diff": self.device_diff,
            "pre_config_digest": self.pre_config_digest,
            "post_config_digest": self.post_config_digest,
            "pre_state_digest": self.pre_state_digest,
            "post_state_digest": self.post_state_digest,
            "rollback_target": self.rollback_target,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HostRecord:
        def opt(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(
            host=str(data["host"]),
            outcome=HostOutcome.parse(str(data.get("outcome", "unknown"))),
            cause=Cause.parse(str(data.get("cause") or "")),
            failed_utc=opt("failed_utc"),
            ended_utc=opt("ended_utc"),
            message=str(data.get("message") or ""),
            release=opt("release"),
            device_diff=str(data.get("device_diff") or ""),
            pre_config_digest=opt("pre_config_digest"),
            post_config_digest=opt("post_config_digest"),
            pre_state_digest=opt("pre_state_digest"),
            post_state_digest=opt("post_state_digest"),
            rollback_target=opt("rollback_target"),
        )


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run (deploy, rollback, recover): who, when (UTC), which release, flags, per-host outcomes."""

    run_id: str
    kind: str
    release: str | None
    started_utc: str
    ended_utc: str
    operator: str
    hosts: tuple[HostRecord, ...] = ()
    flags: tuple[str, ...] = ()
    """Overrides and options as given, e.g. ``("--force-drift", "--revert-in=60")``."""
    message: str = ""
    record_sha: str | None = field(default=None, compare=False)
    """The record commit (set when read from git)."""

    @property
    def outcome(self) -> HostOutcome | None:
        """The most severe host outcome (None for a run without hosts)."""
        if not self.hosts:
            return None
        return max((h.outcome for h in self.hosts), key=lambda o: _SEVERITY[o])

    def host(self, name: str) -> HostRecord | None:
        return next((h for h in self.hosts if h.host == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RUN_SCHEMA,
            "run_id": self.run_id,
            "kind": self.kind,
            "release": self.release,
            "started_utc": self.started_utc,
            "ended_utc": self.ended_utc,
            "operator": self.operator,
            "flags": list(self.flags),
            "message": self.message,
            "outcome": str(self.outcome) if self.outcome else None,
            "hosts": [h.to_json() for h in self.hosts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], record_sha: str | None = None) -> RunRecord:
        release = data.get("release")
        return cls(
            run_id=str(data["run_id"]),
            kind=str(data.get("kind") or "deploy"),
            release=None if release is None else str(release),
            started_utc=str(data.get("started_utc") or ""),
            ended_utc=str(data.get("ended_utc") or ""),
            operator=str(data.get("operator") or ""),
            hosts=tuple(HostRecord.from_json(h) for h in data.get("hosts") or ()),
            flags=tuple(str(f) for f in data.get("flags") or ()),
            message=str(data.get("message") or ""),
            record_sha=record_sha,
        )


class Records:
    """Read and write deployment records of one network repository (see the module docstring)."""

    def __init__(self, repo: NetworkRepo, gitrepo: git.Repo) -> None:
        self.repo = repo
        self.git = gitrepo
        self._snapshot_index: dict[str, dict[str, bytes]] = {}
        """release commit sha -> snapshot file name -> blob binsha (a commit's tree never changes)."""
        self._verified: dict[str, str] = {}
        self._loose: LooseObjectDB | None = None
        self._operator: str | None = None
        self._ident: tuple[str, str, bool] | None = None
        self._approval_tip: str | None = None
        self._good_log: tuple[str, dict[str, dict[str, str]]] | None = None
        """(good-log tip, its table) as this object last wrote or read it: a mark that finds the tip where it
        left it does not read and parse ``good.json`` back from git."""
        """full commit ids already verified to be commits (objects never change)."""

    # ---------------------------------------------------------------------------------------- plumbing
    def _identity(self) -> tuple[str, str, bool]:
        if self._ident is None:  # read git's config once per Records, not per object written
            self._ident = git_identity(self.git)
        return self._ident

    def _run(self, *args: str, data: bytes | None = None, strip: bool = True) -> str:
        env = git_env(self.git, self._identity())
        try:
            if data is None:
                return str(self.git.git.execute(["git", *args], env=env, strip_newline_in_stdout=strip))
            with tempfile.TemporaryFile() as stdin:
                stdin.write(data)
                stdin.seek(0)
                return str(
                    self.git.git.execute(
                        ["git", *args], istream=stdin, env=env, strip_newline_in_stdout=strip
                    )
                )
        except git.GitCommandError as exc:
            raise RepoError(f"git {args[0]} failed: {str(exc.stderr).strip() or exc}") from None

    def ref(self, name: str) -> str | None:
        """The commit a full ref name (``refs/...``) points at, or None when it does not exist.

        Read in process (loose ref file or packed-refs), like ``git rev-parse --verify REF^{commit}``. A ref
        that exists but names a missing object, or one that is not a commit (an annotated tag of a commit is
        peeled), is a ``CorruptRecords`` naming it and what to do: never "no record".
        """
        try:
            sha = resolve_ref(Path(self.git.git_dir), Path(self.git.common_dir), name)
        except RefProblem as problem:
            if problem.path.name == PACKED_REFS:  # git reads no ref while that line is there
                raise _corrupt_packed(name, problem) from None
            raise _corrupt_ref(name, problem.why) from None
        return None if sha is None else self._commit_at(name, sha)

    def _commit_at(self, ref: str, sha: str) -> str:
        """The commit ``sha`` (the value of ``ref``) is, or peels to; ``CorruptRecords`` otherwise."""
        known = self._verified.get(sha)
        if known is not None:
            return known
        try:
            kind = self.git.odb.info(bytes.fromhex(sha)).type
        except (ValueError, git.BadObject, git.BadName):
            raise _corrupt_ref(ref, f"points at {sha[:10]}, which is not in this repository") from None
        commit: str | None = sha if kind == b"commit" else None
        if kind == b"tag":
            try:
                commit = str(self.git.git.rev_parse("--verify", "--quiet", f"{sha}^{{commit}}")).strip()
            except git.GitCommandError:
                commit = None
        if not commit:
            raise _corrupt_ref(ref, f"points at a {kind.decode()} ({sha[:10]}), not a commit")
        self._verified[sha] = commit
        return commit

    def _store(self, kind: bytes, data: bytes) -> str:
        """Write one loose object into the repository's object store, in process (no git subprocess)."""
        if self._loose is None:
            self._loose = LooseObjectDB(str(Path(self.git.common_dir) / "objects"))
        try:
            return str(self._loose.store(IStream(kind, len(data), io.BytesIO(data))).hexsha.decode())
        except OSError as exc:  # disk full, quota, read-only: gitdb writes a temporary file, then renames
            raise _write_failed("a record object", exc.strerror or str(exc)) from None

    def save_blob(self, text: str) -> str:
        """Store ``text`` as a git blob (e.g. a captured running config before it is pushed over)."""
        return self._store(b"blob", text.encode("utf-8"))

    def keep_captured(self, host: str, run_id: str, text: str) -> str:
        """Store the running config captured before ``host``'s first deployment as a blob, referenced by
        ``refs/netimmutable/captured/<host>/<run_id>`` so that nothing (``git gc --prune=now`` included) can
        remove it while the run's journal needs it; returns the blob sha. ``write_run`` deletes the ref once
        the run record holds the same blob."""
        sha = self.save_blob(text)
        ref = _captured_ref(host, run_id)
        self._run(
            "update-ref",
            "-m",
            f"netimmutable: config captured before the first deployment of {host}",
            ref,
            sha,
        )
        return sha

    def read_blob(self, sha: str) -> str:
        return self._run("cat-file", "blob", sha, strip=False)

    def _tree(self, entries: Mapping[str, str | Mapping[str, str]]) -> str:
        """Write a tree: name -> text (a blob) or name -> {name -> text} (a sub-tree of blobs)."""
        items: list[tuple[bytes, bytes]] = []  # (sort key, raw entry); git sorts a tree's name as "name/"
        for name, value in entries.items():
            raw_name = name.encode("utf-8")
            if isinstance(value, str):
                mode, sha, key = b"100644", self.save_blob(value), raw_name
            else:
                mode, sha, key = b"40000", self._tree(value), raw_name + b"/"
            items.append((key, mode + b" " + raw_name + b"\0" + bytes.fromhex(sha)))
        return self._store(b"tree", b"".join(raw for _, raw in sorted(items)))

    def _commit(self, tree: str, parents: tuple[str, ...], message: str) -> str:
        name, email, _ = self._identity()
        stamp = f"{name} <{email}> {int(time.time())} +0000"
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents), f"author {stamp}", f"committer {stamp}"]
        body = message if message.endswith("\n") else message + "\n"
        return self._store(b"commit", ("\n".join(lines) + "\n\n" + body).encode("utf-8"))

    def _update_ref(self, ref: str, new: str, old: str | None, reason: str) -> bool:
        """Compare-and-swap ``ref`` from ``old`` (None: must not exist) to ``new``; False when it moved (a
        lost race: the caller re-reads and tries again). A failure with nothing moved (a full disk, say) is
        tried again for ``_STUCK_SECONDS`` only, then raised with git's reason."""
        return self._update_refs(((ref, new, old),), reason)

    def _update_refs(self, updates: Iterable[tuple[str, str, str | None]], reason: str) -> bool:
        """Compare-and-swap several refs in one transaction (each from old, None: must not exist); False
        when one of them moved meanwhile, ``RepoError`` when git failed otherwise (nothing moved)."""
        wanted = list(updates)
        lines = ["start"]
        for ref, new, old in wanted:
            lines.append(f"update {ref} {new} {old if old is not None else '0' * len(new)}")
        lines += ["prepare", "commit", ""]
        stuck_since: float | None = None
        while True:
            try:
                self._run("update-ref", "-m", reason, "--stdin", data="\n".join(lines).encode())
            except RepoError as exc:
                if any(self.ref(ref) != old for ref, _new, old in wanted):
                    return False
                # nothing moved: another writer holds a ref's lock for a moment, or git cannot write at all
                stuck_since = time.monotonic() if stuck_since is None else stuck_since
                if time.monotonic() - stuck_since > _STUCK_SECONDS:
                    refs = ", ".join(ref for ref, _new, _old in wanted)
                    raise _write_failed(refs, exc.message) from None
                time.sleep(0.02)
                continue
            return True

    def _append(self, ref: str, build: Any, message: str) -> str:
        """Add a commit on top of chain ``ref``; ``build(tip)`` returns the tree. Retries on races."""
        for attempt in range(_RETRIES):
            tip = self.ref(ref)
            tree = build(tip)
            commit = self._commit(tree, (tip,) if tip else (), message)
            if self._update_ref(ref, commit, tip, message.splitlines()[0]):
                return commit
            time.sleep(0.01 * (attempt + 1))
        raise RepoError(f"could not update {ref}: other writers kept moving it", hint="try again")

    def _json_at(self, commit: str, path: str, ref: str) -> Any:
        """``path`` of record commit ``commit`` (on chain ``ref``) as JSON; None when the commit has none."""
        try:
            blob = self.git.commit(commit).tree / path
        except KeyError:
            return None
        try:
            return json.loads(blob.data_stream.read().decode("utf-8"))
        except UnicodeDecodeError:
            raise self._corrupt_file(ref, commit, path, "is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise self._corrupt_file(ref, commit, path, f"is not JSON (line {exc.lineno})") from None
        except RecursionError:
            raise self._corrupt_file(ref, commit, path, "is nested too deeply") from None

    def _corrupt_file(self, ref: str, commit: str, path: str, why: str) -> CorruptRecords:
        """The error for a record file that is not what netimmutable wrote, with the way back to the record
        before it."""
        try:
            parents = [p.hexsha for p in self.git.commit(commit).parents]
        except (ValueError, git.BadObject):
            parents = []
        back = (
            f"`git update-ref {ref} {parents[0]}` drops it when it is the newest (`git log -p {ref}`)"
            if parents
            else f"`git update-ref -d {ref}` drops the chain"
        )
        return CorruptRecords(
            f"record commit {commit[:10]}: {path} {why}",
            file=f"{ref}:{path}",
            hint=f"{back}; or `netimmutable records fetch` to take a remote's records",
        )

    # ------------------------------------------------------------------------------------------ good
    def _good_table(self) -> dict[str, dict[str, str]]:
        return self._good_table_at(self.ref(GOOD_LOG_REF))

    def _good_table_at(self, tip: str | None, ref: str = GOOD_LOG_REF) -> dict[str, dict[str, str]]:
        """The hosts table of ``good.json`` at good-log commit ``tip`` (a copy: callers may change it);
        ``CorruptRecords`` when it is not what netimmutable writes."""
        if tip is None:
            return {}
        cached = self._good_log
        if cached is None or cached[0] != tip:  # a commit never changes: the tip's sha names its table
            data = self._json_at(tip, "good.json", ref)
            why = _good_table_problem(data)
            if why is not None:
                raise self._corrupt_file(ref, tip, "good.json", why)
            hosts = (data or {}).get("hosts") or {}
            cached = (tip, {str(k): dict(v) for k, v in hosts.items()})
            self._good_log = cached
        return dict(cached[1])

    def good_hosts(self) -> list[str]:
        """Every host that has a last-good release."""
        try:
            out = self.git.git.for_each_ref("--format=%(refname)", GOOD_PREFIX)
        except git.GitCommandError as exc:
            common = Path(self.git.common_dir)
            failed = RepoError(f"git for-each-ref failed: {str(exc.stderr).strip() or exc}")
            try:
                if not bad_packed_lines(common):
                    raise failed from None
                # git stops at a garbage packed-refs line: list the good refs in process, the garbage one
                # too (reading it is then that host's CorruptRecords, the others are read as usual)
                packed = packed_ref_names(common, GOOD_PREFIX)
            except RefProblem:
                raise failed from None
            folder = common / GOOD_PREFIX
            loose = [p.relative_to(common).as_posix() for p in folder.rglob("*") if p.is_file()]
            out = "\n".join([*loose, *packed])
        names = {line.removeprefix(GOOD_PREFIX) for line in out.splitlines() if line}
        return sorted(name for name in names if not name.endswith(".lock"))

    def last_good(self, host: str) -> GoodEntry | None:
        release = self.ref(good_ref(host))
        if release is None:
            return None
        return _good_entry(host, release, self._good_table().get(host))

    def last_good_many(self, hosts: Iterable[str]) -> dict[str, GoodEntry | None]:
        """``last_good`` of every host in ``hosts``, with two git calls in all instead of two per host."""
        names = list(dict.fromkeys(hosts))
        refs = {good_ref(host): host for host in names}  # validates every name, as last_good does
        found: dict[str, str | None] = dict.fromkeys(names)
        if names:
            try:
                out = self.git.git.for_each_ref(
                    "--format=%(refname) %(objecttype) %(objectname) %(*objecttype) %(*objectname)",
                    GOOD_PREFIX,
                )
            except git.GitCommandError:  # some good ref names a missing object: ask for ours one by one
                out = "\n".join(f"{ref} ?" for ref in refs)
            for line in out.splitlines():
                ref, kind, sha, peeled_kind, peeled = [*line.split(" "), "", "", "", ""][:5]
                host = refs.get(ref)
                if host is None:
                    continue
                if kind == "commit":
                    found[host] = sha
                elif kind == "tag" and peeled_kind == "commit":
                    found[host] = peeled
                else:  # anything rev-parse peels differently (nested tags, ...): ask it
                    found[host] = self.ref(ref)
            common = Path(self.git.common_dir)
            for ref, host in refs.items():  # for-each-ref skips a ref file it cannot parse: ask it too
                if found[host] is None and (common / ref).is_file():
                    found[host] = self.ref(ref)
        table = self._good_table() if any(found.values()) else {}
        result: dict[str, GoodEntry | None] = {}
        for host in names:
            release = found[host]
            if release is None:
                result[host] = None
                continue
            result[host] = _good_entry(host, release, table.get(host))
        return result

    def mark_good(self, host: str, release_sha: str, run_id: str) -> None:
        """Record ``release_sha`` as verified good on ``host`` (call only after verification passed)."""
        self.mark_good_many([(host, release_sha)], run_id)

    def _resolve_release(self, host: str, release_sha: str) -> str:
        release = self._verified.get(release_sha)
        if release is None:
            try:
                release = str(self.git.git.rev_parse("--verify", f"{release_sha}^{{commit}}")).strip()
            except git.GitCommandError:
                raise RepoError(f"unknown release {release_sha!r}", host=host) from None
            if release == release_sha:  # only a full commit id is cached: names like `main` move
                self._verified[release_sha] = release
        return release

    def mark_good_many(self, marks: Sequence[tuple[str, str]], run_id: str) -> None:
        """``mark_good`` of several (host, release) pairs: every good ref and the good-log move in one
        transaction, or none does (one good-log commit and one ``git update-ref`` for all of them)."""
        if not marks:
            return
        latest = dict(marks)  # the last mark of a host wins, as it would one call after another
        refs = {host: good_ref(host) for host in latest}  # validates every host name first
        releases = {host: self._resolve_release(host, sha) for host, sha in latest.items()}
        when, operator = utc_now(), self.operator()
        entries = {
            host: {"release": release, "run_id": run_id, "when_utc": when, "operator": operator}
            for host, release in releases.items()
        }
        if len(releases) == 1:
            ((host, release),) = releases.items()
            message = f"good {host} {release[:10]} (run {run_id})"
        else:
            lines = (f"good {host} {release[:10]}" for host, release in sorted(releases.items()))
            message = f"good {len(releases)} hosts (run {run_id})\n\n" + "\n".join(lines)
        for attempt in range(_RETRIES):
            # the hosts' good refs and the good-log move together, in one transaction, or not at all
            olds = {host: self.ref(ref) for host, ref in refs.items()}
            tip = self.ref(GOOD_LOG_REF)
            hosts = self._good_table_at(tip)
            hosts.update(entries)
            log = self._commit(self._tree({"good.json": _dumps_good(hosts)}), (tip,) if tip else (), message)
            updates = [(refs[host], releases[host], olds[host]) for host in sorted(refs)]
            reason = f"netimmutable: {message.splitlines()[0]}"
            if self._update_refs((*updates, (GOOD_LOG_REF, log, tip)), reason):
                self._good_log = (log, hosts)
                return
            time.sleep(0.01 * (attempt + 1))
        first = sorted(refs)[0]
        raise RepoError(
            f"could not update {refs[first]}: other writers kept moving it", host=first, hint="try again"
        )

    def release_on_branch(self, release_sha: str, branch: str | None = None) -> bool | None:
        """Whether ``release_sha`` is still reachable from the approval branch (a force-push may drop it);
        None when a shallow clone cannot prove it either way (``approval.reachable``).

        ``branch``: a local branch name; default the approval branch as ``netimmutable.approval`` finds it.
        """
        if branch is None:
            if self._approval_tip is None:  # once per Records: `status` asks for every host
                try:
                    self._approval_tip = approval(self.git).sha
                except NetImmutableError:
                    self._approval_tip = ""
            if not self._approval_tip:
                return False
            tip = self._approval_tip
        else:
            tip = f"refs/heads/{branch}"
        return reachable(self.git, release_sha, tip)

    def _snapshot_blobs(self, release: str) -> dict[str, bytes]:
        """File name -> blob binsha of the snapshots folder of commit ``release`` (a full sha), read once:
        looking each path up from the commit parses the whole folder's tree again, per host."""
        index = self._snapshot_index.get(release)
        if index is None:
            try:
                tree = self.git.commit(release).tree / self.repo.settings.snapshots_dir
                index = {blob.name: blob.binsha for blob in tree.blobs}
            except (KeyError, ValueError, TypeError, AttributeError):
                index = {}
            self._snapshot_index[release] = index
        return index

    def _artifact(self, release: str, host: str, suffix: str) -> str | None:
        name = f"{host}{suffix}"
        if _FULL_SHA.fullmatch(release):
            binsha = self._snapshot_blobs(release).get(name)
            if binsha is not None:
                return str(self.git.odb.stream(binsha).read().decode("utf-8"))
        path = f"{self.repo.settings.snapshots_dir}/{name}"
        try:
            blob = self.git.commit(release).tree / path
        except (KeyError, ValueError):
            return None
        return str(blob.data_stream.read().decode("utf-8"))

    def artifact(self, release: str, host: str) -> str | None:
        """``snapshots/<host>.cfg`` at ``release`` (None when the release has none)."""
        return self._artifact(release, host, CONFIG_SUFFIX)

    def expectations(self, release: str, host: str) -> str | None:
        return self._artifact(release, host, EXPECT_SUFFIX)

    def artifacts_many(self, release: str, names: Iterable[str]) -> dict[str, str | None]:
        """``snapshots/<name>`` at ``release`` for every file name in ``names`` (None where the release has
        none), the blobs read through one ``git cat-file --batch``: the last-good artifacts of a fleet."""
        wanted = list(dict.fromkeys(names))
        if not _FULL_SHA.fullmatch(release):
            return {name: self._artifact(release, name, "") for name in wanted}
        index = self._snapshot_blobs(release)
        shas = {name: index[name].hex() for name in wanted if name in index}
        contents = read_blobs(self.git, list(shas.values()))
        out: dict[str, str | None] = {}
        for name in wanted:
            sha = shas.get(name)
            # not in the index (e.g. not a file of the snapshots folder): the one-by-one path decides
            out[name] = (
                contents[sha].decode("utf-8") if sha is not None else self._artifact(release, name, "")
            )
        return out

    def good_artifact(self, host: str) -> str | None:
        """The config of the host's last-good release, else the running config captured before its first
        deployment (the newest run that captured one), else None."""
        entry = self.last_good(host)
        if entry is not None:
            return self.artifact(entry.release, host)
        return self.captured_config(host)

    def captured_config(self, host: str, limit: int = 500) -> str | None:
        """The newest ``rollback/<host>.cfg`` stored with a run record."""
        for sha in self._run_shas(limit):
            try:
                blob = self.git.commit(sha).tree / f"rollback/{host}{CONFIG_SUFFIX}"
            except KeyError:
                continue
            return str(blob.data_stream.read().decode("utf-8"))
        return None

    # ------------------------------------------------------------------------------------------ runs
    def operator(self) -> str:
        if self._operator is None:
            self._operator = operator_identity(self.git)
        return self._operator

    def write_run(self, run: RunRecord, captured: Mapping[str, str]) -> str:
        """Append a run record (and the configs captured before first deployments); returns its commit."""
        payload = _dumps(run.to_json())
        files: dict[str, str | Mapping[str, str]] = {"run.json": payload}
        if captured:
            for host in captured:
                good_ref(host)  # validates the name
            files["rollback"] = {f"{h}{CONFIG_SUFFIX}": text for h, text in captured.items()}
        tree = self._tree(files)
        outcome = run.outcome
        summary = f"{run.kind} {run.run_id}: {run.release[:10] if run.release else '-'}"
        summary += f", {len(run.hosts)} host(s), {outcome}" if outcome else ""
        sha = self._append(RUNS_REF, lambda _tip: tree, f"{summary}\n\nNetimmutable-Run: {run.run_id}\n")
        kept = [_captured_ref(host, run.run_id) for host in captured]
        if kept:  # the run record holds those blobs now: the refs that kept them for the journal can go
            with contextlib.suppress(RepoError):  # one left behind is harmless: the record is written
                self._run("update-ref", "--stdin", data="".join(f"delete {ref}\n" for ref in kept).encode())
        return sha

    def _run_shas(self, limit: int) -> Iterator[str]:
        if self.ref(RUNS_REF) is None:
            return
        out = self.git.git.log("--format=%H", "--date-order", f"-n{limit}", RUNS_REF, "--")
        yield from (line for line in out.splitlines() if line)

    def runs(self, host: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first; with ``host``, only runs that touched it."""
        result: list[RunRecord] = []
        for sha in self._run_shas(max(limit, 1) * 20 if host else max(limit, 1) * 2):
            data = self._json_at(sha, "run.json", RUNS_REF)
            if data is None:  # a merge commit from fetch_records
                continue
            try:
                run = RunRecord.from_json(data, record_sha=sha)
            except (KeyError, TypeError, ValueError, AttributeError):
                raise self._corrupt_file(RUNS_REF, sha, "run.json", "is not a run record") from None
            if host is not None and run.host(host) is None:
                continue
            result.append(run)
            if len(result) >= limit:
                break
        return result

    def run(self, run_id: str) -> RunRecord | None:
        return next((r for r in self.runs(limit=1000) if r.run_id == run_id), None)

    def last_run_of(self, host: str) -> tuple[RunRecord, HostRecord] | None:
        runs = self.runs(host, limit=1)
        if not runs:
            return None
        record = runs[0].host(host)
        return None if record is None else (runs[0], record)

    # -------------------------------------------------------------------------------- push and fetch
    def push_records(self, remote: str) -> None:
        """Push every record ref to ``remote`` in one atomic push: the run and good-log chains fast-forward
        only (fetch first when the remote moved), and with them the good refs, which may move back (a
        rollback marks an older release good): a good mark always moves the good-log too, so a good ref
        newer on the remote makes the whole push fail instead of being overwritten. Leases are never pushed
        here (``netimmutable.leases`` moves them by compare-and-swap)."""
        out = self.git.git.for_each_ref("--format=%(refname)", f"{RECORDS_NAMESPACE}/")
        refs = [r for r in out.splitlines() if r and not r.startswith(f"{RECORDS_NAMESPACE}/leases/")]
        if not refs:
            return
        specs = [f"+{r}:{r}" if r.startswith(GOOD_PREFIX) else f"{r}:{r}" for r in refs]
        try:
            self.git.git.push("--atomic", "--quiet", remote, *specs)
        except git.GitCommandError as exc:
            raise RepoError(
                f"pushing records to {remote} failed: {str(exc.stderr).strip() or exc}",
                hint=f"`netimmutable records fetch {remote}` merges the remote's records; then push again",
            ) from None

    def fetch_records(
        self,
        remote: str,
        accept: Callable[[str, str], str | None] | None = None,
        refused: list[str] | None = None,
    ) -> list[str]:
        """Fetch ``remote``'s records and merge them into ours; returns the refs that changed.

        Run chains are joined with a merge commit (no record is dropped on either side); for each host the
        newer good mark (by its UTC time) wins. ``accept(host, release)``: why a remote's good mark must not
        move the local good ref (None: it may); each refused mark is appended to ``refused`` as a message
        and its ref stays where it was (``netimmutable.trust`` checks them before anything moves).
        """
        # a namespace of this call alone: worktrees of the repository fetch before their runs at the same time
        staging = f"refs/netimmutable-fetch/{_safe(remote)}-{uuid.uuid4().hex[:12]}"
        try:
            self.git.git.fetch("--no-tags", remote, f"+{RECORDS_NAMESPACE}/*:{staging}/*")
        except git.GitCommandError as exc:
            raise RepoError(
                f"fetching records from {remote} failed: {str(exc.stderr).strip() or exc}"
            ) from None
        changed: list[str] = []
        try:
            if self._merge_chain(RUNS_REF, f"{staging}/runs", None):
                changed.append(RUNS_REF)
            theirs_table = self._table_at(f"{staging}/good-log")
            ours_table = self._good_table()
            moves = self._good_moves(theirs_table, ours_table, staging, remote, accept, refused)
            filtered = len(theirs_table) != len(self._table_at(f"{staging}/good-log"))
            tables = (ours_table, theirs_table)
            if self._merge_chain(GOOD_LOG_REF, f"{staging}/good-log", tables, rewrite=filtered):
                changed.append(GOOD_LOG_REF)
            for host, ref, release in moves:
                self._update_ref(ref, release, self.ref(ref), f"netimmutable: good {host} from {remote}")
                changed.append(ref)
        finally:
            out = self.git.git.for_each_ref("--format=%(refname)", staging)
            deletes = "".join(f"delete {name}\n" for name in out.splitlines() if name)
            if deletes:  # one git process, however many refs the remote has
                self._run("update-ref", "--stdin", data=deletes.encode())
        return changed

    def _good_moves(
        self,
        theirs_table: dict[str, dict[str, str]],
        ours_table: Mapping[str, Mapping[str, str]],
        staging: str,
        remote: str,
        accept: Callable[[str, str], str | None] | None,
        refused: list[str] | None,
    ) -> list[tuple[str, str, str]]:
        """(host, ref, release) of every remote good mark that moves a local good ref; a mark ``accept``
        refuses is removed from ``theirs_table`` (it stays out of the merged good-log) and reported."""
        moves: list[tuple[str, str, str]] = []
        for host, meta in sorted(theirs_table.items()):
            mine = ours_table.get(host)
            if mine is not None and str(meta.get("when_utc", "")) <= str(mine.get("when_utc", "")):
                continue
            ref, release = good_ref(host), str(meta["release"])
            if self.ref(ref) == release:
                continue  # already ours
            why = accept(host, release) if accept is not None else None
            if why is not None:  # checked before anything moves
                del theirs_table[host]
                if refused is not None:
                    refused.append(f"{ref} not moved to {release[:10]} from {remote}: {why}")
            elif self.ref(f"{staging}/good/{host}") == release:
                moves.append((host, ref, release))
        return moves

    def _table_at(self, ref: str) -> dict[str, dict[str, str]]:
        return self._good_table_at(self.ref(ref), ref)

    def _merge_chain(
        self,
        ref: str,
        theirs_ref: str,
        tables: tuple[dict[str, Any], dict[str, Any]] | None,
        *,
        rewrite: bool = False,
    ) -> bool:
        """Join chain ``theirs_ref`` into ``ref``; ``rewrite``: their table was filtered, so never take their
        tip as it is (a merge commit holds the merged table)."""
        theirs = self.ref(theirs_ref)
        if theirs is None:
            return False
        for _ in range(_RETRIES):
            ours = self.ref(ref)
            if ours == theirs or (ours and self._is_ancestor(theirs, ours)):
                return False
            if ours is None and rewrite and tables is not None:
                new = self._commit(
                    self._tree({"good.json": _dumps_good(tables[1])}), (theirs,), "records fetched (filtered)"
                )
            elif ours is None or (not rewrite and self._is_ancestor(ours, theirs)):
                new = theirs
            else:
                if tables is None:
                    tree = self._tree({})
                else:
                    merged = dict(tables[0])
                    for host, meta in tables[1].items():
                        if host not in merged or str(meta["when_utc"]) > str(merged[host]["when_utc"]):
                            merged[host] = meta
                    tree = self._tree({"good.json": _dumps_good(merged)})
                new = self._commit(tree, (ours, theirs), "merge records fetched from a remote")
            if self._update_ref(ref, new, ours, "netimmutable: merge fetched records"):
                return True
        raise RepoError(f"could not update {ref}: other writers kept moving it")  # pragma: no cover

    def _is_ancestor(self, a: str, b: str) -> bool:
        try:
            self.git.git.merge_base("--is-ancestor", a, b)
        except git.GitCommandError:
            return False
        return True


def _good_entry(host: str, release: str, meta: Mapping[str, str] | None) -> GoodEntry:
    """The entry of a good ref pointing at ``release``; ``meta``: the host's line of ``good.json``."""
    if meta and meta.get("release") == release:
        return GoodEntry(host, release, meta["run_id"], meta["when_utc"], meta["operator"])
    return GoodEntry(host, release, "", "", "(unknown: the ref was set outside netimmutable)")


def _write_failed(what: str, why: str) -> RepoError:
    return RepoError(
        f"records not written: {what} could not be written ({why}); every record ref is as it was",
        hint="free space on the repository's disk (or fix what git says); nothing of this was recorded, "
        "so look at what the command did (its output, `netimmutable verify`) before running it again",
    )


def _corrupt_ref(ref: str, why: str) -> CorruptRecords:
    host = ref.removeprefix(GOOD_PREFIX) if ref.startswith(GOOD_PREFIX) else None
    if host is not None:
        hint = (
            f"`git update-ref -d {ref}` (the next deploy of {host} is then a first deployment: its running "
            "config is captured first), or `netimmutable records fetch` when a remote holds that release"
        )
    else:
        hint = (
            f"point it back at the commit it held before (`git reflog {ref}`, `git update-ref {ref} SHA`), "
            "or `netimmutable records fetch` to take a remote's records"
        )
    return CorruptRecords(f"{ref} {why}", host=host, hint=hint)


def _corrupt_packed(ref: str, problem: RefProblem) -> CorruptRecords:
    """A ``packed-refs`` line git cannot read, that holds (or may hold) ``ref``: no git command reads
    refs while it is there, so the fix is an edit of that file."""
    path = problem.path
    host = ref.removeprefix(GOOD_PREFIX) if ref.startswith(GOOD_PREFIX) else None
    then = (
        f"the next deploy of {host} is then a first deployment: its running config is captured first"
        if host is not None
        else "`netimmutable records fetch` can then take a remote's records"
    )
    return CorruptRecords(
        f"{ref}: {problem.why}",
        host=host,
        file=str(path),
        line=problem.line,
        hint=f"git reads no ref while that line is there: edit {path} and delete the line, or put back the "
        f"commit id it held (`{path.parent / 'logs' / ref}` has the ref's history); {then}",
    )


_GOOD_FIELDS = ("release", "run_id", "when_utc", "operator")


def _good_table_problem(data: Any) -> str | None:
    """Why a parsed ``good.json`` is not what ``_dumps_good`` writes (None: it is, or there is none)."""
    if data is None:
        return None
    hosts = data.get("hosts") or {} if isinstance(data, dict) else None
    if not isinstance(hosts, dict):
        return 'is not a JSON object with a "hosts" object'
    for host, entry in hosts.items():
        if not isinstance(entry, dict) or any(not isinstance(entry.get(k), str) for k in _GOOD_FIELDS):
            return f"has an entry for {str(host)[:64]!r} without {', '.join(_GOOD_FIELDS)} as text"
        if not _FULL_SHA.fullmatch(entry["release"]):
            return f"has an entry for {str(host)[:64]!r} whose release is not a commit id"
    return None


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _dumps_good(hosts: Mapping[str, Mapping[str, str]]) -> str:
    """``good.json``: ``{"hosts": {host: entry}}`` with one host per line, sorted (a git diff of the good-log
    shows one line per marked host). Written by the C JSON encoder: ``indent`` would take the pure-Python
    one, which cost more than the rest of a good mark on a fleet of hundreds of hosts."""
    dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(", ", ": ")).encode
    lines = ",\n".join(f"    {dumps(host)}: {dumps(hosts[host])}" for host in sorted(hosts))
    return '{\n  "hosts": {\n' + lines + "\n  }\n}\n" if hosts else '{\n  "hosts": {}\n}\n'


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "remote"
