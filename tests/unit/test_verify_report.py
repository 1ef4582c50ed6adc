"""Report formats: JSON validated against its schema, JUnit parsed with ElementTree, text; every state."""

from __future__ import annotations

import doctest
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from netimmutable import verify_report
from netimmutable.verify_model import HostState, Remediation, VerifiedHost, VerifyPolicy, VerifyReport
from netimmutable.verify_report import render, report_schema, to_json, to_junit, to_text
from tests.unit.verify_sim import SimNet, make_sim_net

T = "2024-05-01T02:00:01Z"
SHA = "a" * 40
DIGEST = "sha256:" + "0" * 64
DIFF = (
    "--- aaaaaaaaaa:snapshots/r2.cfg\n+++ r2:running\n@@ -1 +1,2 @@\n hostname r2\n"
    "+ip route 10.9.0.0/24 blackhole\n"
)


def all_states_report(policy: VerifyPolicy | None = None) -> VerifyReport:
    hosts = (
        VerifiedHost("r1", "frr", HostState.IN_SYNC, T, SHA, expected_digest=DIGEST, running_digest=DIGEST),
        VerifiedHost(
            "r2",
            "frr",
            HostState.DRIFT,
            T,
            SHA,
            expected_digest=DIGEST,
            running_digest="sha256:" + "1" * 64,
            diff=DIFF,
            message="the running config differs",
            duration_s=0.25,
            remediation=(Remediation("restore", "netimmutable rollback r2", "back"),),
        ),
        VerifiedHost(
            "r3",
            "frr",
            HostState.EXPECTATIONS_FAILED,
            T,
            SHA,
            expected_digest=DIGEST,
            running_digest=DIGEST,
            expectations="failed",
            failed_expectations=('get_bgp_neighbors.global: missing "10.0.0.9"',),
            message="1 expectation(s) failed",
        ),
        VerifiedHost(
            "r4", "eos", HostState.UNREACHABLE, T, SHA, message="connect: timed out\nhint: check it"
        ),
        VerifiedHost("r5", "frr", HostState.NO_BASELINE, T, None, message="never deployed"),
        VerifiedHost("r6", "frr", HostState.ERROR, T, SHA, message="get_config: boom \x1b[31m<&>"),
        VerifiedHost("r7", "frr", HostState.UNTRUSTED_BASELINE, T, SHA, message="good ref moved by hand"),
        VerifiedHost("r8", "frr", HostState.IN_FLIGHT, T, SHA, message="in flight: run run-x is in progress"),
    )
    return VerifyReport(
        "20240501T020000Z-1a2b3c4d", T, T, "0.1.0", None, None, True, policy or VerifyPolicy(), hosts, 1.5
    )


def validate(data: dict[str, Any]) -> None:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)


def test_doctests() -> None:
    assert doctest.testmod(verify_report).failed == 0


def test_schema_is_shipped_in_the_package() -> None:
    path = Path(verify_report.__file__).parent / "schemas" / "verify-report.schema.json"
    assert json.loads(path.read_text()) == report_schema()


# ------------------------------------------------------------------------------------------------ JSON
def test_json_of_every_state_matches_the_schema() -> None:
    data = to_json(all_states_report())
    validate(data)
    assert data["schema_version"] == 1
    assert data["exit_code"] == 3
    assert data["summary"] == {
        "hosts": 8, "in-sync": 1, "drift": 1, "expectations-failed": 1, "unreachable": 1, "no-baseline": 1,
        "untrusted-baseline": 1, "in-flight": 1, "error": 1,
    }  # fmt: skip
    verdicts = {h["host"]: h["verdict"] for h in data["hosts"]}
    assert verdicts == {
        "r1": "ok",
        "r2": "failure",
        "r3": "failure",
        "r4": "error",
        "r5": "error",
        "r6": "error",
        "r7": "error",
        "r8": "error",
    }
    assert json.loads(render(all_states_report(), "json")) == data


