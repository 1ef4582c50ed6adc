"""Locks across processes: one deploy per network repository, one change per device, at a time.

A lock is a file under ``<git common dir>/netimmutable/locks/`` (``repo.lock``, ``device-<host>.lock``), one
folder for every worktree of the repository, holding who took it:
run id, OS user, machine, pid (and the pid's start time, so a recycled pid is not mistaken for the owner),
purpose and UTC start time. It is taken atomically: the content is written to a private temporary file
which is then hard-linked to the lock name; ``link`` fails when the name exists, so exactly one process wins
and nobody ever reads a half-written lock.

A second run fails fast with ``LockHeld`` naming the holder. A lock whose process is gone (same machine) is
*stale*: it is reported, never taken over silently, because a run that died may have left a device
mid-change. The message says what to do: ``netimmutable recover`` (which finishes the dead run and may take
over exactly that run's locks), then ``netimmutable unlock``. Automatic takeover is deliberately not offered.

Locks an older netimmutable left in a worktree's ``.netimmutable/locks/`` are still listed, honoured (a lock
of the same name there is held) and removed by ``unlock``.

With a records remote, a device lock also holds the device's lease on that remote (``netimmutable.leases``),
taken after the local lock, renewed while it is held, released with it (kept with it): other clones of the
network are kept out the way other worktrees are. ``device_locks`` takes the leases of all its hosts in one
push.

Examples:
    >>> import tempfile
    >>> locks = Path(tempfile.mkdtemp())
    >>> with Lock(locks, "repo", "run-1", "deploy") as held:
    ...     held.info.run_id
    'run-1'
    >>> read_lock(locks / "repo.lock") is None
    True
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import json
import os
import socket
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType

from netimmutable.errors import LockHeld, NetImmutableError, RepoError
from netimmutable.fileio import fsync_dir
from netimmutable.leases import LeaseSet, lease_remote
from netimmutable.records import good_ref, utc_now
from netimmutable.repo import NetworkRepo
from netimmutable.trusted_settings import lease_seconds

__all__ = [
    "LOCKS_DIR",
    "REPO_LOCK",
    "HeldLock",
    "Lock",
    "LockInfo",
    "device_lock",
    "device_locks",
    "legacy_locks_dir",
    "list_locks",
    "lock_path",
    "locks_dir",
    "pid_alive",
    "process_start",
    "read_lock",
    "remove_lock",
    "repo_lock",
]

LOCKS_DIR = "locks"
REPO_LOCK = "repo"


def locks_dir(repo: NetworkRepo) -> Path:
    """Where the repository's locks live: shared by its worktrees (``NetworkRepo.shared_dir``)."""
    return repo.shared_dir / LOCKS_DIR


def legacy_locks_dir(repo: NetworkRepo) -> Path:
    """Where locks lived before they were shared by worktrees (``.netimmutable/locks``): still honoured."""
    return repo.local_dir / LOCKS_DIR


def _locks_dirs(repo: NetworkRepo) -> list[Path]:
    shared, legacy = locks_dir(repo), legacy_locks_dir(repo)
    return [shared] if shared == legacy else [shared, legacy]


