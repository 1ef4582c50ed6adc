"""The run journal: an append-only, fsynced JSON-lines log written BEFORE every device-changing step.

``<git common dir>/netimmutable/journal/<run-id>.jsonl`` (one journal folder for every worktree of the
repository; journals an older netimmutable left in a worktree's ``.netimmutable/journal/`` are still read,
recovered and closed where they are); one JSON object per line:

    {"type": "open",   "run_id", "kind", "release", "user", "machine", "pid", "pid_start", "utc"}
    {"type": "before", "host", "step", "details": {...}, "utc"}     written + fsynced before the step
    {"type": "after",  "host", "step", "outcome", "utc"}            the step returned ("ok" or why not)
    {"type": "finish", "host", "outcome", "utc"}                    the host needs no recovery any more
    {"type": "unresolved", "host", "reason", "utc"}                 the run ends with the host UNKNOWN
    {"type": "close",  "by", "utc"}                                 the run ended; nothing is in flight

Steps: ``load``, ``commit``, ``confirm``, ``rollback``, ``discard``. Details the recovery reads (all optional,
JSON scalars): ``release`` (sha being pushed), ``artifact_digest``, ``rollback_release`` (last-good release
sha), ``rollback_blob`` (git blob of the captured running config for a first deployment, kept referenced
by ``Records.keep_captured``), ``rollback_digest``, ``revert_in`` (seconds), ``revert_deadline_utc``,
``pre_state`` (the state snapshot before the change, as JSON text: recover checks regressions against it) and
``soak`` (seconds the change had to hold before its confirm) and ``device_session`` (the device-side session a
pending commit belongs to, on platforms where only that session can confirm or cancel it: EOS). Never put
resolved secrets or whole configs in details.

A journal without ``close`` whose process is gone is *unfinished*: each host with a ``before`` and no
``finish`` is in flight, and ``netimmutable recover`` must inspect it. A closed journal is unfinished when a
host was left ``unresolved`` (UNKNOWN) and not finished since.

Reading is defensive: the last line, when a crash cut it short (no newline), is ignored, and an empty file
(created, then killed before its first entry) holds no run. Anything else that is not an entry as written
here (bytes that are not JSON, an entry without its fields or with fields of the wrong type, a first entry
that is not ``open``, nesting too deep) is a ``CorruptJournal`` naming the file and line: never a
traceback, never "no run".
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, get_args

from netimmutable.errors import CorruptJournal, JournalWriteFailed, NetImmutableError
from netimmutable.fileio import fsync_dir
from netimmutable.inventory import host_name_problem
from netimmutable.locks import pid_alive
from netimmutable.records import good_ref, utc_now
from netimmutable.repo import NetworkRepo

__all__ = [
    "JOURNAL_DIR",
    "InFlight",
    "Journal",
    "Step",
    "UnfinishedRun",
    "journal_path",
    "unfinished",
    "unfinished_runs",
]

JOURNAL_DIR = "journal"
Step = Literal["load", "commit", "confirm", "rollback", "discard"]
_STEPS = frozenset(get_args(Step))
_DETAIL_KEYS = (
    "release",
    "artifact_digest",
    "rollback_release",
    "rollback_blob",
    "rollback_digest",
    "revert_in",
    "revert_deadline_utc",
    "pre_state",
    "soak",
    "device_session",
)


def _journal_dirs(repo: NetworkRepo) -> list[Path]:
    shared, legacy = repo.shared_dir / JOURNAL_DIR, repo.local_dir / JOURNAL_DIR
    return [shared] if shared == legacy else [shared, legacy]


def _label(repo: NetworkRepo, path: Path) -> str:
    """How a journal file is named in messages: relative to the repository when it is inside it."""
    try:
        return str(path.relative_to(repo.root))
    except ValueError:
        return str(path)


def journal_path(repo: NetworkRepo, run_id: str) -> Path:
    """The journal file of ``run_id``: the shared one, or a legacy one (``.netimmutable/``) that exists."""
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise NetImmutableError(f"invalid run id {run_id!r}")
    paths = [folder / f"{run_id}.jsonl" for folder in _journal_dirs(repo)]
    return next((p for p in paths[1:] if p.exists()), paths[0])


def _write_failed(path: Path, exc: OSError) -> JournalWriteFailed:
    return JournalWriteFailed(
        f"journal could not be written ({exc.strerror or exc}); the step it announces was not taken",
        file=str(path),
        hint="free space on the file system holding the journal folder (.git/netimmutable/journal/, "
        "in git's common dir; or fix its permissions), then run again",
    )


def _process_start(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[19]
    except OSError:
        return ""


class Journal:
    """An open journal of one run; thread-safe (hosts run in parallel). Use ``Journal.open``."""

    def __init__(self, path: Path, run_id: str, fd: int) -> None:
        self.path = path
        self.run_id = run_id
        self._fd = fd
        self._lock = threading.Lock()
        self._closed = False
        self._in_flight: set[str] = set()
        self._sync_lock = threading.Lock()
        self._written = 0  # entries written (under _lock)
        self._synced = 0  # entries known to be on disk (under _sync_lock)

    @classmethod
    def open(
        cls, repo: NetworkRepo, run_id: str, *, kind: str = "deploy", release: str | None = None
    ) -> Journal:
        """Create the journal of a new run (fails when one with this run id exists)."""
        path = journal_path(repo, run_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError:
            raise NetImmutableError(f"a journal for run {run_id} exists already", file=str(path)) from None
        except OSError as exc:
            raise _write_failed(path, exc) from None
        journal = cls(path, run_id, fd)
        pid = os.getpid()
        try:
            journal._write(
                {
                    "type": "open",
                    "run_id": run_id,
                    "kind": kind,
                    "release": release,
                    "user": getpass.getuser(),
                    "machine": socket.gethostname(),
                    "pid": pid,
                    "pid_start": _process_start(pid),
                }
            )
            fsync_dir(path.parent)
        except (OSError, JournalWriteFailed) as exc:
            journal._close_fd()
            path.unlink(missing_ok=True)  # no step began: an empty run must not be left to recover
            raise exc if isinstance(exc, JournalWriteFailed) else _write_failed(path, exc) from None
        return journal

    @classmethod
    def attach(cls, repo: NetworkRepo, run_id: str) -> Journal:
        """Append to the journal of a run that died (``recover`` finishes its hosts and closes it)."""
        path = journal_path(repo, run_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        except FileNotFoundError:
            raise NetImmutableError(f"no journal for run {run_id}", file=str(path)) from None
        return cls(path, run_id, fd)

    def _write(self, entry: dict[str, Any]) -> None:
        entry = {**entry, "utc": utc_now()}
        line = (json.dumps(entry, sort_keys=True, ensure_ascii=True) + "\n").encode("utf-8")
        with self._lock:
            if self._closed:
                raise NetImmutableError(f"journal of run {self.run_id} is closed", file=str(self.path))
            # one write() per entry on an O_APPEND descriptor: entries never interleave
            size = os.fstat(self._fd).st_size
            try:
                written = os.write(self._fd, line)
                if written != len(line):
                    raise OSError(28, "short write (no space left on device?)")
            except OSError as exc:
                with contextlib.suppress(OSError):  # no half entry may stay in the middle of the file
                    os.ftruncate(self._fd, size)
                raise _write_failed(self.path, exc) from None
            self._written += 1
            mine = self._written
        # Durable before returning. One fsync covers every entry written before it started, so hosts
        # writing at the same moment share one (group commit) instead of queueing one fsync each.
        with self._sync_lock:
            if self._synced < mine:  # else an fsync that started after our write covered it
                with self._lock:
                    covered = self._written
                try:
                    os.fsync(self._fd)  # not closed: closing waits for _sync_lock and syncs first
                except OSError as exc:
                    raise _write_failed(self.path, exc) from None
                self._synced = covered

    def before(self, host: str, step: Step, **details: Any) -> None:
        """Record (durably) that ``step`` is about to change ``host``. Call it before the step."""
        good_ref(host)
        if step not in _STEPS:
            raise ValueError(f"unknown journal step {step!r}; known: {', '.join(sorted(_STEPS))}")
        for key, value in details.items():
            if not isinstance(value, str | int | float | bool | None):
                raise TypeError(f"journal detail {key} must be a JSON scalar, got {type(value).__name__}")
        self._write({"type": "before", "host": host, "step": step, "details": details})
        with self._lock:
            self._in_flight.add(host)

    def after(self, host: str, step: Step, outcome: str) -> None:
        """Record that ``step`` returned (``"ok"``, or a short reason it did not)."""
        self._write({"type": "after", "host": host, "step": step, "outcome": outcome})

    def finish(self, host: str, outcome: str) -> None:
        """``host`` is settled (confirmed and recorded, rolled back and verified, untouched): no recovery."""
        self._write({"type": "finish", "host": host, "outcome": outcome})
        with self._lock:
            self._in_flight.discard(host)

    def in_flight(self) -> frozenset[str]:
        """Hosts this journal object began a step on and has not finished: what ``recover`` would inspect."""
        with self._lock:
            return frozenset(self._in_flight)

    def unresolved(self, host: str, reason: str) -> None:
        """The run ends with ``host`` UNKNOWN: it stays in flight for ``recover`` even after ``close``."""
        self._write({"type": "unresolved", "host": host, "reason": reason})

    def record(self, host: str, step: str, detail: Mapping[str, Any]) -> None:
        """``before`` in the shape of ``push.Journal`` (non-scalar details are stored as text)."""
        if step not in _STEPS:
            raise ValueError(f"unknown journal step {step!r}; known: {', '.join(sorted(_STEPS))}")
        plain = {
            k: v if isinstance(v, str | int | float | bool | None) else str(v) for k, v in detail.items()
        }
        self.before(host, step, **plain)  # type: ignore[arg-type]

    def close(self, by: str = "") -> None:
        """The run ended; nothing of it is in flight. Idempotent."""
        if self._closed:
            return
        self._write({"type": "close", "by": by or self.run_id})
        self._close_fd()

    def abandon(self) -> None:
        """Close the file WITHOUT marking the run ended (it stays unfinished for ``recover``)."""
        self._close_fd()

    def _close_fd(self) -> None:
        """Close the descriptor once every entry written to it is on disk (no fsync of it in flight)."""
        with self._sync_lock, self._lock:
            if self._closed:
                return
            if self._synced < self._written:
                os.fsync(self._fd)
                self._synced = self._written
            self._closed = True
            os.close(self._fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # an exception leaves the journal open for recovery: only a clean end closes it
        if exc_type is None:
            self.close()
        else:
            self.abandon()


@dataclass(frozen=True, slots=True)
class InFlight:
    """A host of an unfinished run that may be mid-change."""

    run_id: str
    kind: str
    host: str
    steps: tuple[str, ...]
    """Steps begun on this host, in order."""
    step: str
    """The last step begun."""
    step_outcome: str | None
    """Its ``after`` outcome; None when the run died during that step."""
    release: str | None
    artifact_digest: str | None
    rollback_release: str | None
    rollback_blob: str | None
    rollback_digest: str | None
    revert_in: int | None
    revert_deadline_utc: str | None
    started_utc: str
    journal: Path
    pre_state: str | None = None
    """The device's state before the change (``StateSnapshot.to_dict`` as JSON): recover checks regressions
    against it."""
    soak: float | None = None
    """Seconds the change's post-checks had to hold before the confirm (recover soaks as long)."""
    device_session: str | None = None
    """The device-side session the run's pending commit belongs to (EOS ``configure session``): recover
    adopts it to confirm or cancel that commit (``Device.adopt_session``)."""

    @property
    def committed(self) -> bool:
        """Whether a commit (or rollback) was begun: the device config may have changed."""
        return any(s in ("commit", "confirm", "rollback") for s in self.steps)


