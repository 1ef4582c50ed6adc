"""What a change window will do, as the confirmation shows it (``deploy`` and ``rollback``, ``--yes`` too).

Per host: the release it will run and how many lines change. A deploy counts against the host's last-good
artifact (no device is read). A rollback is usually wanted because the device is off its last-good, so it
counts against the running config, read from the device (read only); when that cannot be read, against
the host's recorded last-good artifact, and the summary says which.

Only counts are shown, never lines: the running config holds secret values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from nornir.core.inventory import Host

from netimmutable.deploy_gate import Prepared
from netimmutable.deploy_model import HostChange, HostJob, changed_lines
from netimmutable.errors import NetImmutableError
from netimmutable.normalize import normalize

__all__ = ["host_changes"]

ReadRunning = Callable[[Host], str]


def _read_running(host: Host) -> str:
    from netimmutable.device import Device  # the device boundary, only when a rollback is confirmed

    with Device.open(host) as dev:
        return dev.running_config()


def _against_running(
    job: HostJob,
    host: Host,
    resolve: Callable[[str], str],
    extra: Sequence[str],
    recorded: str | None,
    read: ReadRunning,
) -> HostChange:
    try:
        running = read(host)
    except NetImmutableError as exc:
        why = f"running config unreadable: {exc.message.splitlines()[0] if exc.message else exc}"
        if recorded is None:
            return HostChange(job.host, job.release, 0, 0, first=False, compared=False, note=why)
        added, removed = changed_lines(recorded, job.artifact)
        return HostChange(job.host, job.release, added, removed, first=False, against="last-good", note=why)
    target = normalize(resolve(job.artifact), job.platform, extra)
    added, removed = changed_lines(normalize(running, job.platform, extra), target)
    return HostChange(job.host, job.release, added, removed, first=False, against="running")


def host_changes(
    kind: str,
    prepared: Prepared,
    *,
    resolve: Callable[[str], str],
    extra: Sequence[str] = (),
    recorded: Mapping[str, str | None] | None = None,
    read: ReadRunning = _read_running,
) -> tuple[HostChange, ...]:
    """The per-host lines of the confirmation. ``recorded``: each host's recorded last-good artifact (a
    rollback's fallback when its running config cannot be read)."""
    if kind != "rollback":
        out = []
        for name, job in prepared.jobs.items():
            added, removed = changed_lines(job.last_good_artifact, job.artifact)
            out.append(HostChange(name, job.release, added, removed, first=job.last_good_artifact is None))
        return tuple(out)
    recorded = recorded or {}
    names = list(prepared.jobs)
    with ThreadPoolExecutor(max_workers=max(1, min(len(names), prepared.workers))) as pool:
        return tuple(
            pool.map(
                lambda n: _against_running(
                    prepared.jobs[n], prepared.hosts[n], resolve, extra, recorded.get(n), read
                ),
                names,
            )
        )
