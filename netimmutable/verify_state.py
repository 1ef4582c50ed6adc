"""The last verify outcome of each host: ``.netimmutable/verify-state.json`` (local), read by ``status``.

    {"schema_version": 1,
     "hosts": {"r1": {"when_utc": "2024-05-01T02:00:03Z", "state": "in-sync", "release": "<sha>",
                      "baseline": "last-good", "run_id": "20240501T020000Z-1a2b3c4d", "message": "",
                      "since_utc": "2024-04-30T02:00:02Z"}}}

A run updates only the hosts it verified; others keep their entry. ``since_utc`` is the first verify of the
current streak of verifies that found the same state (it stays while the state does; a file written before
it existed reads as ``when_utc``): ``metrics`` tells from it how long a host has been seen drifting.
Writes are atomic (a temporary file in the same folder, then ``os.replace``) and serialized by a lock
file, so concurrent runs lose no host and a reader never sees half a file. A missing or unreadable file
reads as "never verified".

Examples:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "verify-state.json"
    >>> entry = VerifyStateEntry("r1", "2024-05-01T02:00:03Z", "drift", "ab12", "last-good")
    >>> update_state_file(path, [entry])
    >>> read_state_file(path)["r1"].state
    'drift'
    >>> update_state_file(path, [VerifyStateEntry("r1", "2024-05-01T03:00:03Z", "drift", "ab12")])
    >>> read_state_file(path)["r1"].since_utc
    '2024-05-01T02:00:03Z'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from netimmutable.fileio import atomic_write_text
from netimmutable.repo import NetworkRepo
from netimmutable.verify_model import VerifyReport

__all__ = [
    "STATE_FILE",
    "STATE_SCHEMA_VERSION",
    "VerifyStateEntry",
    "read_state_file",
    "read_verify_state",
    "record_report",
    "state_path",
    "update_state_file",
]

STATE_FILE = "verify-state.json"
STATE_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class VerifyStateEntry:
    """One host's last verification."""

    host: str
    when_utc: str
    state: str
    """A ``HostState`` value: in-sync, drift, expectations-failed, unreachable, no-baseline, error."""
    release: str | None
    baseline: str = "last-good"
    run_id: str = ""
    message: str = ""
    since_utc: str = ""
    """First verify of the streak that found ``state`` ('' on a new entry: ``update_state_file`` sets it)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("host")
        return data

    @classmethod
    def from_json(cls, host: str, data: Any) -> VerifyStateEntry | None:
        if not isinstance(data, dict) or not isinstance(data.get("state"), str):
            return None
        release = data.get("release")
        return cls(
            host=host,
            when_utc=str(data.get("when_utc") or ""),
            state=str(data["state"]),
            release=None if release is None else str(release),
            baseline=str(data.get("baseline") or "last-good"),
            run_id=str(data.get("run_id") or ""),
            message=str(data.get("message") or ""),
            since_utc=str(data.get("since_utc") or data.get("when_utc") or ""),
        )


def state_path(repo: NetworkRepo) -> Path:
    return repo.local_dir / STATE_FILE


def read_state_file(path: Path) -> dict[str, VerifyStateEntry]:
    """Host -> last verification; ``{}`` when the file is missing or not readable as a state file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    hosts = data.get("hosts") if isinstance(data, dict) else None
    if not isinstance(hosts, dict):
        return {}
    out: dict[str, VerifyStateEntry] = {}
    for name, value in hosts.items():
        entry = VerifyStateEntry.from_json(str(name), value)
        if entry is not None:
            out[str(name)] = entry
    return out


def read_verify_state(repo: NetworkRepo) -> dict[str, VerifyStateEntry]:
    """The last verification of every host that was ever verified from this checkout (for ``status``)."""
    return read_state_file(state_path(repo))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f"{path.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update_state_file(path: Path, entries: Iterable[VerifyStateEntry]) -> None:
    """Merge ``entries`` into the state file at ``path`` (atomically, under a lock)."""
    with _locked(path):
        current = read_state_file(path)
        for entry in entries:
            before = current.get(entry.host)
            since = entry.since_utc or entry.when_utc
            if before is not None and before.state == entry.state and before.since_utc:
                since = before.since_utc  # the same state again: the streak goes on
            current[entry.host] = replace(entry, since_utc=since)
        payload = {
            "schema_version": STATE_SCHEMA_VERSION,
            "hosts": {name: current[name].to_json() for name in sorted(current)},
        }
        atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n", durable=True)


def record_report(repo: NetworkRepo, report: VerifyReport) -> None:
    """Remember every verified host's outcome of ``report``."""
    update_state_file(
        state_path(repo),
        (
            VerifyStateEntry(
                host=h.host,
                when_utc=h.checked_utc,
                state=str(h.state),
                release=h.release,
                baseline=h.baseline,
                run_id=report.run_id,
                message=h.message.splitlines()[0] if h.message else "",
            )
            for h in report.hosts
        ),
    )
