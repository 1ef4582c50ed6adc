"""Change metrics from what the repository already records: pure functions over typed records.

Inputs (``History``, read by ``netimmutable.metrics_source``): the run records of ``refs/netimmutable/runs``,
each inventory host's coverage facts, each host's last verify (``.netimmutable/verify-state.json``) and the
render time ``netimmutable commit`` writes into each release's trailers. Nothing here reads git or a clock:
``compute`` takes ``now``, so the same history always gives the same figures.

Definitions (docs/metrics.md has the same table for users):

    deployment        a ``deploy`` run that put a new release on at least one host (a host ``deployed``)
    change            a ``deploy`` run that changed at least one host (deployed, rolled back, reverted,
                      rollback-failed or left unknown); a run in which every host was unchanged, refused,
                      unreachable, failed before a change or skipped changed nothing
    failed change     a change with a host rolled back, reverted, rollback-failed or unknown
    change failure    failed changes / changes
    rollback time     per run that rolled a host back: in a deploy, from a host's failed check to its
                      verified rollback (the longest such host; the run's start to its end for records
                      older than per-host times); a ``rollback`` run that pushed a last-good release: the
                      run's start to its end
    time to restore   per failed change: from its first failed check (the run's start for older records)
                      until every host it failed is verified on a good config again (its rollback's end
                      when the run rolled it back; else when the first later run left the host deployed,
                      unchanged, rolled back or reverted); unrestored until then
    drift             hosts whose last verify found drift, of the hosts whose last verify compared their
                      config (in-sync, drift, expectations-failed); how long each has been seen drifting:
                      from the first verify of that streak to the last
    coverage          inventory hosts with a last-good release (managed), adopted verbatim (entry template
                      under ``templates/adopted/``) or templated, with expectations in HEAD's snapshots

Record times are UTC with second precision; durations are whole seconds of those stamps. Deployments per
day divide by the period's days, at least one: a history of two hours with one deployment says 1/day, not
12/day.

Examples:
    >>> stats([3.0, 1.0, 2.0])
    Stats(count=3, mean=2.0, median=2.0, max=3.0)
    >>> parse_since("30d", parse_utc("2024-05-31T00:00:00Z"))
    ('30d', '2024-05-01T00:00:00Z')
    >>> parse_since("2024-05-01", parse_utc("2024-05-31T00:00:00Z"))
    ('2024-05-01', '2024-05-01T00:00:00Z')
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from netimmutable.errors import InputError
from netimmutable.outcomes import HostOutcome
from netimmutable.records import RunRecord
from netimmutable.utctime import UTC_FORMAT, parse_utc
from netimmutable.verify_model import HostState

__all__ = [
    "Coverage",
    "Deployments",
    "Drift",
    "History",
    "HostFacts",
    "Metrics",
    "ReleaseTiming",
    "Restores",
    "Stats",
    "VerifySeen",
    "WindowMetrics",
    "compute",
    "format_utc",
    "parse_since",
    "parse_until",
    "parse_utc",
    "stats",
]

_DEPLOYED = HostOutcome.DEPLOYED  # the new release is on the host, verified
_ROLLED_BACK_IN_RUN = frozenset({HostOutcome.ROLLED_BACK, HostOutcome.REVERTED})
_FAILED = _ROLLED_BACK_IN_RUN | {HostOutcome.ROLLBACK_FAILED, HostOutcome.UNKNOWN}
_CHANGED = _FAILED | {_DEPLOYED}
_VERIFIED_GOOD = _ROLLED_BACK_IN_RUN | {_DEPLOYED, HostOutcome.UNCHANGED}
"""The host ended the run verified on a release it may stay on (new, unchanged, or its last-good)."""
_COMPARED = frozenset({HostState.IN_SYNC, HostState.DRIFT, HostState.EXPECTATIONS_FAILED})
"""Verify states in which the running config was compared (the others say nothing about drift)."""
DEPLOY, ROLLBACK = "deploy", "rollback"
_SINCE = re.compile(r"(\d+)([mhdw])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def format_utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime(UTC_FORMAT)


def _moment(text: str) -> dt.datetime | None:
    """A UTC date (its midnight) or time, or None."""
    for layout in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(text, layout).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def parse_since(text: str, now: dt.datetime) -> tuple[str, str]:
    """``--since``: ``30d``, ``12h``, ``2w``, ``90m`` before ``now``, or a UTC date or time; returns (the
    label as given, the start as a record time)."""
    value = text.strip()
    match = _SINCE.fullmatch(value)
    if match:
        span = dt.timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
        return value, format_utc(now - span)
    start = _moment(value)
    if start is not None and start >= now:
        raise InputError(
            f"--since {text!r} is not before {format_utc(now)} (--until, or now): the period would be empty"
        )
    if start is not None:
        return value, format_utc(start)
    raise InputError(
        f"--since {text!r}: give a span (30d, 12h, 2w, 90m) or a UTC date (2024-05-01) or time "
        "(2024-05-01T00:00:00Z)"
    )


def parse_until(text: str) -> dt.datetime:
    """``--until``: a UTC date (its midnight) or time; the figures are as of that moment."""
    moment = _moment(text.strip())
    if moment is not None:
        return moment
    raise InputError(f"--until {text!r}: give a UTC date (2024-06-01) or time (2024-06-01T00:00:00Z)")


def _seconds(start: str, end: str) -> float:
    return (parse_utc(end) - parse_utc(start)).total_seconds()


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of durations in seconds (None without values)."""

    count: int
    mean: float | None
    median: float | None
    max: float | None


