"""Per-feature compliance in ``verify`` (settings ``compliance:``): which features drifted, their lines."""

from __future__ import annotations

import doctest
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from netimmutable import compliance as compliance_module
from netimmutable import settings as settings_module
from netimmutable import verify_report
from netimmutable.errors import SettingsError
from netimmutable.settings import settings_from_mapping
from netimmutable.verify_report import report_schema
from netimmutable.yamlio import load_yaml_text
from tests.unit.verify_sim import SimNet, make_sim_net

SETTINGS = """\
version: 1
compliance:
  features:
    bgp: ["router bgp"]
    interfaces: ["interface "]
    static: ["ip route"]
    routemaps: {sections: ["route-map", "ip prefix-list"], ordered: true}
  platforms:
    frr:
      hostname: ["hostname"]
      static: []          # dropped on frr
"""
FEATURES = ["bgp", "interfaces", "routemaps", "hostname"]


@pytest.fixture
def net(tmp_path: Path) -> SimNet:
    return make_sim_net(tmp_path / "net", settings=SETTINGS)


def features(report: dict[str, Any], host: str) -> dict[str, dict[str, Any]]:
    entry = next(h for h in report["hosts"] if h["host"] == host)
    return {f["name"]: f for f in entry["features"]}


def test_doctests() -> None:
    for module in (compliance_module, settings_module, verify_report):
        assert doctest.testmod(module).failed == 0


def test_drifted_features_name_their_lines(net: SimNet) -> None:
    running = net.lab.running("r2")
    changed = running.replace(
        " neighbor 10.255.12.1 remote-as 65001", " neighbor 10.255.12.1 remote-as 65009"
    )
    changed = changed.replace(" description to r3", " description to r3 (moved)")
    assert changed.count("65009") == 1 and "(moved)" in changed
    net.lab.set_running("r2", changed)
    code, report = net.verify_json("--no-expectations")
    assert code == 3
    jsonschema.validate(report, report_schema())
    r2 = features(report, "r2")
    assert list(r2) == FEATURES  # global order, then the platform's additions; "static" dropped on frr
    assert {name: f["status"] for name, f in r2.items()} == {
        "bgp": "drifted",
        "interfaces": "drifted",
        "routemaps": "compliant",
        "hostname": "compliant",
    }
    assert r2["bgp"]["missing"] == ["router bgp 65002", " neighbor 10.255.12.1 remote-as 65001"]
    assert r2["bgp"]["extra"] == ["router bgp 65002", " neighbor 10.255.12.1 remote-as 65009"]
    assert r2["interfaces"]["missing"] == ["interface eth2", " description to r3"]
    assert r2["interfaces"]["extra"] == ["interface eth2", " description to r3 (moved)"]
    assert r2["routemaps"] == {
        "name": "routemaps",
        "status": "compliant",
        "compliant": True,
        "missing": [],
        "extra": [],
        "error": None,
    }
    # a host in sync: every feature compliant, nothing parsed
    assert {f["status"] for f in features(report, "r1").values()} == {"compliant"}
    assert list(features(report, "r1")) == FEATURES

    text = net.verify("--no-expectations", "--limit", "r2").stdout
    assert "    features: 2 compliant (routemaps, hostname), 2 drifted (bgp, interfaces)" in text
    assert (
        "      bgp drifted:\n        - router bgp 65002\n        -  neighbor 10.255.12.1 remote-as 65001\n"
        in text
    )


def test_junit_has_one_testcase_per_feature(net: SimNet, tmp_path: Path) -> None:
    net.lab.edit("r3", add=["ip route 10.9.0.0/24 blackhole"])  # drift outside every frr feature
    running = net.lab.running("r4").replace(" description to r1", " description to r9")
    net.lab.set_running("r4", running)
    out = tmp_path / "verify.xml"
    assert net.verify("--no-expectations", "-o", str(out)).exit_code == 3
    suite = ET.parse(out).getroot().find("testsuite")  # noqa: S314 - our own report
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 4 + 4 * len(FEATURES) + 1  # + r3's unclassified
    assert suite.get("tests") == str(len(cases))
    assert suite.get("failures") == "4"  # hosts r3, r4, r4's interfaces and r3's unclassified lines
    r4 = {c.get("name"): c for c in cases if c.get("classname") == "netimmutable.verify.frr.r4"}
    assert list(r4) == FEATURES
    failure = r4["interfaces"].find("failure")
    assert failure is not None and failure.get("type") == "feature-drifted"
    assert failure.text == "- interface eth2\n-  description to r1\n+ interface eth2\n+  description to r9"
    assert all(r4[name].find("failure") is None for name in ("bgp", "routemaps", "hostname"))
    # r3 drifted only in a static route, which no frr feature covers: its features pass, and the line is
    # reported under "unclassified" (a drifted host never shows only compliant features)
    r3 = {c.get("name"): c for c in cases if c.get("classname") == "netimmutable.verify.frr.r3"}
    assert list(r3) == [*FEATURES, "unclassified"]
    assert all(r3[name].find("failure") is None for name in FEATURES)
    unclassified = r3["unclassified"].find("failure")
    assert unclassified is not None and unclassified.text == "+ ip route 10.9.0.0/24 blackhole"


