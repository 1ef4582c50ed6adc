"""Device leases on the records remote: one change per device at a time across clones and CI runners.

Locks (``netimmutable.locks``) keep the worktrees of one repository apart. Clones of one network do not share
a disk, only a remote: with a records remote (``netimmutable.trusted_settings.records_remote``: read from
outside the release, default ``origin`` when the repository has it) every device-changing run also takes,
per host, a *lease* on that remote:

    refs/netimmutable/leases/<host>  -> a commit whose tree holds
        lease.json       who holds it (user@machine, pid), which run, for what, taken/renewed/expires (UTC)
        journal.jsonl    the run's journal as it stood at the last push (absent until the run opened it)

A lease is moved only by compare-and-swap: ``git push --atomic --force-with-lease=<ref>:<expected>`` (an
empty expected value: the ref must not exist), so of two clones pushing at once exactly one wins, and the
other is told who holds the host and until when (``LeaseHeld``). Leases of all the run's hosts are taken in
one atomic push (all or none). While the run lasts a background thread renews them every third of
``lease_seconds`` (``netimmutable.trusted_settings.lease_seconds``) and pushes the journal again whenever it
grew, so a clone whose run is killed leaves on the remote what ``recover`` needs. At the end a lease is
deleted (again compare-and-swap); the lease of a host left UNKNOWN is kept, with the final journal, and
expires by itself.

An expired lease is never taken by a deploy or a rollback (its run may have stopped mid-change): only
``recover`` takes over a lease, and only one of a run it is finishing, once the lease expired (or, on the
holder's own machine, once the holder's process is gone). ``import_journals`` brings the journals of
expired leases into a clone so that its ``recover`` sees those runs.

Lease objects are written in process (loose objects); the remote is asked with ``git fetch`` / ``git push``
and fetched leases land under ``refs/netimmutable-leases/<remote>/<pid>-<n>/`` for as long as it takes to
list them (outside ``refs/netimmutable/``: ``records push`` never publishes them). Times are compared on
each machine's own UTC clock: clocks must agree to well within ``lease_seconds`` (NTP).

Examples:
    >>> lease_ref("r1")
    'refs/netimmutable/leases/r1'
    >>> info = LeaseInfo("r1", "run-1", "deploy", "ann@lap", "lap", 1, "", "2026-01-01T00:00:00Z",
    ...                  "2026-01-01T00:00:00Z", "2026-01-01T00:02:00Z")
    >>> info.expired(parse_utc("2026-01-01T00:02:01Z"))
    True
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from gitdb import IStream, LooseObjectDB

from netimmutable.errors import LeaseError, LeaseHeld, NetImmutableError
from netimmutable.records import RECORDS_NAMESPACE, good_ref, operator_identity
from netimmutable.repo import NetworkRepo, git_common_dir
from netimmutable.trusted_settings import RECORDS_REMOTE_CONFIG, records_remote
from netimmutable.utctime import parse_utc as _parse
from netimmutable.utctime import utc_text

__all__ = [
    "LEASES_PREFIX",
    "RECORDS_REMOTE_CONFIG",
    "Expired",
    "LeaseInfo",
    "LeaseRemote",
    "LeaseSet",
    "drop_leases",
    "import_journals",
    "lease_ref",
    "lease_remote",
    "leased_hosts",
    "parse_utc",
    "records_remote",
]

LEASES_PREFIX = f"{RECORDS_NAMESPACE}/leases/"
LEASE_FILE = "lease.json"
JOURNAL_FILE = "journal.jsonl"
LEASE_SCHEMA = "netimmutable.lease/1"
_STAGING = "refs/netimmutable-leases"
_IDENT = b"netimmutable <netimmutable@localhost>"
_log = logging.getLogger(__name__)
_SEQUENCE = itertools.count(1)
"""Numbers the staging namespaces of this process's fetches (``next`` on it is atomic under the GIL)."""


