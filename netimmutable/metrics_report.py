"""The formats of ``netimmutable metrics``: text for people, JSON for machines, OpenMetrics for Prometheus.

The OpenMetrics text is also valid Prometheus text format, which is what node_exporter's textfile collector
reads: every family is a gauge (each figure is computed afresh from the records, not counted up by a
process), ``# UNIT`` and ``# EOF`` are comments to that parser, and a figure without a value (a rate with
nothing to divide by) has no sample. Labels: ``window`` (``all`` or the ``--since`` value), ``stat``
(``mean``, ``median``, ``max``) on durations, ``how`` on rollbacks.

Examples:
    >>> duration(2.5), duration(59), duration(61), duration(3 * 3600 + 120), duration(None)
    ('2.5s', '59s', '1m 1s', '3h 2m', '-')
    >>> percent(0.125), percent(None)
    ('12.5%', '-')
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from netimmutable.errors import InputError
from netimmutable.fileio import atomic_write_text
from netimmutable.metrics import Metrics, Stats, WindowMetrics, parse_utc

__all__ = [
    "METRICS_SCHEMA_VERSION",
    "duration",
    "metrics_schema",
    "percent",
    "to_json",
    "to_json_text",
    "to_openmetrics",
    "to_text",
    "write_openmetrics",
]

METRICS_SCHEMA_VERSION = 1
_PREFIX = "netimmutable"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1 and not float(seconds).is_integer():  # a render of a few hosts: 40ms, not 0.0s
        return f"{seconds * 1000:.0f}ms" if seconds >= 0.0005 else "<1ms"
    if seconds < 10 and not float(seconds).is_integer():
        return f"{seconds:.1f}s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    for big, big_unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "m"),
        (minutes, "m", secs, "s"),
    ):
        if big:
            return f"{big}{big_unit} {small}{small_unit}"
    return f"{secs}s"


def percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


def _stats_json(s: Stats) -> dict[str, Any]:
    return {"count": s.count, "mean": s.mean, "median": s.median, "max": s.max}


def _window_json(w: WindowMetrics) -> dict[str, Any]:
    d, r, drift = w.deployments, w.restores, w.drift
    return {
        "label": w.label,
        "since_utc": w.since_utc,
        "until_utc": w.until_utc,
        "days": w.days,
        "deployments": {
            "deploy_runs": d.deploy_runs,
            "deployments": d.deployments,
            "host_deployments": d.host_deployments,
            "per_day": d.per_day,
            "changes": d.changes,
            "failed_changes": d.failed_changes,
            "change_failure_rate": d.change_failure_rate,
        },
        "restores": {
            "automatic_rollbacks": r.automatic_rollbacks,
            "manual_rollbacks": r.manual_rollbacks,
            "rollback_seconds": _stats_json(r.rollback_seconds),
            "restored": r.restored,
            "unrestored": r.unrestored,
            "unrestored_runs": list(r.unrestored_runs),
            "restore_seconds": _stats_json(r.restore_seconds),
        },
        "drift": {
            "verified_hosts": drift.verified,
            "drifting_hosts": drift.drifting,
            "rate": drift.rate,
            "hosts": list(drift.hosts),
            "drifting_seconds": _stats_json(drift.seconds),
        },
        "durations": {
            "deploy_seconds": _stats_json(w.deploy_seconds),
            "render_seconds": _stats_json(w.render_seconds),
        },
    }


def metrics_schema() -> dict[str, Any]:
    """The JSON Schema of ``to_json`` output (``netimmutable/schemas/metrics.schema.json``)."""
    text = resources.files("netimmutable").joinpath("schemas/metrics.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def to_json(metrics: Metrics) -> dict[str, Any]:
    c = metrics.coverage
    return {
        "schema_version": METRICS_SCHEMA_VERSION,
        "kind": "netimmutable.metrics",
        "generated_utc": metrics.generated_utc,
        "coverage": {
            "inventory_hosts": c.inventory_hosts,
            "managed_hosts": c.managed,
            "managed_ratio": c.managed_ratio,
            "adopted_hosts": c.adopted,
            "templated_hosts": c.templated,
            "expectations_hosts": c.with_expectations,
            "unmanaged_hosts": list(c.unmanaged_hosts),
        },
        "windows": [_window_json(w) for w in metrics.windows],
    }


def to_json_text(metrics: Metrics) -> str:
    return json.dumps(to_json(metrics), indent=2, sort_keys=True) + "\n"


def _stats_text(s: Stats, what: str) -> str:
    if not s.count:
        return "-"
    return f"median {duration(s.median)}, mean {duration(s.mean)}, max {duration(s.max)} ({s.count} {what})"


def _rows(w: WindowMetrics) -> list[tuple[str, str]]:
    d, r, drift = w.deployments, w.restores, w.drift
    per_day = f" ({d.per_day:g}/day)" if d.per_day is not None else ""
    restore = _stats_text(r.restore_seconds, "restored")
    if r.unrestored:
        restore += f"; not restored yet: {r.unrestored} ({', '.join(r.unrestored_runs)})"
    drifting = f"{drift.drifting} of {drift.verified} verified host(s) ({percent(drift.rate)})"
    if drift.hosts:
        drifting += ": " + ", ".join(drift.hosts)
    return [
        ("deployments", f"{d.deployments}{per_day}; {d.host_deployments} host deployment(s)"),
        ("deploy runs", str(d.deploy_runs)),
        (
            "change failure rate",
            f"{percent(d.change_failure_rate)} ({d.failed_changes} of {d.changes} change(s) failed)",
        ),
        ("rollbacks", f"{r.automatic_rollbacks} automatic, {r.manual_rollbacks} manual (host(s))"),
        ("rollback time", _stats_text(r.rollback_seconds, "run(s)")),
        ("time to restore", restore),
        ("drift", drifting),
        ("seen drifting for", _stats_text(drift.seconds, "host(s)")),
        ("deploy duration", _stats_text(w.deploy_seconds, "run(s)")),
        ("render duration", _stats_text(w.render_seconds, "release(s)")),
    ]


def to_text(metrics: Metrics) -> str:
    c = metrics.coverage
    lines = [
        f"netimmutable metrics at {metrics.generated_utc}",
        f"coverage: {c.managed} of {c.inventory_hosts} inventory host(s) managed "
        f"({percent(c.managed_ratio)}); "
        f"{c.adopted} adopted verbatim, {c.templated} templated; {c.with_expectations} with expectations",
    ]
    if c.unmanaged_hosts:
        shown = ", ".join(c.unmanaged_hosts[:20]) + (", ..." if len(c.unmanaged_hosts) > 20 else "")
        lines.append(f"  not managed (never deployed): {shown}")
    for w in metrics.windows:
        if w.since_utc is not None:
            head = f"last {w.label} (since {w.since_utc})"
        else:
            head = f"all records ({w.days:g} day(s))" if w.days is not None else "all records (none yet)"
        lines.append("")
        lines.append(head)
        lines.extend(f"  {name:<20}{value}" for name, value in _rows(w))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------- OpenMetrics
def _label_text(labels: dict[str, str]) -> str:
    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}" if labels else ""


def _value(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) and not value.is_integer() else str(int(value))


class _Families:
    """Metric families in order, each with its samples (a family's samples stay together)."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._meta: dict[str, tuple[str, str]] = {}
        self._samples: dict[str, list[str]] = {}

    def add(self, name: str, help_text: str, value: float | None, unit: str = "", **labels: str) -> None:
        full = f"{_PREFIX}_{name}"
        if full not in self._meta:
            self._order.append(full)
            self._meta[full] = (help_text, unit)
            self._samples[full] = []
        if value is not None:
            self._samples[full].append(f"{full}{_label_text(labels)} {_value(value)}")

    def stats(self, name: str, help_text: str, s: Stats, **labels: str) -> None:
        for stat in ("mean", "median", "max"):
            self.add(name, help_text, getattr(s, stat), "seconds", **labels, stat=stat)

    def lines(self) -> Iterator[str]:
        for full in self._order:
            help_text, unit = self._meta[full]
            yield f"# TYPE {full} gauge"
            if unit:
                yield f"# UNIT {full} {unit}"
            yield f"# HELP {full} {help_text}"
            yield from self._samples[full]


def to_openmetrics(metrics: Metrics) -> str:
    """The OpenMetrics text exposition of ``metrics`` (ends with ``# EOF``)."""
    f = _Families()
    c = metrics.coverage
    f.add("inventory_hosts", "Hosts in the inventory.", c.inventory_hosts)
    f.add("managed_hosts", "Inventory hosts with a last-good release.", c.managed)
    f.add("managed_ratio", "Managed hosts / inventory hosts.", c.managed_ratio, "ratio")
    f.add("adopted_hosts", "Hosts whose entry template is an adopted verbatim config.", c.adopted)
    f.add("templated_hosts", "Hosts rendered from templates (not adopted verbatim).", c.templated)
    f.add("expectations_hosts", "Hosts with expectations in HEAD's snapshots.", c.with_expectations)
    for w in metrics.windows:
        d, r, drift, win = w.deployments, w.restores, w.drift, w.label
        f.add("deploy_runs", "Deploy runs started in the window.", d.deploy_runs, window=win)
        f.add("deployments", "Deploy runs that put a new release on a host.", d.deployments, window=win)
        f.add("host_deployments", "Hosts deployed (one per host and run).", d.host_deployments, window=win)
        f.add("deployments_per_day", "Deployments per day over the window.", d.per_day, window=win)
        f.add("changes", "Deploy runs that changed at least one host.", d.changes, window=win)
        f.add(
            "failed_changes",
            "Changes that rolled a host back (or left it unknown).",
            d.failed_changes,
            window=win,
        )
        f.add("change_failure_ratio", "Failed changes / changes.", d.change_failure_rate, "ratio", window=win)
        f.add("rollbacks", "Hosts rolled back.", r.automatic_rollbacks, window=win, how="automatic")
        f.add("rollbacks", "Hosts rolled back.", r.manual_rollbacks, window=win, how="manual")
        f.stats("rollback_seconds", "Run start to its verified rollback.", r.rollback_seconds, window=win)
        f.add(
            "restored_changes", "Failed changes whose hosts are verified good again.", r.restored, window=win
        )
        f.add(
            "unrestored_changes",
            "Failed changes with a host not verified good yet.",
            r.unrestored,
            window=win,
        )
        f.stats(
            "restore_seconds",
            "Failed change start to every host verified good.",
            r.restore_seconds,
            window=win,
        )
        f.add("verified_hosts", "Hosts whose last verify falls in the window.", drift.verified, window=win)
        f.add("drifting_hosts", "Hosts whose last verify found drift.", drift.drifting, window=win)
        f.add("drift_ratio", "Drifting hosts / verified hosts.", drift.rate, "ratio", window=win)
        f.stats(
            "drifting_seconds", "How long drifting hosts have been seen drifting.", drift.seconds, window=win
        )
        f.stats("deploy_duration_seconds", "Deploy run durations.", w.deploy_seconds, window=win)
        f.stats(
            "render_duration_seconds", "Render time of releases made by commit.", w.render_seconds, window=win
        )
    generated = parse_utc(metrics.generated_utc).timestamp()
    f.add("metrics_generated_timestamp_seconds", "When these figures were computed.", generated, "seconds")
    return "\n".join([*f.lines(), "# EOF"]) + "\n"


def write_openmetrics(path: Path, metrics: Metrics) -> None:
    """Write the OpenMetrics text to ``path`` atomically (a scrape never reads half a file); the temporary
    file is ``.<name>.*.tmp`` in the same folder, which the textfile collector (``*.prom``) skips."""
    if not path.parent.is_dir():
        raise InputError(
            f"cannot write the OpenMetrics file: its folder {path.parent} does not exist", file=str(path)
        )
    try:
        atomic_write_text(path, to_openmetrics(metrics), durable=True)
    except OSError as exc:
        raise InputError(
            f"cannot write the OpenMetrics file: {exc.strerror or exc}", file=str(path)
        ) from None
