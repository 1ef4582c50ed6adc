"""The formats of a verify report: text for people, JSON for machines, JUnit XML for CI test views.

JSON follows ``netimmutable/schemas/verify-report.schema.json`` (``schema_version`` 1): UTC timestamps,
release ids, the policy, counts per state and per host its state, verdict, digests, diff, failed
expectations, message, remediation commands and per-feature compliance. JUnit has one ``testcase`` per
host: drift and failed expectations are ``failure`` s, unreachable hosts and errors are ``error`` s
(``skipped`` when the policy says they do not fail the run), so CI systems show drift as failed tests; and
one per feature of each compared host (``compliance.features`` in settings), a drifted one a ``failure``.

Examples:
    >>> from netimmutable.verify_model import VerifiedHost, HostState, VerifyPolicy, VerifyReport
    >>> t = "2024-05-01T02:00:01Z"
    >>> r = VerifyReport("id", t, t, "0.1.0", None, None, False,
    ...                  VerifyPolicy(), (VerifiedHost("r1", "frr", HostState.IN_SYNC, t),))
    >>> to_json(r)["summary"]["in-sync"], to_json(r)["exit_code"]
    (1, 0)
    >>> print(to_junit(r).splitlines()[1][:60])
    <testsuites name="netimmutable verify" tests="1" failures="0
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from importlib import resources
from typing import Any

from netimmutable.verify_model import (
    REPORT_SCHEMA_VERSION,
    FeatureResult,
    HostState,
    Verdict,
    VerifiedHost,
    VerifyReport,
)

__all__ = [
    "FORMATS",
    "feature_lines",
    "features_summary",
    "render",
    "report_schema",
    "to_json",
    "to_json_text",
    "to_junit",
    "to_text",
]

FORMATS = ("text", "json", "junit")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def report_schema() -> dict[str, Any]:
    """The JSON Schema of ``to_json`` output."""
    text = resources.files("netimmutable").joinpath("schemas/verify-report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _host_json(report: VerifyReport, h: VerifiedHost) -> dict[str, Any]:
    return {
        "host": h.host,
        "platform": h.platform,
        "state": str(h.state),
        "verdict": str(report.verdict(h)),
        "checked_utc": h.checked_utc,
        "baseline": h.baseline,
        "release": h.release,
        "expected_digest": h.expected_digest,
        "running_digest": h.running_digest,
        "diff": h.diff or None,
        "compared_by": h.compared_by or None,
        "worker": h.worker or None,
        "expectations": h.expectations,
        "failed_expectations": list(h.failed_expectations),
        "message": h.message,
        "duration_s": round(h.duration_s, 3),
        "remediation": [
            {"action": r.action, "command": r.command, "description": r.description} for r in h.remediation
        ],
        "features": [
            {
                "name": f.name,
                "status": f.status,
                "compliant": f.compliant,
                "missing": list(f.missing),
                "extra": list(f.extra),
                "error": f.error or None,
            }
            for f in h.features
        ],
    }


def to_json(report: VerifyReport) -> dict[str, Any]:
    """The report as plain data (see the schema)."""
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "kind": "netimmutable.verify",
        "tool": {"name": "netimmutable", "version": report.tool_version},
        "run_id": report.run_id,
        "started_utc": report.started_utc,
        "finished_utc": report.finished_utc,
        "duration_s": round(report.duration_s, 3),
        "against": report.against,
        "against_release": report.against_release,
        "expectations": report.expectations,
        "policy": {
            "unreachable_is_failure": report.policy.unreachable_is_failure,
            "no_baseline_is_failure": report.policy.no_baseline_is_failure,
        },
        "exit_code": int(report.exit_code),
        "summary": {"hosts": len(report.hosts), **report.counts()},
        "hosts": [_host_json(report, h) for h in report.hosts],
    }


def to_json_text(report: VerifyReport) -> str:
    return json.dumps(to_json(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("\N{REPLACEMENT CHARACTER}", text)


def _case_body(h: VerifiedHost) -> str:
    parts = [h.message] if h.message else []
    if h.diff:
        parts.append(h.diff.rstrip("\n"))
    if h.failed_expectations:
        parts.append("failed expectations:\n" + "\n".join(f"  - {f}" for f in h.failed_expectations))
    parts.extend(f"{r.action}: {r.command}  # {r.description}" for r in h.remediation)
    return _xml_text("\n\n".join(parts))


def feature_lines(f: FeatureResult) -> list[str]:
    """What differs in a feature, for people: ``- line`` the device lacks, ``+ line`` it has beyond the
    release (parent lines repeated on both sides for context).

    Examples:
        >>> feature_lines(FeatureResult("bgp", False, ("router bgp 1", " neighbor a"), ("router bgp 1",)))
        ['- router bgp 1', '-  neighbor a', '+ router bgp 1']
        >>> feature_lines(FeatureResult("acl", False))
        ['the same lines in another order (the feature is ordered)']
    """
    if f.error:
        return [f.error]
    lines = [f"- {line}" for line in f.missing] + [f"+ {line}" for line in f.extra]
    if not lines and not f.compliant:
        return ["the same lines in another order (the feature is ordered)"]
    return lines


def features_summary(features: tuple[FeatureResult, ...]) -> str:
    """``features: 1 compliant (bgp), 1 drifted (interfaces)``."""
    parts = []
    for status in ("compliant", "drifted", "error"):
        names = [f.name for f in features if f.status == status]
        if names:
            parts.append(f"{len(names)} {status} ({', '.join(names)})")
    return "features: " + ", ".join(parts)


def to_junit(report: VerifyReport) -> str:
    """JUnit XML: one ``testsuite``, one ``testcase`` per host (class ``netimmutable.verify.<platform>``),
    and one per feature of each compared host (class ``netimmutable.verify.<platform>.<host>``, name the
    feature): drifted features are ``failure`` s, features that could not be compared ``error`` s."""
    verdicts = [report.verdict(h) for h in report.hosts]
    features = [f for h in report.hosts for f in h.features]
    counts = {
        "tests": str(len(report.hosts) + len(features)),
        "failures": str(verdicts.count(Verdict.FAILURE) + sum(1 for f in features if f.status == "drifted")),
        "errors": str(verdicts.count(Verdict.ERROR) + sum(1 for f in features if f.status == "error")),
        "skipped": str(verdicts.count(Verdict.SKIPPED)),
        "time": f"{report.duration_s:.3f}",
    }
    root = ET.Element("testsuites", {"name": "netimmutable verify", **counts})
    suite = ET.SubElement(
        root, "testsuite", {"name": "netimmutable.verify", "timestamp": report.started_utc, **counts}
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", report.run_id),
        ("against", report.against or "last-good"),
        ("against_release", report.against_release or ""),
        ("expectations", str(report.expectations).lower()),
        ("exit_code", str(int(report.exit_code))),
    ):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for h, v in zip(report.hosts, verdicts, strict=True):
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": f"netimmutable.verify.{h.platform}", "name": h.host, "time": f"{h.duration_s:.3f}"},
        )
        if h.worker:  # first child, as pytest writes testcase properties
            props_of = ET.SubElement(case, "properties")
            ET.SubElement(props_of, "property", {"name": "worker", "value": _xml_text(h.worker)})
        headline = _xml_text(h.message.splitlines()[0] if h.message else str(h.state))
        if v is Verdict.FAILURE:
            ET.SubElement(case, "failure", {"type": str(h.state), "message": headline}).text = _case_body(h)
        elif v is Verdict.ERROR:
            ET.SubElement(case, "error", {"type": str(h.state), "message": headline}).text = _case_body(h)
        elif v is Verdict.SKIPPED:
            ET.SubElement(case, "skipped", {"message": f"{h.state}: {headline}"})
        details = f"state: {h.state}\nrelease: {h.release or '-'}\nchecked: {h.checked_utc}"
        if h.worker:
            details += f"\nworker: {h.worker}"
        ET.SubElement(case, "system-out").text = details
        for f in h.features:
            _feature_case(suite, h, f)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _feature_case(suite: ET.Element, h: VerifiedHost, f: FeatureResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {"classname": f"netimmutable.verify.{h.platform}.{h.host}", "name": f.name, "time": "0"},
    )
    if f.status == "drifted":
        changed = len(f.missing) + len(f.extra)
        message = f"feature {f.name} of {h.host} drifted ({changed} line(s))"
        ET.SubElement(
            case, "failure", {"type": "feature-drifted", "message": _xml_text(message)}
        ).text = _xml_text("\n".join(feature_lines(f)))
    elif f.status == "error":
        ET.SubElement(case, "error", {"type": "feature-error", "message": _xml_text(f.error)})


_STATE_STYLE = {
    HostState.IN_SYNC: "green",
    HostState.DRIFT: "red",
    HostState.EXPECTATIONS_FAILED: "red",
    HostState.UNREACHABLE: "yellow",
    HostState.NO_BASELINE: "yellow",
    HostState.UNTRUSTED_BASELINE: "magenta",
    HostState.IN_FLIGHT: "magenta",
    HostState.ERROR: "magenta",
}


def to_text(report: VerifyReport, *, quiet: bool = False, style: bool = False) -> str:
    """Text for people. ``quiet``: only hosts that are not in sync, and nothing at all when every host is
    (cron mails only when there is output). ``style``: rich markup for colours on a terminal."""

    def paint(text: str, colour: str) -> str:
        if not style:
            return text
        return f"[{colour}]{_escape(text)}[/]"

    lines: list[str] = []
    if not quiet:
        target = (
            f"release {report.against_release[:10]} ({report.against})"
            if report.against_release
            else ("each host's last-good release")
        )
        lines.append(
            f"verify against {target}; expectations {'on' if report.expectations else 'off'}; "
            f"{report.started_utc}"
        )
    width = max((len(h.host) for h in report.hosts), default=4)
    for h in report.hosts:
        if quiet and h.state is HostState.IN_SYNC:
            continue
        release = h.release[:10] if h.release else "-"
        state = paint(f"{h.state!s:<20}", _STATE_STYLE[h.state])
        head = f"{_maybe_escape(h.host, style):<{width}}  {state} {release}"
        if h.worker:
            head += f"  [worker {_maybe_escape(h.worker, style)}]"
        if h.message and h.state is not HostState.IN_SYNC:
            head += f"  {_maybe_escape(h.message.splitlines()[0], style)}"
        lines.append(head)
        body: list[str] = []
        body.extend(h.diff.rstrip("\n").splitlines() if h.diff else ())
        if h.features and h.state is not HostState.IN_SYNC:
            body.append(features_summary(h.features))
            for f in h.features:
                if f.status != "compliant":
                    body.append(f"  {f.name} {f.status}:")
                    body.extend(f"    {line}" for line in feature_lines(f))
        body.extend(f"failed: {f}" for f in h.failed_expectations)
        body.extend(h.message.splitlines()[1:])
        body.extend(f"{r.action + ':':<9}{r.command}   # {r.description}" for r in h.remediation)
        lines.extend(f"    {_maybe_escape(b, style)}" for b in body)
    if quiet and report.exit_code == 0:
        return ""
    exit_code = report.exit_code
    meaning = {0: "all in sync", 1: "hosts could not be checked", 3: "drift or failed expectations"}
    skipped = sum(1 for h in report.hosts if report.verdict(h) is Verdict.SKIPPED)
    if skipped and skipped == len(report.hosts):
        meaning[1] = "no host could be checked"
    elif skipped:
        meaning[0] = f"checked hosts in sync; {skipped} host(s) not checked"
    lines.append(f"{report.summary()}; exit {int(exit_code)} ({meaning.get(int(exit_code), '')})")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _maybe_escape(text: str, style: bool) -> str:
    return _escape(text) if style else text


def render(report: VerifyReport, fmt: str, *, quiet: bool = False, style: bool = False) -> str:
    """The report in ``fmt`` (one of ``FORMATS``)."""
    if fmt == "json":
        return to_json_text(report)
    if fmt == "junit":
        return to_junit(report)
    if fmt == "text":
        return to_text(report, quiet=quiet, style=style)
    raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}")