def lease_ref(host: str) -> str:
    return LEASES_PREFIX + good_ref(host).rsplit("/", 1)[1]


def parse_utc(text: str) -> float:
    """Seconds since the epoch of a record time (``2026-01-01T00:00:00Z``); 0 when it is not one."""
    try:
        return _parse(text).timestamp()
    except ValueError:
        return 0.0


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        start_new_session=True,  # a Ctrl-C to the terminal's process group must not kill a lease push
    )
    if check and proc.returncode != 0:
        raise LeaseError(f"git {args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """Who holds a device's lease, for which run, until when (``lease.json``)."""

    host: str
    run_id: str
    purpose: str
    holder: str
    """``user@machine`` of the holder."""
    machine: str
    pid: int
    pid_start: str
    acquired_utc: str
    renewed_utc: str
    expires_utc: str
    kept: str = ""
    """Why the run left the lease in place (a host left UNKNOWN), "" while it runs."""

    def expired(self, now: float | None = None) -> bool:
        return parse_utc(self.expires_utc) <= (time.time() if now is None else now)

    def holder_gone(self) -> bool:
        """The holder was a process of this machine that no longer exists."""
        from netimmutable.locks import pid_alive  # locks imports this module

        return self.machine == socket.gethostname() and not pid_alive(self.pid, self.pid_start)

    def describe(self, remote: str) -> str:
        text = f"{self.host} is leased on {remote} by run {self.run_id} ({self.purpose}) of {self.holder}"
        if self.expired():
            return f"{text}; the lease expired at {self.expires_utc}"
        text += f" until {self.expires_utc}"
        return f"{text}; kept on purpose: {self.kept}" if self.kept else text

    def to_json(self) -> str:
        return json.dumps({"schema": LEASE_SCHEMA, **asdict(self)}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LeaseInfo:
        data = json.loads(text)
        values = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        info = cls(**values)
        if not isinstance(info.pid, int) or not all(
            isinstance(getattr(info, k), str) for k in cls.__dataclass_fields__ if k != "pid"
        ):
            raise TypeError("a field of lease.json has the wrong type")
        return info


@dataclass(frozen=True, slots=True)
class _Found:
    sha: str
    info: LeaseInfo | None
    """None when the lease commit cannot be read (it is held all the same)."""
    journal: bytes | None


class LeaseRemote:
    """The leases of one remote, as seen from one repository (plumbing only; no working tree, no index)."""

    def __init__(self, repo: NetworkRepo, name: str) -> None:
        self.repo = repo
        self.name = name
        common = git_common_dir(repo.root)
        if common is None:  # pragma: no cover - records_remote returns None outside git
            raise LeaseError("not a git repository: no leases")
        self._objects = LooseObjectDB(str(common / "objects"))
        self._staging = f"{_STAGING}/{''.join(c if c.isalnum() or c in '-_' else '_' for c in name)}"

    def _unreachable(self, what: str, proc: subprocess.CompletedProcess[str]) -> LeaseError:
        said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        return LeaseError(
            f"cannot {what} leases on records remote {self.name}: {said[-1] if said else 'git failed'}",
            hint="device-changing runs take a lease per host on the records remote: make it reachable; in an "
            f"emergency, `git config {RECORDS_REMOTE_CONFIG} none` makes this clone work without it (no "
            "leases: make sure no other clone changes these devices), `git config --unset "
            f"{RECORDS_REMOTE_CONFIG}` undoes it",
        )

    def fetch(self, hosts: Collection[str] | None = None) -> dict[str, _Found]:
        """The leases on the remote (of ``hosts`` only, when given): host -> what it holds.

        Fetched into a staging namespace of this call alone (worktrees of one repository and the renewer
        thread fetch at the same time) and removed again; the objects stay for reading."""
        staging = f"{self._staging}/{os.getpid()}-{next(_SEQUENCE)}"
        proc = _git(
            self.repo.root,
            "fetch",
            "--quiet",
            "--no-tags",
            self.name,
            f"+{LEASES_PREFIX}*:{staging}/*",
            check=False,
        )
        if proc.returncode != 0:
            raise self._unreachable("read", proc)
        out = _git(self.repo.root, "for-each-ref", "--format=%(objectname) %(refname)", staging).stdout
        shas: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition(" ")
            shas[ref.removeprefix(f"{staging}/")] = sha
        if shas:
            deletes = "".join(f"delete {staging}/{host}\n" for host in shas)
            subprocess.run(
                ["git", "-C", str(self.repo.root), "update-ref", "--stdin"],
                input=deletes,
                text=True,
                capture_output=True,
                check=False,
            )
        return {h: self._read(sha) for h, sha in shas.items() if hosts is None or h in hosts}

    def _read(self, sha: str) -> _Found:
        def blob(name: str) -> bytes | None:
            proc = subprocess.run(
                ["git", "-C", str(self.repo.root), "cat-file", "blob", f"{sha}:{name}"],
                capture_output=True,
                check=False,
            )
            return proc.stdout if proc.returncode == 0 else None

        text = blob(LEASE_FILE)
        try:
            info = LeaseInfo.from_json(text.decode("utf-8")) if text is not None else None
        except (ValueError, TypeError, UnicodeDecodeError):
            info = None
        return _Found(sha, info, blob(JOURNAL_FILE))

    def _store(self, kind: bytes, data: bytes) -> bytes:
        return bytes(self._objects.store(IStream(kind, len(data), io.BytesIO(data))).binsha)

    def write(self, info: LeaseInfo, journal: bytes | None) -> str:
        """The lease commit for ``info`` (and the journal), stored locally; returns its sha."""
        entries = [(JOURNAL_FILE, journal), (LEASE_FILE, info.to_json().encode())]
        tree = b"".join(
            b"100644 " + name.encode() + b"\0" + self._store(b"blob", data)
            for name, data in entries
            if data is not None
        )
        stamp = f"{int(time.time())} +0000".encode()
        body = (
            b"tree " + self._store(b"tree", tree).hex().encode() + b"\n"
            b"author "
            + _IDENT
            + b" "
            + stamp
            + b"\ncommitter "
            + _IDENT
            + b" "
            + stamp
            + b"\n\n"
            + f"lease {info.host}: run {info.run_id} ({info.purpose}) of {info.holder} until "
            f"{info.expires_utc}\n".encode()
        )
        return self._store(b"commit", body).hex()

    def push(self, moves: Mapping[str, tuple[str | None, str | None]]) -> bool:
        """Move every lease at once: host -> (new sha or None to delete, expected sha or None: must not
        exist). False when the remote refused (someone moved one of them first); nothing moved then."""
        if not moves:
            return True
        args = ["push", "--porcelain", "--atomic", "--no-verify", "--quiet"]
        specs = []
        for host, (new, expected) in sorted(moves.items()):
            ref = lease_ref(host)
            args.append(f"--force-with-lease={ref}:{expected or ''}")
            specs.append(f"{new}:{ref}" if new else f":{ref}")
        proc = _git(self.repo.root, *args, self.name, *specs, check=False)
        if proc.returncode == 0:
            return True
        if any(line.startswith("!") for line in proc.stdout.splitlines()):
            return False  # rejected: stale info, or the atomic push failed on another ref
        raise self._unreachable("move", proc)


def lease_remote(repo: NetworkRepo) -> LeaseRemote | None:
    """The records remote's leases, or None when the repository has no records remote."""
    name = records_remote(repo)
    return None if name is None else LeaseRemote(repo, name)


def leased_hosts(repo: NetworkRepo) -> dict[str, str]:
    """Host -> who holds its lease on the records remote (another clone's run, or this one's): what
    ``verify`` reports as in flight. No records remote, or one that cannot be read: nothing (logged)."""
    remote = lease_remote(repo)
    if remote is None:
        return {}
    try:
        found = remote.fetch()
    except LeaseError as exc:
        _log.warning("the leases on %s could not be read: %s", remote.name, exc.message)
        return {}
    out: dict[str, str] = {}
    for host, lease in found.items():
        if lease.info is None:
            out[host] = f"leased on {remote.name} (lease {lease.sha[:10]} cannot be read)"
            continue
        late = (
            "; that run may have stopped mid-change: `netimmutable recover`" if lease.info.expired() else ""
        )
        out[host] = lease.info.describe(remote.name) + late
    return out


def _held(remote: str, host: str, found: _Found) -> LeaseHeld:
    if found.info is None:
        return LeaseHeld(
            f"{host} is leased on {remote} (lease {found.sha[:10]} cannot be read)",
            host=host,
            hint=f"check who changes {host}; `git push {remote} :{lease_ref(host)}` removes the lease",
        )
    info = found.info
    if info.expired():
        return LeaseHeld(
            info.describe(remote) + ": that run may have stopped mid-change",
            host=host,
            hint="`netimmutable recover` (from any clone) takes the run over from its journal on the remote "
            "and settles the device",
        )
    if info.kept:
        hint = (
            f"that run left {host} for `netimmutable recover`: from another clone, once the lease expired at "
            f"{info.expires_utc}"
        )
    else:
        hint = (
            f"wait for that run to finish; if it died, its lease expires at {info.expires_utc} and "
            "`netimmutable recover` settles the device"
        )
    return LeaseHeld(info.describe(remote), host=host, hint=hint)


class LeaseSet:
    """The leases of one run's hosts on one remote: taken together, renewed while the run lasts (with the
    run's journal), released at the end except for hosts kept for ``recover``."""

    def __init__(
        self,
        remote: LeaseRemote,
        hosts: Iterable[str],
        run_id: str,
        purpose: str,
        *,
        seconds: float,
        journal: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.remote = remote
        self.hosts = sorted(set(hosts))
        self.run_id = run_id
        self.seconds = float(seconds)
        self.journal = journal
        self._clock = clock
        now = utc_text(clock())
        self._base = LeaseInfo(
            host="",
            run_id=run_id,
            purpose=purpose,
            holder=operator_identity(),
            machine=socket.gethostname(),
            pid=os.getpid(),
            pid_start=_pid_start(),
            acquired_utc=now,
            renewed_utc=now,
            expires_utc=now,
        )
        self._held: dict[str, str] = {}
        """host -> the lease commit this run last pushed."""
        self._written: dict[str, float] = {}
        """host -> when (``clock``) the lease commit the remote holds was written: it expires ``seconds``
        after that."""
        self.margin = self.seconds / 4
        """A lease is valid for this run until ``margin`` before it expires: a confirm or a commit started
        then ends before another clone may take the lease over."""
        self._kept: dict[str, str] = {}
        self._lost: dict[str, str] = {}
        """host -> why this run no longer holds its lease (another run took it over after it expired)."""
        self._lost_to: dict[str, str] = {}
        """host -> who holds its lease now (``user@machine``, run, purpose)."""
        self._renew_error = ""
        """Why the last renewal could not reach the remote ("" once one succeeded again)."""
        self._journal_seen: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.warnings: list[str] = []
        self.on_lost: Callable[[str, str], None] = lambda _host, _who: None
        """Called (from the renewer thread) for each host whose lease another run took: the change window
        stops starting hosts, as on Ctrl-C."""

    # ------------------------------------------------------------------------------------------ take
    def _journal_stat(self) -> tuple[int, int] | None:
        """(size, mtime) of the run's journal: the renewer pushes it again when this changed."""
        if self.journal is None:
            return None
        try:
            stat = self.journal.stat()
        except OSError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def _journal(self) -> tuple[bytes | None, tuple[int, int] | None]:
        seen = self._journal_stat()
        if self.journal is None or seen is None:
            return None, None
        try:
            return self.journal.read_bytes(), seen
        except OSError:
            return None, None

    def _commits(
        self, hosts: Iterable[str], kept: Mapping[str, str]
    ) -> tuple[dict[str, str], tuple[int, int] | None, float]:
        """The lease commits of ``hosts``, the journal's stat they carry, and when they were written."""
        now = self._clock()
        journal, seen = self._journal()
        renewed = replace(self._base, renewed_utc=utc_text(now), expires_utc=utc_text(now + self.seconds))
        return (
            {h: self.remote.write(replace(renewed, host=h, kept=kept.get(h, "")), journal) for h in hosts},
            seen,
            now,
        )

    def acquire(self, takeover: Collection[str] = ()) -> LeaseSet:
        """Take every host's lease or none: raise ``LeaseHeld`` naming the holder of the first one held.

        ``takeover``: run ids whose leases may be taken over once expired (or whose holder's process on this
        machine is gone): ``recover`` finishing those runs."""
        for _ in range(3):
            found = self.remote.fetch(self.hosts)
            expected: dict[str, str | None] = {}
            for host in self.hosts:
                current = found.get(host)
                if current is not None and not self._may_take(current, takeover):
                    raise _held(self.remote.name, host, current)
                expected[host] = current.sha if current is not None else None
            with self._lock:
                commits, seen, now = self._commits(self.hosts, {})
                if self.remote.push({h: (commits[h], expected[h]) for h in self.hosts}):
                    self._held = commits
                    self._written = dict.fromkeys(commits, now)
                    self._journal_seen = seen
                    return self
        found = self.remote.fetch(self.hosts)
        host = next((h for h in self.hosts if h in found), self.hosts[0])
        if host in found:
            raise _held(self.remote.name, host, found[host])
        raise LeaseError(f"could not take the lease of {host} on {self.remote.name}: it kept moving")

    def _may_take(self, found: _Found, takeover: Collection[str]) -> bool:
        info = found.info
        if info is None or info.run_id not in takeover:
            return False
        ours_kept = bool(info.kept) and info.machine == self._base.machine and info.pid == self._base.pid
        return info.expired(self._clock()) or info.holder_gone() or ours_kept

    # ----------------------------------------------------------------------------------------- renew
    def start(self) -> LeaseSet:
        """Renew in the background (every third of the lease; the journal whenever it changed)."""
        self._thread = threading.Thread(target=self._renew_loop, name="lease-renewer", daemon=True)
        self._thread.start()
        return self

    def _renew_loop(self) -> None:
        tick = max(0.2, min(1.0, self.seconds / 6))
        last = self._clock()
        while not self._stop.wait(tick):
            due = self._clock() - last >= self.seconds / 3
            if not due and self._journal_stat() == self._journal_seen:
                continue
            try:
                self.renew()
                last = self._clock()
                self._renew_error = ""
            except NetImmutableError as exc:  # unreachable: try again at the next tick
                if not self._renew_error:
                    self._warn(f"the leases of run {self.run_id} could not be renewed: {exc.message}")
                self._renew_error = exc.message
                continue
            except Exception as exc:  # noqa: BLE001 - the renewer must outlive a failure (disk full, ...)
                self._warn(f"renewing the leases of run {self.run_id} failed: {exc}")

    def renew(self) -> None:
        """Push every held lease again, with a new expiry and the journal as it is now."""
        with self._lock:
            hosts = [h for h in self.hosts if h in self._held]
            if not hosts or self._stop.is_set():
                return
            commits, seen, now = self._commits(hosts, {})
            if self.remote.push({h: (commits[h], self._held[h]) for h in hosts}):
                self._held.update(commits)
                self._written.update(dict.fromkeys(commits, now))
                self._journal_seen = seen
                return
            self._find_lost(hosts)

    def _find_lost(self, hosts: Iterable[str]) -> None:
        """A renewal was refused: the hosts whose lease another run holds now are lost (the rest are
        renewed at the next tick)."""
        hosts = list(hosts)
        found = self.remote.fetch(hosts)
        for host in hosts:
            current = found.get(host)
            if current is None or current.sha != self._held[host]:
                who = current.info.describe(self.remote.name) if current and current.info else "no lease"
                self._lost[host] = who
                self._lost_to[host] = (
                    f"{current.info.holder} (run {current.info.run_id}, {current.info.purpose})"
                    if current and current.info
                    else "nobody (it was deleted)"
                    if current is None
                    else f"an unreadable lease {current.sha[:10]}"
                )
                del self._held[host]
                self._written.pop(host, None)
                self._warn(f"{host}: this run lost its lease on {self.remote.name} ({who})")
                try:
                    self.on_lost(host, who)
                except Exception:  # noqa: BLE001 - the renewer must outlive a broken callback
                    _log.warning("the lost-lease callback failed for %s", host, exc_info=True)

    # ----------------------------------------------------------------------------------------- fence
    def problem(self, host: str) -> str:
        """Why this run must no longer change or confirm ``host`` ("" while it holds a valid lease): the
        lease was lost to another run, or it was not renewed (records remote unreachable) and is within
        ``margin`` of its expiry, after which another clone's ``recover`` may take the device over.

        Read without the renewer's lock (a renewal stuck on the network must not delay the answer)."""
        if host in self._lost:
            return f"lease lost to {self._lost_to.get(host, 'another run')} on {self.remote.name}"
        written = self._written.get(host)
        if written is None:  # not a host of this set, or released
            return ""
        expires = written + self.seconds
        if self._clock() < expires - self.margin:
            return ""
        why = f": {self._renew_error}" if self._renew_error else ""
        return (
            f"lease on {self.remote.name} not renewed since {utc_text(written)}{why}; it expires at "
            f"{utc_text(expires)}, after which another clone's recover may take {host} over"
        )

    # --------------------------------------------------------------------------------------- release
    def keep(self, host: str, reason: str) -> None:
        """Leave ``host``'s lease on the remote when the run ends (with the final journal): ``recover``."""
        with self._lock:
            if host in self._held:
                self._kept[host] = reason

    def release(self) -> None:
        """Stop renewing; delete the leases of the hosts not kept, push the kept ones with the journal.

        Never raises: a lease that cannot be released expires by itself; ``warnings`` says so."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            kept = {h: r for h, r in self._kept.items() if h in self._held}
            moves: dict[str, tuple[str | None, str | None]] = {
                h: (None, sha) for h, sha in self._held.items() if h not in kept
            }
            try:
                if kept:
                    commits, _, _ = self._commits(kept, kept)
                    moves.update({h: (commits[h], self._held[h]) for h in kept})
                if not self.remote.push(moves):  # one was moved by another run: the others one by one
                    moved = [h for h, move in sorted(moves.items()) if not self.remote.push({h: move})]
                    self._warn(
                        f"leases of {', '.join(moved)} on {self.remote.name} were moved by another run and "
                        "left alone"
                    )
            except Exception as exc:  # noqa: BLE001 - called while the run ends: it must not raise
                self._warn(
                    f"leases of {', '.join(sorted(moves))} could not be released on {self.remote.name} "
                    f"({getattr(exc, 'message', exc)}); they expire by themselves within {self.seconds:g} s"
                )
            self._held.clear()
            self._written.clear()

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        _log.warning("%s", text)

    @property
    def lost(self) -> Mapping[str, str]:
        return dict(self._lost)


def _pid_start() -> str:
    from netimmutable.locks import process_start  # locks imports this module

    return process_start(os.getpid())


@dataclass(frozen=True, slots=True)
class Expired:
    """What ``import_journals`` did with the expired leases of runs that stopped."""

    imported: tuple[str, ...] = ()
    """Runs whose journal came from their lease (an empty one when the lease had none yet)."""
    inspect: tuple[str, ...] = ()
    """Hosts the remote journal did not show in flight (it lags the run by up to a second): put in flight
    in the local copy, so that ``recover`` inspects the device and takes the lease over."""
    released: tuple[str, ...] = ()
    """Hosts whose run had settled them (their lease was left by a release that failed): lease deleted."""


def _in_flight(data: bytes) -> tuple[dict[str, bool], bool]:
    """Per host named in a journal, whether ``recover`` would see it in flight (as ``journal`` reads it);
    and whether the journal is closed."""
    state: dict[str, bool] = {}
    unresolved: set[str] = set()
    closed = False
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the journal's own reader locates anything corrupt
        if not isinstance(entry, dict):
            continue
        host, kind = str(entry.get("host") or ""), entry.get("type")
        if kind == "before":
            state[host] = True
        elif kind == "finish":
            state[host] = False
            unresolved.discard(host)
        elif kind == "unresolved":
            state[host] = True
            unresolved.add(host)
        elif kind == "close":
            closed = True
    return {h: flying and (not closed or h in unresolved) for h, flying in state.items()}, closed


def _open_entry(info: LeaseInfo) -> bytes:
    """The first journal entry of a run whose lease carried no journal yet (its holder, not us)."""
    entry = {
        "type": "open",
        "run_id": info.run_id,
        "kind": info.purpose.split()[0] or "deploy",
        "release": None,
        "user": info.holder.split("@")[0],
        "machine": info.machine,
        "pid": info.pid,
        "pid_start": info.pid_start,
        "utc": info.renewed_utc,
    }
    return (json.dumps(entry, sort_keys=True) + "\n").encode()


def import_journals(repo: NetworkRepo, hosts: Collection[str] = ()) -> Expired:
    """Make the runs of expired leases (other clones' runs that stopped) recoverable here: bring each run's
    journal from its lease (a journal already here is kept as it is), put in flight every leased host the
    journal does not show in flight although the run never settled it, and delete the leases of hosts the
    run had settled. ``hosts``: only those. No records remote: nothing to do."""
    from netimmutable.journal import Journal, journal_path  # journal imports locks, which imports us

    remote = lease_remote(repo)
    if remote is None:
        return Expired()
    imported: list[str] = []
    inspect: list[str] = []
    released: list[str] = []
    for host, found in sorted(remote.fetch(hosts or None).items()):
        info = found.info
        if info is None or not (info.expired() or info.holder_gone()):
            continue
        if info.machine == socket.gethostname() and not info.holder_gone():
            continue  # expired but its process still runs here: not stopped
        path = journal_path(repo, info.run_id)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.import")
            tmp.write_bytes(found.journal or _open_entry(info))
            tmp.replace(path)
            imported.append(info.run_id)
        flying, closed = _in_flight(path.read_bytes())
        if flying.get(host):
            continue  # recover finds it and takes the lease over
        if host in flying or closed:  # settled by its run: the lease is stale
            if remote.push({host: (None, found.sha)}):
                released.append(host)
            continue
        journal = Journal.attach(repo, info.run_id)
        try:
            journal.before(host, "load", lease="expired; the remote journal may lag the run")
        finally:
            journal.abandon()
        inspect.append(host)
    for run_id in list(imported):  # a journal with nothing left to recover is not kept here
        path = journal_path(repo, run_id)
        if not any(_in_flight(path.read_bytes())[0].values()):
            path.unlink()
            imported.remove(run_id)
    return Expired(tuple(imported), tuple(inspect), tuple(released))


def drop_leases(repo: NetworkRepo, host: str, run_ids: Collection[str]) -> bool:
    """Delete ``host``'s lease when one of ``run_ids`` holds it (``recover --forget``: a person checked the
    device, so the runs are over for it); True when a lease was deleted. No records remote: False."""
    remote = lease_remote(repo)
    if remote is None:
        return False
    found = remote.fetch([host]).get(host)
    if found is None or found.info is None or found.info.run_id not in run_ids:
        return False
    return remote.push({host: (None, found.sha)})
