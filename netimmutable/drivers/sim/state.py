"""On-disk state of simulated devices: one folder per device under a lab folder, shared by processes.

Layout (``root`` is the lab folder, e.g. ``<repo>/.netimmutable/lab/sim``)::

    root/.sim-lab                 marker: this folder is a sim lab (``destroy`` refuses folders without it)
    root/.sim-lab.lock            lab lock (fcntl), held only while the address index changes
    root/.sim-index/<address>     address index: the hosts whose config has that interface address
    root/.sim-pending/<host>      a revert is pending on host; the file's mtime is its deadline
    root/<host>/state.json        running/startup/previous config, generation, pending revert, history
    root/<host>/knobs.json        fault and latency knobs (see ``knobs.py``)
    root/<host>/.lock             device lock (fcntl), held while the device's config changes

Every write is atomic (temporary file + ``os.replace``), so readers take no lock. Writers take the device
lock, then (for index updates) the lab lock: always in that order, and never two device locks at once.
A pending revert is a deadline in ``state.json``; every load of a device by any process applies it once the
deadline has passed, so it fires even when the committing process died.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from netimmutable.drivers.sim.knobs import Knobs
from netimmutable.drivers.sim.parse import canonical, model_of
from netimmutable.fileio import atomic_write_text

__all__ = ["DeviceState", "DeviceStore", "Event", "LabStore", "NoSuchDevice", "Pending", "valid_host"]

MARKER = ".sim-lab"
HISTORY_KEEP = 50
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class NoSuchDevice(LookupError):
    """The lab has no device of that name."""


def valid_host(host: str) -> str:
    """Return ``host`` when it is a safe device folder name, else raise ``ValueError``."""
    if not _HOST.match(host) or ".." in host:
        raise ValueError(f"invalid sim device name {host!r} (letters, digits, '_', '.', '-')")
    return host


@dataclass(frozen=True, slots=True)
class Pending:
    """A commit waiting for confirmation: at ``deadline`` (epoch seconds) running goes back to ``restore``."""

    deadline: float
    restore: str
    session: str


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    kind: str  # create | commit | confirm | rollback | revert | edit
    generation: int
    session: str
    message: str


@dataclass(frozen=True, slots=True)
class DeviceState:
    host: str
    created: float
    running: str
    startup: str
    previous: str
    generation: int
    changed_at: float
    pending: Pending | None
    history: tuple[Event, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "host": self.host,
            "created": self.created,
            "running": self.running,
            "startup": self.startup,
            "previous": self.previous,
            "generation": self.generation,
            "changed_at": self.changed_at,
            "pending": None
            if self.pending is None
            else {
                "deadline": self.pending.deadline,
                "restore": self.pending.restore,
                "session": self.pending.session,
            },
            "history": [
                {
                    "at": e.at,
                    "kind": e.kind,
                    "generation": e.generation,
                    "session": e.session,
                    "message": e.message,
                }
                for e in self.history
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeviceState:
        p = data.get("pending")
        return cls(
            host=str(data["host"]),
            created=float(data["created"]),
            running=str(data["running"]),
            startup=str(data["startup"]),
            previous=str(data["previous"]),
            generation=int(data["generation"]),
            changed_at=float(data["changed_at"]),
            pending=None
            if p is None
            else Pending(float(p["deadline"]), str(p["restore"]), str(p["session"])),
            history=tuple(Event(**e) for e in data.get("history", ())),
        )

    def with_event(self, kind: str, session: str, message: str = "", at: float | None = None) -> DeviceState:
        event = Event(time.time() if at is None else at, kind, self.generation, session, message)
        return replace(self, history=(*self.history, event)[-HISTORY_KEEP:])


def _parse_state(text: str) -> DeviceState:
    return DeviceState.from_json(json.loads(text))


def _parse_knobs(text: str) -> Knobs:
    return Knobs.from_dict(json.loads(text))


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


_SETTLED = 2.0
"""Seconds a file's mtime must lie in the past before its parsed content is kept (``LabStore.read``)."""