def test_a_drifted_line_outside_every_feature_is_unclassified(net: SimNet) -> None:
    net.lab.edit("r3", add=["ip route 10.9.0.0/24 blackhole"])
    code, report = net.verify_json("--no-expectations", "--limit", "r3,r4")
    assert code == 3
    jsonschema.validate(report, report_schema())
    r3 = features(report, "r3")
    assert list(r3) == [*FEATURES, "unclassified"]
    assert {name: f["status"] for name, f in r3.items()} == {
        **dict.fromkeys(FEATURES, "compliant"),
        "unclassified": "drifted",
    }
    assert (r3["unclassified"]["missing"], r3["unclassified"]["extra"]) == (
        [],
        ["ip route 10.9.0.0/24 blackhole"],
    )
    assert list(features(report, "r4")) == FEATURES  # in sync: no unclassified bucket
    text = net.verify("--no-expectations", "--limit", "r3").stdout
    assert (
        "    features: 4 compliant (bgp, interfaces, routemaps, hostname), 1 drifted (unclassified)" in text
    )
    assert "      unclassified drifted:\n        + ip route 10.9.0.0/24 blackhole\n" in text
    # a line missing from the device, outside every feature, too
    net.lab.edit("r4", remove=["ip route 10.255.104.0/24 blackhole"])
    _, report = net.verify_json("--no-expectations", "--limit", "r4")
    assert features(report, "r4")["unclassified"]["missing"] == ["ip route 10.255.104.0/24 blackhole"]


def test_unclassified_is_a_reserved_feature_name() -> None:
    text = "version: 1\ncompliance: {features: {unclassified: [x]}}\n"
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping(load_yaml_text(text, "netimmutable.yaml"))
    assert "reserved" in caught.value.message and caught.value.line == 2


def test_without_features_the_reports_have_none(tmp_path: Path) -> None:
    net = make_sim_net(tmp_path / "net")
    net.lab.edit("r1", add=["ip route 10.9.0.0/24 blackhole"])
    code, report = net.verify_json("--no-expectations")
    assert code == 3
    assert all(h["features"] == [] for h in report["hosts"])
    jsonschema.validate(report, report_schema())


def test_ordered_feature_reports_an_order_change(tmp_path: Path) -> None:
    settings = (
        "version: 1\ncompliance:\n  features:\n"
        '    bgp: {sections: ["router bgp"], ordered: true}\n    bgp_any_order: ["router bgp"]\n'
    )
    net = make_sim_net(tmp_path / "net", settings=settings)
    first, second = " neighbor 10.255.12.2 description r2\n", " neighbor 10.255.12.2 timers 3 9\n"
    running = net.lab.running("r1")
    assert first + second in running
    net.lab.set_running("r1", running.replace(first + second, second + first))
    code, report = net.verify_json("--no-expectations", "--limit", "r1")
    assert code == 3  # the order of BGP's lines is part of the config (it is not normalized away)
    found = features(report, "r1")
    assert (found["bgp"]["status"], found["bgp"]["missing"], found["bgp"]["extra"]) == ("drifted", [], [])
    assert found["bgp_any_order"]["status"] == "compliant"
    text = net.verify("--no-expectations", "--limit", "r1").stdout
    assert "      bgp drifted:\n        the same lines in another order (the feature is ordered)\n" in text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("compliance: {features: {bgp: router bgp}}", "must be a list of section lines"),
        ("compliance: {features: {'b g': [x]}}", "a feature name is letters"),
        ("compliance: {features: {bgp: ['']}}", "must be a list of section lines"),
        ("compliance: {features: {bgp: {sections: [a], order: true}}}", "unknown key(s) order"),
        ("compliance: {features: {bgp: {sections: [a], ordered: 1}}}", "ordered must be true or false"),
        ("compliance: {platforms: {frr: [bgp]}}", "must map feature names"),
        ("compliance: {parsers: {myos: nope}}", "unknown netutils parser 'nope'"),
        ("compliance: {colour: red}", "unknown setting 'compliance.colour'"),
    ],
)
def test_bad_feature_settings_are_refused_with_the_line(text: str, needle: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping(load_yaml_text("version: 1\n" + text + "\n", "netimmutable.yaml"))
    assert needle in caught.value.message
    assert caught.value.line == 2


def test_a_config_its_parser_cannot_read_is_an_error_per_feature(tmp_path: Path) -> None:
    """A wrong ``compliance.parsers`` entry: each feature says why it could not be compared; the host's
    state still comes from the whole-config comparison, and JUnit shows the features as errors."""
    settings = (
        "version: 1\ncompliance:\n  features:\n    bgp: ['router bgp']\n"
        "    interfaces: ['interface ']\n  parsers:\n    frr: paloalto_panos\n"
    )
    net = make_sim_net(tmp_path / "net", settings=settings)
    net.lab.edit("r1", add=["ip route 10.9.0.0/24 blackhole"])
    code, report = net.verify_json("--no-expectations", "--limit", "r1,r2")
    assert code == 3
    jsonschema.validate(report, report_schema())
    found = features(report, "r1")
    assert {f["status"] for f in found.values()} == {"error"}
    assert found["bgp"]["error"].startswith("could not be compared (paloalto_panos parser: ValueError: ")
    assert {f["status"] for f in features(report, "r2").values()} == {"compliant"}  # in sync: nothing parsed
    out = tmp_path / "verify.xml"
    net.verify("--no-expectations", "--limit", "r1,r2", "-o", str(out))
    suite = ET.parse(out).getroot().find("testsuite")  # noqa: S314 - our own report
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "1", "2")