@dataclass(frozen=True, slots=True)
class UnfinishedRun:
    """A journal without ``close``."""

    run_id: str
    kind: str
    release: str | None
    user: str
    machine: str
    pid: int
    started_utc: str
    alive: bool
    """Its process still runs (then it is not unfinished, only in progress)."""
    closed: bool
    """The run ended, leaving some hosts ``unresolved``."""
    hosts: tuple[InFlight, ...]
    journal: Path


_CORRUPT_HINT = (
    "no run can be recovered from this journal: check the devices of that run with `netimmutable verify` "
    "(restore any that drifted), then move the file out of its journal folder (.git/netimmutable/journal/ "
    "in git's common dir, or an older .netimmutable/journal/; keep a copy: it is that run's only record of "
    "its in-flight steps); `netimmutable recover` then handles the other runs"
)
_SCALAR = (str, int, float, bool, type(None))
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    # entry type -> field -> allowed types (fields written by ``Journal``; "utc" on every entry)
    "open": {
        "run_id": (str,),
        "kind": (str,),
        "release": (str, type(None)),
        "user": (str,),
        "machine": (str,),
        "pid": (int,),
        "pid_start": (str,),
    },
    "before": {"host": (str,), "step": (str,), "details": (dict,)},
    "after": {"host": (str,), "step": (str,), "outcome": (str,)},
    "finish": {"host": (str,), "outcome": (str,)},
    "unresolved": {"host": (str,), "reason": (str,)},
    "close": {"by": (str,)},
}
_REQUIRED = {
    "before": ("host", "step"),
    "after": ("host", "step"),
    "finish": ("host",),
    "unresolved": ("host",),
}