def stats(values: Sequence[float]) -> Stats:
    if not values:
        return Stats(0, None, None, None)
    return Stats(len(values), round(statistics.fmean(values), 3), statistics.median(values), max(values))


@dataclass(frozen=True, slots=True)
class HostFacts:
    """One inventory host, for coverage."""

    host: str
    managed: bool
    """It has a last-good release (``refs/netimmutable/good/<host>``)."""
    adopted: bool
    """Its entry template is a verbatim copy of a running config (``templates/adopted/``)."""
    expectations: bool
    """HEAD's snapshots hold ``<host>.expect.yaml``."""


@dataclass(frozen=True, slots=True)
class VerifySeen:
    """A host's last verify."""

    host: str
    state: HostState
    checked_utc: str
    since_utc: str
    """The first verify of the streak of verifies that found this same state."""


@dataclass(frozen=True, slots=True)
class ReleaseTiming:
    """How long ``netimmutable commit`` took to render a release (its trailers)."""

    sha: str
    committed_utc: str
    render_seconds: float


@dataclass(frozen=True, slots=True)
class History:
    runs: tuple[RunRecord, ...]
    hosts: tuple[HostFacts, ...] = ()
    verifies: tuple[VerifySeen, ...] = ()
    releases: tuple[ReleaseTiming, ...] = ()


@dataclass(frozen=True, slots=True)
class Coverage:
    inventory_hosts: int
    managed: int
    adopted: int
    templated: int
    with_expectations: int
    unmanaged_hosts: tuple[str, ...]

    @property
    def managed_ratio(self) -> float | None:
        return _ratio(self.managed, self.inventory_hosts)


@dataclass(frozen=True, slots=True)
class Deployments:
    deploy_runs: int
    deployments: int
    host_deployments: int
    changes: int
    failed_changes: int
    per_day: float | None

    @property
    def change_failure_rate(self) -> float | None:
        return _ratio(self.failed_changes, self.changes)


@dataclass(frozen=True, slots=True)
class Restores:
    automatic_rollbacks: int
    """Hosts rolled back (or reverted by their device) inside a deploy."""
    manual_rollbacks: int
    """Hosts a ``rollback`` run put back on a last-good release."""
    rollback_seconds: Stats
    restored: int
    unrestored: int
    unrestored_runs: tuple[str, ...]
    restore_seconds: Stats


@dataclass(frozen=True, slots=True)
class Drift:
    verified: int
    drifting: int
    hosts: tuple[str, ...]
    seconds: Stats
    """How long each drifting host has been seen drifting (first to last verify of its streak)."""

    @property
    def rate(self) -> float | None:
        return _ratio(self.drifting, self.verified)


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    label: str
    """``all``, or the ``--since`` value as given."""
    since_utc: str | None
    until_utc: str
    days: float | None
    deployments: Deployments
    restores: Restores
    drift: Drift
    deploy_seconds: Stats
    render_seconds: Stats


@dataclass(frozen=True, slots=True)
class Metrics:
    generated_utc: str
    coverage: Coverage
    windows: tuple[WindowMetrics, ...]
    """The ``--since`` period first (when given), then ``all``."""


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _outcomes(run: RunRecord) -> set[HostOutcome]:
    return {h.outcome for h in run.hosts}


def _deployments(runs: Sequence[RunRecord], days: float | None) -> Deployments:
    deploys = [r for r in runs if r.kind == DEPLOY]
    changes = [r for r in deploys if _outcomes(r) & _CHANGED]
    deployed = [r for r in deploys if _DEPLOYED in _outcomes(r)]
    return Deployments(
        deploy_runs=len(deploys),
        deployments=len(deployed),
        host_deployments=sum(1 for r in deploys for h in r.hosts if h.outcome is _DEPLOYED),
        changes=len(changes),
        failed_changes=sum(1 for r in changes if _outcomes(r) & _FAILED),
        per_day=round(len(deployed) / max(days, 1.0), 4) if days else None,  # at least a day: no 8640/day
    )


def _restored_at(run: RunRecord, host: str, outcome: HostOutcome, later: Sequence[RunRecord]) -> str | None:
    """When ``host``, failed by ``run``, was next verified on a good config (None: not yet)."""
    if outcome in _ROLLED_BACK_IN_RUN:
        own = run.host(host)
        return (own.ended_utc if own is not None else None) or run.ended_utc
    for other in later:
        record = other.host(host)
        if record is not None and record.outcome in _VERIFIED_GOOD:
            return record.ended_utc or other.ended_utc
    return None