def test_schema_rejects_what_it_must() -> None:
    data = to_json(all_states_report())
    for broken in (
        {**data, "schema_version": 2},
        {**data, "started_utc": "2024-05-01 02:00:01"},
        {**data, "hosts": [{**data["hosts"][1], "diff": None}]},  # drift without a diff
        {**data, "hosts": [{**data["hosts"][0], "state": "fine"}]},
        {**data, "unexpected": 1},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


@pytest.fixture
def net(tmp_path: Path) -> SimNet:
    return make_sim_net(tmp_path / "net", good=["r1", "r2", "r3"])


def test_json_of_real_runs_matches_the_schema(net: SimNet) -> None:
    net.lab.edit("r2", remove=["neighbor 10.255.12.1 remote-as 65001"])  # r2 drift, r1 expectations-failed
    net.lab.set_knobs("r3", unreachable=True)  # r4: no baseline
    code, report = net.verify_json("--expectations")
    validate(report)
    assert code == 3
    assert [h["state"] for h in report["hosts"]] == [
        "expectations-failed",
        "drift",
        "unreachable",
        "no-baseline",
    ]
    net.lab.clear_knobs("r3")
    net.lab.set_knobs("r3", fail_step="get_config")
    code, report = net.verify_json("--against", "HEAD", "--limit", "r3,r4")
    validate(report)
    assert [h["state"] for h in report["hosts"]] == ["error", "in-sync"]
    assert report["against_release"] == net.release


# ------------------------------------------------------------------------------------------------ JUnit
def parse_junit(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(text.encode())  # noqa: S314 - our own output, parsed to check it


def test_junit_one_testcase_per_host() -> None:
    root = parse_junit(to_junit(all_states_report()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "8",
        "2",
        "5",
        "0",
    )
    (suite,) = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"]
    assert cases["r1"].find("failure") is None and cases["r1"].find("error") is None
    drift = cases["r2"].find("failure")
    assert drift is not None and drift.get("type") == "drift"
    assert "+ip route 10.9.0.0/24 blackhole" in (drift.text or "")
    assert "netimmutable rollback r2" in (drift.text or "")
    failed = cases["r3"].find("failure")
    assert failed is not None and 'missing "10.0.0.9"' in (failed.text or "")
    for name, state in (
        ("r4", "unreachable"),
        ("r5", "no-baseline"),
        ("r6", "error"),
        ("r7", "untrusted-baseline"),
        ("r8", "in-flight"),
    ):
        error = cases[name].find("error")
        assert error is not None and error.get("type") == state
    assert cases["r4"].get("classname") == "netimmutable.verify.eos"
    assert "<&>" in (cases["r6"].find("error").text or "")  # type: ignore[union-attr]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["exit_code"] == "3"


def test_junit_skipped_when_the_policy_allows() -> None:
    policy = VerifyPolicy(unreachable_is_failure=False, no_baseline_is_failure=False)
    root = parse_junit(to_junit(all_states_report(policy)))
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "2",
        "3",
        "2",
    )  # in-flight: never skipped
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["r4"].find("skipped") is not None
    assert cases["r5"].find("skipped") is not None


def test_junit_of_a_real_run(net: SimNet) -> None:
    net.lab.edit("r2", add=["ip route 10.9.0.0/24 blackhole"])
    result = net.verify("--format", "junit", "--allow-no-baseline")
    assert result.exit_code == 3
    root = parse_junit(result.stdout)
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "4",
        "1",
        "0",
        "1",
    )


# ------------------------------------------------------------------------------------------------ text
def test_text_lists_every_state() -> None:
    text = to_text(all_states_report())
    for state in HostState:
        assert f"  {state}" in text
    assert "hint: check it" in text
    assert text.rstrip().endswith("exit 3 (drift or failed expectations)")


def test_text_quiet_lists_only_problems() -> None:
    text = to_text(all_states_report(), quiet=True)
    assert not any(line.startswith("r1 ") for line in text.splitlines())
    assert any(line.startswith("r2 ") for line in text.splitlines())
    in_sync = VerifyReport(
        "id", T, T, "0.1.0", None, None, False, VerifyPolicy(), all_states_report().hosts[:1]
    )
    assert to_text(in_sync, quiet=True) == ""


def test_styled_text_escapes_markup() -> None:
    hosts = (VerifiedHost("r1", "frr", HostState.ERROR, T, SHA, message="device said [bold]no[/bold]"),)
    report = VerifyReport("id", T, T, "0.1.0", None, None, False, VerifyPolicy(), hosts)
    assert "[magenta]error" in to_text(report, style=True)
    assert "device said \\[bold]no" in to_text(report, style=True)
    assert "device said [bold]no[/bold]" in to_text(report)


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown report format"):
        render(all_states_report(), "yaml")


def test_no_hosts_is_an_error() -> None:
    empty = VerifyReport("id", T, T, "0.1.0", None, None, False, VerifyPolicy(), ())
    assert int(empty.exit_code) == 1