def _problem(entry: Any) -> str | None:
    """What is wrong with one parsed journal entry, or None."""
    if not isinstance(entry, dict) or entry.get("type") not in _FIELDS:
        return f"not a journal entry (type one of {', '.join(_FIELDS)})"
    kind = entry["type"]
    problems = [f"{kind} entry without {name!r}" for name in _REQUIRED.get(kind, ()) if name not in entry]
    for name, types in {**_FIELDS[kind], "utc": (str,)}.items():
        value = entry.get(name)
        if name in entry and (not isinstance(value, types) or isinstance(value, bool)):
            problems.append(f"{kind} entry: {name!r} is {type(value).__name__}, expected {types[0].__name__}")
    if problems:
        return problems[0]
    host = entry.get("host")
    if isinstance(host, str) and host_name_problem(host) is not None:
        problems.append(f"{kind} entry: host {host!r} is not a host name")
    if kind in ("before", "after") and entry["step"] not in _STEPS:
        problems.append(f"{kind} entry: unknown step {entry['step']!r}")
    if any(not isinstance(v, _SCALAR) for v in (entry.get("details") or {}).values()):
        problems.append("before entry: details must be JSON scalars")
    return problems[0] if problems else None


def _parse_line(data: bytes) -> tuple[Any, str | None]:
    try:
        entry = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except RecursionError:
        return None, "nested too deeply"
    except ValueError:
        return None, "not JSON"
    return entry, _problem(entry)