class LabStore:
    """A lab folder: its devices and the address index that lets a device find its BGP peers cheaply.

    ``cache``: keep what ``read`` parsed, per file, while the file's stat (inode, size, mtime, ctime) stays
    the same (a long-lived reader such as the sim server; every write replaces the file, so a new inode).
    A file written less than ``_SETTLED`` seconds before it was read is read again next time: a second
    write within the filesystem clock's granularity could keep size and mtime (git's "racy" entries).
    """

    def __init__(self, root: Path, *, cache: bool = False) -> None:
        self.root = Path(root)
        self.index_dir = self.root / ".sim-index"
        self.pending_dir = self.root / ".sim-pending"
        self._cache: dict[Path, tuple[tuple[int, int, int, int], Any]] | None = {} if cache else None

    def read(self, path: Path, parse: Callable[[str], Any]) -> Any:
        """``parse`` of the file's text (raises ``FileNotFoundError``); cached when the lab caches."""
        if self._cache is None:
            return parse(path.read_text(encoding="utf-8"))
        st = path.stat()
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        hit = self._cache.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = parse(path.read_text(encoding="utf-8"))
        if time.time() - st.st_mtime > _SETTLED and path.stat().st_ino == st.st_ino:
            self._cache[path] = (key, value)
        else:
            self._cache.pop(path, None)
        return value

    def init(self) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        (self.root / MARKER).touch()

    @property
    def exists(self) -> bool:
        return (self.root / MARKER).is_file()

    def device(self, host: str) -> DeviceStore:
        return DeviceStore(self, valid_host(host))

    def hosts(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob("*/state.json"))

    @contextmanager
    def lock(self) -> Iterator[None]:
        with _flock(self.root / ".sim-lab.lock"):
            yield

    # ----------------------------------------------------------------------------------- pending reverts
    def mark_pending(self, host: str, deadline: float | None) -> None:
        """Record (or clear) that ``host`` has a revert due at ``deadline`` (the marker file's mtime)."""
        marker = self.pending_dir / host
        if deadline is None:
            marker.unlink(missing_ok=True)
            return
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        marker.touch()
        os.utime(marker, (deadline, deadline))

    def expire_due(self) -> None:
        """Apply every revert of the lab whose deadline passed (one directory scan, usually empty).

        A device whose revert is due may be the peer another device is looking for by an address it will
        only have again after the revert, so lookups call this first.
        """
        now = time.time()
        try:
            entries = list(os.scandir(self.pending_dir))
        except FileNotFoundError:
            return
        for entry in entries:
            try:
                due = entry.stat().st_mtime <= now
            except FileNotFoundError:  # confirmed or rolled back by another session since the scan
                continue
            if due:
                try:
                    self.device(entry.name).load()
                except NoSuchDevice:
                    Path(entry.path).unlink(missing_ok=True)

    # ----------------------------------------------------------------------------------- address index
    def _index_file(self, address: str) -> Path:
        return self.index_dir / address.replace("/", "_")

    def lookup(self, address: str) -> tuple[str, ...]:
        """Hosts whose configuration (per the index) has an interface with ``address``."""
        try:
            text = self._index_file(address).read_text(encoding="utf-8")
        except FileNotFoundError:
            return ()
        return tuple(text.split())

    def reindex_host(self, host: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        """Move ``host`` from the index entries of its ``old`` addresses to those of its ``new`` ones."""
        gone, added = set(old) - set(new), set(new) - set(old)
        if not gone and not added:
            return
        with self.lock():
            self.index_dir.mkdir(parents=True, exist_ok=True)
            for address in gone | added:
                hosts = set(self.lookup(address))
                hosts.discard(host)
                if address in added:
                    hosts.add(host)
                path = self._index_file(address)
                if hosts:
                    atomic_write_text(path, "\n".join(sorted(hosts)) + "\n")
                else:
                    path.unlink(missing_ok=True)

    def rebuild_index(self) -> int:
        """Rebuild the whole index from the devices' running configs (repair tool); returns entries."""
        table: dict[str, set[str]] = {}
        for host in self.hosts():
            for address in model_of(self.device(host).load().running).addresses():
                table.setdefault(address, set()).add(host)
        with self.lock():
            self.index_dir.mkdir(parents=True, exist_ok=True)
            for stale in self.index_dir.iterdir():
                if stale.name not in table and not stale.name.startswith("."):
                    stale.unlink()
            for address, hosts in table.items():
                atomic_write_text(self._index_file(address), "\n".join(sorted(hosts)) + "\n")
        return len(table)


class DeviceStore:
    """One simulated device's files."""

    def __init__(self, lab: LabStore, host: str) -> None:
        self.lab = lab
        self.host = host
        self.path = lab.root / host
        self.state_file = self.path / "state.json"
        self.knobs_file = self.path / "knobs.json"

    @property
    def exists(self) -> bool:
        return self.state_file.is_file()

    @contextmanager
    def lock(self) -> Iterator[None]:
        if not self.path.is_dir():
            raise NoSuchDevice(self.host)
        with _flock(self.path / ".lock"):
            yield

    def create(self, config: str, now: float | None = None) -> DeviceState:
        if self.exists:
            raise FileExistsError(f"sim device {self.host} already exists in {self.lab.root}")
        now = time.time() if now is None else now
        self.path.mkdir(parents=True, exist_ok=True)
        text = canonical(config)
        state = DeviceState(self.host, now, text, text, text, 1, now, None, ()).with_event(
            "create", "", at=now
        )
        with self.lock():
            atomic_write_text(self.state_file, json.dumps(state.to_json()))
            self.lab.reindex_host(self.host, (), model_of(text).addresses())
        return state

    def _read(self) -> DeviceState:
        try:
            state: DeviceState = self.lab.read(self.state_file, _parse_state)
        except FileNotFoundError:
            raise NoSuchDevice(self.host) from None
        return state

    def _expire(self, state: DeviceState, now: float) -> DeviceState:
        """Apply a pending revert whose deadline passed (caller holds the device lock)."""
        if state.pending is None or state.pending.deadline > now:
            return state
        reverted = replace(state, running=state.pending.restore, pending=None)
        return self._write(state, reverted, "revert", state.pending.session, "commit not confirmed in time")

    def _write(
        self, old: DeviceState, new: DeviceState, kind: str, session: str, message: str
    ) -> DeviceState:
        if new.running != old.running:
            new = replace(new, generation=old.generation + 1, changed_at=time.time())
        new = new.with_event(kind, session, message)
        atomic_write_text(self.state_file, json.dumps(new.to_json()))
        if new.pending != old.pending:
            self.lab.mark_pending(self.host, None if new.pending is None else new.pending.deadline)
        if new.running != old.running:
            self.lab.reindex_host(
                self.host, model_of(old.running).addresses(), model_of(new.running).addresses()
            )
        return new

    def load(self) -> DeviceState:
        """The device's state, with an expired revert timer applied first (lock-free when none is due)."""
        state = self._read()
        if state.pending is not None and state.pending.deadline <= time.time():
            with self.lock():
                state = self._expire(self._read(), time.time())
        return state

    def change(
        self, fn: Callable[[DeviceState], DeviceState], kind: str, session: str = "", message: str = ""
    ) -> DeviceState:
        """Apply ``fn`` to the current state under the device lock and store the result atomically.

        ``fn`` sees the state after any due revert and returns the new state (it may raise to abort: nothing
        is written then). When the state changed, an event ``kind`` is recorded; the generation increases and
        the address index follows whenever the running config changes.
        """
        with self.lock():
            current = self._expire(self._read(), time.time())
            new = fn(current)
            if new == current:
                return current
            return self._write(current, new, kind, session, message)

    # ----------------------------------------------------------------------------------- knobs
    def knobs(self) -> Knobs:
        try:
            knobs: Knobs = self.lab.read(self.knobs_file, _parse_knobs)
        except FileNotFoundError:
            return Knobs()
        return knobs

    def set_knobs(self, knobs: Knobs) -> None:
        with self.lock():
            if knobs == Knobs():
                self.knobs_file.unlink(missing_ok=True)
            else:
                atomic_write_text(self.knobs_file, json.dumps(knobs.to_dict()))

    def update_knobs(self, **changes: Any) -> Knobs:
        with self.lock():
            knobs = self.knobs().updated(**changes)
            atomic_write_text(self.knobs_file, json.dumps(knobs.to_dict()))
            return knobs

    def spend_failure(self, step: str) -> Knobs | None:
        """If an injected failure is armed for ``step``, use one up and return the knobs that armed it."""
        if not self.knobs_file.exists():
            return None
        with self.lock():
            knobs = self.knobs()
            if not knobs.fails_at(step):
                return None
            spent = knobs.after_failure()
            if spent != knobs:
                atomic_write_text(self.knobs_file, json.dumps(spent.to_dict()))
            return knobs