def process_start(pid: int) -> str:
    """The kernel's start time of ``pid`` (clock ticks since boot), "" when unknown (not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def pid_alive(pid: int, start: str = "") -> bool:
    """Whether process ``pid`` on this machine exists (and, given ``start``, is the same process)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not (start and process_start(pid) not in ("", start))


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds a lock."""

    name: str
    run_id: str
    purpose: str
    user: str
    machine: str
    pid: int
    pid_start: str
    started_utc: str
    kept: str = ""
    """Why the lock was deliberately left in place (e.g. a device left UNKNOWN), "" otherwise."""

    @property
    def local(self) -> bool:
        return self.machine == socket.gethostname()

    @property
    def stale(self) -> bool:
        """The holder is a process of this machine that no longer exists."""
        return self.local and not pid_alive(self.pid, self.pid_start)

    def describe(self) -> str:
        text = (
            f"{self.name} lock held by run {self.run_id} ({self.purpose}) of {self.user} "
            f"on {self.machine}, pid {self.pid}, since {self.started_utc}"
        )
        if self.kept:
            text += f"; kept on purpose: {self.kept}"
        return text


@dataclass(frozen=True, slots=True)
class HeldLock:
    """A lock file found on disk, with its state."""

    path: Path
    info: LockInfo | None
    """None when the file could not be read (reported as corrupt)."""

    @property
    def stale(self) -> bool:
        return self.info is None or self.info.stale


def read_lock(path: Path) -> LockInfo | None:
    """The lock at ``path``; None when there is none or it cannot be parsed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(**{k: data[k] for k in LockInfo.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError):
        return None


def _held_error(path: Path, info: LockInfo | None) -> LockHeld:
    if info is None:
        return LockHeld(
            f"lock {path.name} exists but cannot be read",
            file=str(path),
            hint="make sure no netimmutable run is active, then `netimmutable unlock --force`",
        )
    host = info.name.removeprefix("device-") if info.name.startswith("device-") else None
    if info.stale:
        return LockHeld(
            f"stale {info.describe()}: that process no longer exists",
            host=host,
            file=str(path),
            hint="the run may have stopped mid-change: `netimmutable recover` finishes it and releases its "
            "locks; then, if the lock is still there, `netimmutable unlock` "
            + (info.name.removeprefix("device-") if host else ""),
        )
    where = "" if info.local else " (another machine: cannot check whether it is still running)"
    return LockHeld(
        f"{info.describe()}{where}",
        host=host,
        file=str(path),
        hint="wait for that run to finish"
        + ("" if info.local else "; if it is gone, `netimmutable unlock --force`"),
    )


def _write_failed(path: Path, exc: OSError) -> RepoError:
    """A lock that could not be written: the lock is not taken, nothing was changed."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    reason = "disk full" if full else (exc.strerror or str(exc))
    return RepoError(
        f"{path.name} not taken: cannot write in the lock folder ({reason}); nothing was changed",
        file=str(path.parent),
        hint="free space on the repository's disk, then run the command again"
        if full
        else "make the lock folder writable, then run the command again",
    )


class Lock:
    """One lock file, a context manager. ``takeover``: run ids whose *stale* locks may be taken over
    (``recover`` finishing dead runs); any other existing lock raises ``LockHeld``."""

    def __init__(
        self,
        locks_dir: Path,
        name: str,
        run_id: str,
        purpose: str,
        *,
        takeover: Collection[str] = (),
        legacy_dir: Path | None = None,
        lease: LeaseSet | None = None,
    ) -> None:
        self.path = locks_dir / f"{name}.lock"
        self.legacy = legacy_dir / f"{name}.lock" if legacy_dir is not None else None
        """The same lock where an older netimmutable kept it: while it exists this lock is not taken."""
        self.takeover = frozenset(takeover)
        self.info = LockInfo(
            name=name,
            run_id=run_id,
            purpose=purpose,
            user=getpass.getuser(),
            machine=socket.gethostname(),
            pid=os.getpid(),
            pid_start=process_start(os.getpid()),
            started_utc=utc_now(),
        )
        self._held = False
        self._keep = False
        self.lease = lease
        """The device's lease on the records remote, taken with the lock (None: no remote, or taken by
        ``device_locks`` for all its hosts at once)."""

    @property
    def kept(self) -> bool:
        """``keep`` was called: the lock stays when released."""
        return self._keep

    def _write_tmp(self, info: LockInfo) -> Path:
        """The lock's content in a private temporary file; on failure (a full disk) nothing is left behind
        and a ``RepoError`` names the lock folder."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{id(self)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(info), handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _write_failed(self.path, exc) from None
        return tmp

    def acquire(self, *, sync_dir: bool = True) -> Lock:
        """Take the lock or raise ``LockHeld``. ``sync_dir=False``: the caller fsyncs the lock folder itself
        (``device_locks`` does it once for all the hosts it locks, before any of them is changed)."""
        if self.legacy is not None and self.legacy.exists():
            raise _held_error(self.legacy, read_lock(self.legacy))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_failed(self.path, exc) from None
        tmp = self._write_tmp(self.info)
        try:
            for _ in range(3):
                try:
                    os.link(tmp, self.path)
                except FileExistsError:
                    current = read_lock(self.path)
                    if current is None and not self.path.exists():
                        continue  # released between link and read: try again
                    if not self.takeover or not self._take_over(tmp):
                        raise _held_error(self.path, read_lock(self.path)) from None
                self._held = True
                if sync_dir:
                    fsync_dir(self.path.parent)
                self._take_lease()
                return self
            raise _held_error(self.path, read_lock(self.path))
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _take_lease(self) -> None:
        if self.lease is None:
            return
        try:
            self.lease.acquire(self.takeover).start()
        except BaseException:
            self.lease = None
            self.release()
            raise

    def _take_over(self, tmp: Path) -> bool:
        """Replace a stale lock of a ``takeover`` run by ours; serialised so only one process can win."""
        with (self.path.parent / ".takeover").open("a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            current = read_lock(self.path)
            # a lock this very process kept on purpose (and let go of) counts as stale here
            ours_kept = current is not None and current.kept and current.local and current.pid == os.getpid()
            if current is None or current.run_id not in self.takeover or not (current.stale or ours_kept):
                return False
            tmp.replace(self.path)  # atomic: the dead run's lock becomes ours
            return True

    def keep(self, reason: str) -> None:
        """Leave the lock in place when released (a device left UNKNOWN stays locked for a person)."""
        if not self._held:
            return
        self._keep = True
        if self.lease is not None:
            self.lease.keep(self.info.name.removeprefix("device-"), reason)
        self.info = replace(self.info, kept=reason)
        self._write_tmp(self.info).replace(self.path)

    def release(self) -> None:
        if self.lease is not None and self._held:
            self.lease.release()
        if not self._held or self._keep:
            self._held = False
            return
        current = read_lock(self.path)
        if current is not None and (current.run_id, current.pid) == (self.info.run_id, self.info.pid):
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self._held = False

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def repo_lock(
    repo: NetworkRepo, run_id: str, purpose: str = "deploy", *, takeover: Collection[str] = ()
) -> Lock:
    """The network repository's lock (one deploy / rollback / recover at a time). Use with ``with``."""
    return Lock(locks_dir(repo), REPO_LOCK, run_id, purpose, takeover=takeover, legacy_dir=_legacy(repo))


def device_lock(
    repo: NetworkRepo, host: str, run_id: str, purpose: str = "deploy", *, takeover: Collection[str] = ()
) -> Lock:
    """One device's lock (one change per device at a time), with its lease on the records remote when the
    repository has one. Use with ``with``."""
    good_ref(host)  # the name must be a safe file name
    return Lock(
        locks_dir(repo),
        f"device-{host}",
        run_id,
        purpose,
        takeover=takeover,
        legacy_dir=_legacy(repo),
        lease=_leases(repo, [host], run_id, purpose),
    )


def _leases(repo: NetworkRepo, hosts: Iterable[str], run_id: str, purpose: str) -> LeaseSet | None:
    """The leases of ``hosts`` for run ``run_id``, not yet taken; None without a records remote."""
    from netimmutable.journal import journal_path  # journal imports this module

    remote = lease_remote(repo)
    if remote is None:
        return None
    return LeaseSet(
        remote,
        hosts,
        run_id,
        purpose,
        seconds=lease_seconds(repo),
        journal=journal_path(repo, run_id),
    )


def _legacy(repo: NetworkRepo) -> Path | None:
    legacy = legacy_locks_dir(repo)
    return None if legacy == locks_dir(repo) else legacy


@contextlib.contextmanager
def device_locks(
    repo: NetworkRepo,
    hosts: Iterable[str],
    run_id: str,
    purpose: str = "deploy",
    *,
    takeover: Collection[str] = (),
    on_lost: Callable[[str, str], None] | None = None,
    on_leases: Callable[[LeaseSet], None] | None = None,
) -> Iterator[dict[str, Lock]]:
    """Lock every host or none: when one is held by someone else, the others taken are released and the
    ``LockHeld`` of the first such host (in name order) is raised. ``on_lost(host, holder)``: called when
    another run takes a host's lease on the records remote while these locks are held; ``on_leases``: given
    the leases once taken (the change window asks them before each commit and confirm).

    A lock costs a file write and an fsync (~1-2 ms, mostly waiting for the disk): a large fleet's locks
    are taken by a few threads at once, so the filesystem commits their fsyncs together.
    """
    names = sorted(set(hosts))
    locks = [_device_lock(repo, host, run_id, purpose, takeover) for host in names]
    with contextlib.ExitStack() as stack:
        outcomes: list[Lock | BaseException] = []
        if len(locks) > _PARALLEL_LOCKS_OVER:
            with ThreadPoolExecutor(max_workers=_LOCK_THREADS, thread_name_prefix="lock") as pool:
                outcomes = list(pool.map(_try_acquire, locks))
        else:
            for lock in locks:
                outcomes.append(_try_acquire(lock))
                if isinstance(outcomes[-1], BaseException):
                    break
        for outcome in outcomes:
            if isinstance(outcome, Lock):
                stack.callback(outcome.release)
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failed is not None:
            raise failed
        if locks:  # the lock files' names are durable before the caller touches any device
            fsync_dir(locks_dir(repo))
        leases = _leases(repo, names, run_id, purpose) if names else None
        if leases is not None:  # after the local locks: a clone's own worktrees never race on the remote
            if on_lost is not None:
                leases.on_lost = on_lost
            leases.acquire(takeover).start()
            stack.callback(_end_leases, leases, dict(zip(names, locks, strict=True)))
            if on_leases is not None:
                on_leases(leases)
        yield dict(zip(names, locks, strict=True))


def _end_leases(leases: LeaseSet, locks: dict[str, Lock]) -> None:
    """Release the run's leases, keeping those of the hosts whose lock is kept (before the locks go)."""
    for name, lock in locks.items():
        if lock.kept:
            leases.keep(name, lock.info.kept)
    leases.release()


def _device_lock(repo: NetworkRepo, host: str, run_id: str, purpose: str, takeover: Collection[str]) -> Lock:
    """A device lock without its own lease (``device_locks`` takes the leases of all its hosts at once)."""
    good_ref(host)
    return Lock(
        locks_dir(repo), f"device-{host}", run_id, purpose, takeover=takeover, legacy_dir=_legacy(repo)
    )


_PARALLEL_LOCKS_OVER = 8
_LOCK_THREADS = 8


def _try_acquire(lock: Lock) -> Lock | BaseException:
    try:
        return lock.acquire(sync_dir=False)
    except Exception as exc:  # noqa: BLE001 - returned to device_locks, which releases the rest and raises
        return exc


def list_locks(repo: NetworkRepo) -> list[HeldLock]:
    """Every lock of the repository (shared ones, then any left in the legacy ``.netimmutable/locks``)."""
    return [
        HeldLock(p, read_lock(p))
        for folder in _locks_dirs(repo)
        if folder.is_dir()
        for p in sorted(folder.glob("*.lock"))
    ]


def lock_path(repo: NetworkRepo, name: str) -> Path:
    """The file of lock ``name`` (``repo`` or a host name): the shared one, or a legacy one that exists."""
    file_name = f"{REPO_LOCK}.lock" if name == REPO_LOCK else f"device-{name}.lock"
    if name != REPO_LOCK:
        good_ref(name)
    paths = [folder / file_name for folder in _locks_dirs(repo)]
    return next((p for p in paths if p.exists()), paths[0])


def remove_lock(repo: NetworkRepo, name: str, *, force: bool = False) -> LockInfo | None:
    """Remove lock ``name`` (``repo`` or a host name). Refuses a live holder on this machine, and without
    ``force`` a holder on another machine or a lock kept on purpose."""
    path = lock_path(repo, name)
    if not path.exists():
        raise NetImmutableError(f"no lock named {name!r}", file=str(path))
    info = read_lock(path)
    if info is not None and info.local and not info.stale:
        raise LockHeld(f"{info.describe()}: that process is running", file=str(path))
    if info is not None and not force and not info.local:
        raise LockHeld(
            f"{info.describe()}; it is held from another machine",
            file=str(path),
            hint="make sure that run is over there, then add --force",
        )
    if info is not None and info.kept and not force:
        raise LockHeld(
            f"{info.describe()}",
            file=str(path),
            hint="check the device by hand (or `netimmutable recover`), then add --force",
        )
    try:
        path.unlink()
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise NetImmutableError(f"cannot remove lock: {exc}", file=str(path)) from None
    return info