def _entries(path: Path, label: str) -> list[dict[str, Any]]:
    """The entries of a journal file, every one checked (see the module docstring)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptJournal(f"journal cannot be read ({exc.strerror})", file=label) from None
    *complete, tail = raw.split(b"\n")
    entries: list[dict[str, Any]] = []
    for number, data in enumerate(complete, 1):
        entry, problem = _parse_line(data)
        if problem is not None:
            raise CorruptJournal(
                f"journal line {number} is corrupt: {problem}", file=label, line=number, hint=_CORRUPT_HINT
            )
        entries.append(entry)
    if tail:  # written without its newline: a write cut short by a crash, unless it is whole
        entry, problem = _parse_line(tail)
        if problem is None:
            entries.append(entry)
    if entries and entries[0]["type"] != "open":
        raise CorruptJournal(
            "journal does not start with its open entry", file=label, line=1, hint=_CORRUPT_HINT
        )
    return entries


def _read_run(path: Path, label: str) -> UnfinishedRun | None:
    entries = _entries(path, label)
    closed = any(e["type"] == "close" for e in entries)
    if not entries or (closed and not any(e["type"] == "unresolved" for e in entries)):
        return None
    head = entries[0] if entries[0]["type"] == "open" else {}
    run_id = str(head.get("run_id") or path.stem)
    kind = str(head.get("kind") or "deploy")
    machine = str(head.get("machine") or "")
    pid = int(head.get("pid") or 0)
    alive = (
        not closed and machine == socket.gethostname() and pid_alive(pid, str(head.get("pid_start") or ""))
    )
    steps: dict[str, list[str]] = {}
    outcome: dict[str, str | None] = {}
    details: dict[str, dict[str, Any]] = {}
    first: dict[str, str] = {}
    unresolved: set[str] = set()
    for entry in entries:
        host = str(entry.get("host") or "")
        if entry["type"] == "before":
            steps.setdefault(host, []).append(str(entry["step"]))
            outcome[host] = None
            details.setdefault(host, {}).update(entry.get("details") or {})
            first.setdefault(host, str(entry.get("utc") or ""))
        elif entry["type"] == "after" and host in steps:
            outcome[host] = str(entry.get("outcome"))
        elif entry["type"] == "unresolved":
            unresolved.add(host)
            steps.setdefault(host, ["unknown"])
        elif entry["type"] == "finish":
            steps.pop(host, None)
            unresolved.discard(host)
    hosts = []
    for host, begun in sorted(steps.items()):
        if closed and host not in unresolved:
            continue
        d: Mapping[str, Any] = details.get(host, {})

        def opt(key: str, d: Mapping[str, Any] = d) -> str | None:
            value = d.get(key)
            return None if value is None else str(value)

        revert_in = d.get("revert_in")
        hosts.append(
            InFlight(
                run_id=run_id,
                kind=kind,
                host=host,
                steps=tuple(begun),
                step=begun[-1],
                step_outcome=outcome.get(host),
                release=opt("release") or (str(head["release"]) if head.get("release") else None),
                artifact_digest=opt("artifact_digest"),
                rollback_release=opt("rollback_release") or opt("last_good_release"),
                rollback_blob=opt("rollback_blob"),
                rollback_digest=opt("rollback_digest"),
                revert_in=int(revert_in) if isinstance(revert_in, int | float) else None,
                revert_deadline_utc=opt("revert_deadline_utc"),
                started_utc=first.get(host, ""),
                journal=path,
                pre_state=opt("pre_state"),
                soak=float(d["soak"]) if isinstance(d.get("soak"), int | float) else None,
                device_session=opt("device_session"),
            )
        )
    if closed and not hosts:
        return None
    return UnfinishedRun(
        run_id=run_id,
        closed=closed,
        kind=kind,
        release=str(head["release"]) if head.get("release") else None,
        user=str(head.get("user") or ""),
        machine=machine,
        pid=pid,
        started_utc=str(head.get("utc") or ""),
        alive=alive,
        hosts=tuple(hosts),
        journal=path,
    )


def unfinished_runs(repo: NetworkRepo, *, include_alive: bool = False) -> list[UnfinishedRun]:
    """Journals without ``close``, oldest first (runs whose process still lives: with ``include_alive``)."""
    paths = sorted(
        (p for folder in _journal_dirs(repo) if folder.is_dir() for p in folder.glob("*.jsonl")),
        key=lambda p: p.name,  # run ids sort by start time
    )
    runs = [r for p in paths if (r := _read_run(p, _label(repo, p))) is not None]
    return [r for r in runs if include_alive or not r.alive]


def unfinished(repo: NetworkRepo) -> list[InFlight]:
    """Every in-flight host of every unfinished run whose process is gone."""
    return [host for run in unfinished_runs(repo) for host in run.hosts]