def _rollback_seconds(run: RunRecord) -> float:
    """How long a deploy's automatic rollbacks took: from each host's failed check to its verified rollback
    (the longest); the whole run for records older than per-host times."""
    hosts = [h for h in run.hosts if h.outcome in _ROLLED_BACK_IN_RUN]
    if hosts and all(h.failed_utc and h.ended_utc for h in hosts):
        return max(_seconds(str(h.failed_utc), str(h.ended_utc)) for h in hosts)
    return _seconds(run.started_utc, run.ended_utc)


def _restores(runs: Sequence[RunRecord], everything: Sequence[RunRecord]) -> Restores:
    rollback_times: list[float] = []
    automatic = manual = 0
    restore_times: list[float] = []
    unrestored: list[str] = []
    for run in runs:
        if run.kind == DEPLOY:
            back = sum(1 for h in run.hosts if h.outcome in _ROLLED_BACK_IN_RUN)
            automatic += back
        elif run.kind == ROLLBACK:
            back = sum(1 for h in run.hosts if h.outcome is _DEPLOYED)
            manual += back
        else:
            continue
        if back:
            automatic_run = run.kind == DEPLOY
            rollback_times.append(
                _rollback_seconds(run) if automatic_run else _seconds(run.started_utc, run.ended_utc)
            )
        failed = [h for h in run.hosts if h.outcome in _FAILED]
        if run.kind != DEPLOY or not failed:
            continue
        later = [r for r in everything if r.started_utc >= run.ended_utc and r.run_id != run.run_id]
        times = [_restored_at(run, h.host, h.outcome, later) for h in failed]
        if any(t is None for t in times):
            unrestored.append(run.run_id)
        else:
            since = min((h.failed_utc for h in failed if h.failed_utc), default=run.started_utc)
            restore_times.append(max(_seconds(since, str(t)) for t in times))
    return Restores(
        automatic_rollbacks=automatic,
        manual_rollbacks=manual,
        rollback_seconds=stats(rollback_times),
        restored=len(restore_times),
        unrestored=len(unrestored),
        unrestored_runs=tuple(unrestored),
        restore_seconds=stats(restore_times),
    )


def _drift(verifies: Sequence[VerifySeen]) -> Drift:
    compared = [v for v in verifies if v.state in _COMPARED]
    drifting = sorted((v for v in compared if v.state is HostState.DRIFT), key=lambda v: v.host)
    return Drift(
        verified=len(compared),
        drifting=len(drifting),
        hosts=tuple(v.host for v in drifting),
        seconds=stats([_seconds(v.since_utc, v.checked_utc) for v in drifting]),
    )


def coverage(hosts: Sequence[HostFacts]) -> Coverage:
    adopted = sum(1 for h in hosts if h.adopted)
    return Coverage(
        inventory_hosts=len(hosts),
        managed=sum(1 for h in hosts if h.managed),
        adopted=adopted,
        templated=len(hosts) - adopted,
        with_expectations=sum(1 for h in hosts if h.expectations),
        unmanaged_hosts=tuple(sorted(h.host for h in hosts if not h.managed)),
    )


def _window(history: History, label: str, since: str | None, now: str) -> WindowMetrics:
    def inside(when: str) -> bool:
        return (since is None or when >= since) and when <= now

    everything = sorted(history.runs, key=lambda r: (r.started_utc, r.run_id))
    runs = [r for r in everything if inside(r.started_utc)]
    start = since
    if start is None:
        stamps = [r.started_utc for r in everything] + [t.committed_utc for t in history.releases]
        start = min(stamps) if stamps else None
    days = _seconds(start, now) / 86400 if start is not None and start < now else None
    return WindowMetrics(
        label=label,
        since_utc=since,
        until_utc=now,
        days=round(days, 4) if days is not None else None,
        deployments=_deployments(runs, days),
        restores=_restores(runs, everything),
        drift=_drift([v for v in history.verifies if inside(v.checked_utc)]),
        deploy_seconds=stats([_seconds(r.started_utc, r.ended_utc) for r in runs if r.kind == DEPLOY]),
        render_seconds=stats([t.render_seconds for t in history.releases if inside(t.committed_utc)]),
    )


def compute(history: History, now: dt.datetime, since: str | None = None) -> Metrics:
    """The figures of ``history`` as of ``now`` (what happened after it is left out): for ``since`` (a
    ``parse_since`` value, relative to ``now``) when given, and overall."""
    until = format_utc(now)
    windows = []
    if since is not None:
        label, start = parse_since(since, now)
        windows.append(_window(history, label, start, until))
    windows.append(_window(history, "all", None, until))
    return Metrics(generated_utc=until, coverage=coverage(history.hosts), windows=tuple(windows))
