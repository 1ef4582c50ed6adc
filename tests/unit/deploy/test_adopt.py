"""``netimmutable adopt`` on sim devices configured by hand: adopt -> verify in sync -> plan nothing -> a
templated change deploys; secrets only in the secrets store; drift between read and commit is caught."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from netimmutable.adopt import ADOPT_OUTCOMES, EXPECTATIONS_STATES, AdoptOptions, adopt, adopt_schema
from netimmutable.records import HostOutcome
from tests.unit.deploy.conftest import Net

PASSWORD = "hand-made-pw-7f3a"


def _adopt_json(text: str) -> dict[str, Any]:
    """``adopt --format json``, validated against netimmutable/schemas/adopt-report.schema.json."""
    report: dict[str, Any] = json.loads(text)
    jsonschema.validate(report, adopt_schema())
    return report


def _git(net: Net, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=net.root, capture_output=True, text=True, check=True).stdout


def _hand_configure(net: Net, tmp_path: Path) -> Path:
    """Devices changed by hand (not from templates); settings name a secrets file outside the repository."""
    secrets = tmp_path / "outside" / "secrets.yaml"
    settings = net.root / "netimmutable.yaml"
    settings.write_text(settings.read_text() + f"secrets_file: {secrets}\n")
    _git(net, "commit", "-qam", "secrets file")
    net.lab.edit("r1", add=["router bgp 65001", f" neighbor 10.255.12.2 password {PASSWORD}"])
    net.lab.edit("r2", add=["router bgp 65002", f" neighbor 10.255.12.1 password {PASSWORD}"])
    net.lab.edit("r3", add=["ip route 10.9.0.0/24 blackhole"])
    return secrets


def test_adopt_then_verify_plan_and_a_templated_change(fresh_net: Net, tmp_path: Path) -> None:
    net = fresh_net
    secrets = _hand_configure(net, tmp_path)
    result = net.cli("adopt", "--format", "json")
    assert result.exit_code == 0, result.output
    report = _adopt_json(result.stdout)
    assert {h["host"]: h["outcome"] for h in report["hosts"]} == dict.fromkeys(
        ("r1", "r2", "r3", "r4"), "unchanged"
    )
    assert {h["host"]: h["secrets"] for h in report["hosts"]} == {"r1": 1, "r2": 1, "r3": 0, "r4": 0}
    release = report["release"]
    assert _git(net, "rev-parse", "HEAD").strip() == release
    assert _git(net, "status", "--porcelain") == ""
    # each host: a verbatim template selected by its template key; the credential from secret()
    template = (net.root / "templates" / "adopted" / "r1.j2").read_text()
    assert ' neighbor 10.255.12.2 password {{ secret("r1_password_1") }}\n' in template
    hosts = yaml.safe_load((net.root / "inventory" / "hosts.yaml").read_text())
    assert {h: hosts[h]["data"]["template"] for h in hosts} == {h: f"adopted/{h}.j2" for h in hosts}
    assert "ip route 10.9.0.0/24 blackhole" in (net.root / "snapshots" / "r3.cfg").read_text()
    # the value: in the secrets file (0600), nowhere in git (history, records), nor in any output
    assert yaml.safe_load(secrets.read_text()) == {"r1_password_1": PASSWORD, "r2_password_1": PASSWORD}
    assert secrets.stat().st_mode & 0o777 == 0o600
    everything = _git(net, "log", "-p", "--all", "--format=%B") + _git(net, "grep", "-I", "-e", ".", "HEAD")
    assert PASSWORD not in everything and PASSWORD not in result.output
    assert "<<secret:r1_password_1>>" in (net.root / "snapshots" / "r1.cfg").read_text()
    # recorded good at that release, by a run record of kind adopt
    records = net.records()
    assert {h: records.last_good(h).release for h in ("r1", "r2", "r3", "r4")} == dict.fromkeys(  # type: ignore[union-attr]
        ("r1", "r2", "r3", "r4"), release
    )
    (run,) = [r for r in records.runs() if r.kind == "adopt"]
    assert {h.host: h.outcome for h in run.hosts} == dict.fromkeys(
        ("r1", "r2", "r3", "r4"), HostOutcome.UNCHANGED
    )

    verify = net.cli("verify", "--format", "json")
    assert verify.exit_code == 0, verify.output
    assert {h["state"] for h in json.loads(verify.stdout)["hosts"]} == {"in-sync"}
    assert net.cli("plan").exit_code == 0  # nothing to change
    coverage = json.loads(net.cli("metrics", "--format", "json").stdout)["coverage"]
    assert (coverage["managed_hosts"], coverage["adopted_hosts"], coverage["templated_hosts"]) == (4, 4, 0)

    # later templating replaces the verbatim copy step by step: a reviewed change deploys normally
    path = net.root / "templates" / "adopted" / "r1.j2"
    path.write_text(path.read_text().replace(" description to r2\n", " description uplink to r2\n"))
    assert net.cli("commit", "-m", "r1: uplink description").exit_code == 0
    deployed = net.deploy(limit=("r1",))
    assert deployed.exit_code == 0, deployed
    assert " description uplink to r2\n" in net.lab.running("r1")
    assert f"password {PASSWORD}" in net.lab.running("r1")  # resolved from the secrets store at push time
    assert net.cli("verify").exit_code == 0


def test_a_device_changed_between_read_and_commit_is_not_recorded_good(
    fresh_net: Net, tmp_path: Path
) -> None:
    net = fresh_net
    _hand_configure(net, tmp_path)

    def meanwhile(line: str) -> None:
        if line.startswith("committed release"):
            net.lab.edit("r4", add=["ip route 10.8.0.0/24 blackhole"])

    report = adopt(net.repo, AdoptOptions(limit=("r3", "r4")), emit=meanwhile)
    outcomes = {h.host: h.outcome for h in report.hosts}
    assert outcomes == {"r3": HostOutcome.UNCHANGED, "r4": HostOutcome.REFUSED}
    assert "changed after it was read" in report.hosts[1].message
    records = net.records()
    assert records.last_good("r3") is not None and records.last_good("r4") is None
    verify = net.cli("verify", "--limit", "r3,r4", "--format", "json")
    assert verify.exit_code == 1
    assert {h["host"]: h["state"] for h in json.loads(verify.stdout)["hosts"]} == {
        "r3": "in-sync",
        "r4": "no-baseline",
    }
    # once understood, r4 is adopted again (its adopted template is rewritten); r3 is managed now
    refused = net.cli("adopt", "--limit", "r3,r4")
    assert refused.exit_code == 1 and "r3 has a last-good release" in refused.stderr
    again = net.cli("adopt", "--limit", "r4", "--format", "json")
    assert again.exit_code == 0, again.output
    assert [(h["host"], h["outcome"]) for h in _adopt_json(again.stdout)["hosts"]] == [("r4", "unchanged")]
    assert "ip route 10.8.0.0/24 blackhole" in (net.root / "snapshots" / "r4.cfg").read_text()
    hosts_yaml = (net.root / "inventory" / "hosts.yaml").read_text()
    assert hosts_yaml.count("template: adopted/r4.j2") == 1
    # without --limit: every host not managed yet (r1, r2), the managed ones left alone
    rest = net.cli("adopt", "--format", "json")
    assert rest.exit_code == 0, rest.output
    assert [h["host"] for h in _adopt_json(rest.stdout)["hosts"]] == ["r1", "r2"]
    assert net.cli("adopt").exit_code == 1  # nothing left to adopt


def test_without_a_secrets_store_nothing_is_written(fresh_net: Net) -> None:
    net = fresh_net
    net.lab.edit("r1", add=["router bgp 65001", f" neighbor 10.255.12.2 password {PASSWORD}"])
    head = _git(net, "rev-parse", "HEAD")
    result = net.cli("adopt", "--limit", "r1")
    assert result.exit_code == 1
    assert "no secrets store" in result.stderr and "--secrets-out" in result.stderr
    assert _git(net, "rev-parse", "HEAD") == head
    assert _git(net, "status", "--porcelain") == ""
    assert net.records().last_good("r1") is None
    # --secrets-out: the value printed once, as an environment line, and nowhere in git
    printed = net.cli("adopt", "--limit", "r1", "--secrets-out")
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == f"NETIMMUTABLE_SECRET_R1_PASSWORD_1={PASSWORD}\n"
    assert PASSWORD not in _git(net, "log", "-p", "--all")


def test_hosts_missing_from_the_inventory_are_added(fresh_net: Net, tmp_path: Path) -> None:
    net = fresh_net
    net.lab.create("r5", "frr defaults traditional\nhostname r5\nip route 10.5.0.0/24 blackhole\n")
    connections = net.root / ".netimmutable" / "connections.yaml"
    data = yaml.safe_load(connections.read_text())
    data["hosts"]["r5"] = net.lab.connection_entry("r5")
    connections.write_text(yaml.safe_dump(data))
    extra = tmp_path / "new.yaml"
    extra.write_text("r1: {hostname: 10.0.0.1, platform: frr}\nr5: {hostname: 192.0.2.5, platform: sim}\n")
    result = net.cli("adopt", "--add-hosts", str(extra))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("r5 ")  # only the new host (r1 is in the inventory already)
    hosts = yaml.safe_load((net.root / "inventory" / "hosts.yaml").read_text())
    assert hosts["r5"] == {"hostname": "192.0.2.5", "platform": "sim", "data": {"template": "adopted/r5.j2"}}
    assert "template" not in hosts["r1"].get("data", {})
    assert net.cli("verify", "--limit", "r5").exit_code == 0


def _vendor_forms() -> tuple[list[str], list[str]]:
    """Credential lines in the forms NAPALM's sanitize filters know (and SNMPv3), each with a fresh value;
    the standby form takes at most 8 characters."""
    values = [f"k{secrets.token_hex(3)}" for _ in range(10)]
    lines = [
        f"snmp-server host 10.0.0.9 version 2c {values[0]}",
        f"snmp-server host 10.0.0.8 informs version 2c {values[1]} udp-port 162",
        f"snmp-server community {values[2]} RO",
        f"crypto isakmp key {values[3]} address 0.0.0.0",
        f"snmp-server user ops g1 v3 auth sha {values[4]} priv aes 128 {values[5]}",
        "interface wlan0",
        f" wpa-psk ascii 0 {values[6]}",
        f" vrrp 1 authentication text {values[7]}",
        f" standby 1 authentication {values[8]}",
        "radius server R1",
        " address ipv4 10.0.0.7",
        f" key {values[9]}",
    ]
    return lines, values


def test_every_credential_form_goes_to_the_secrets_store_not_git(fresh_net: Net, tmp_path: Path) -> None:
    net = fresh_net
    secrets_file = _hand_configure(net, tmp_path)
    lines, values = _vendor_forms()
    net.lab.set_running("r3", net.lab.running("r3") + "\n".join(lines) + "\n")  # as a vendor device runs them
    result = net.cli("adopt", "--limit", "r3", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [(h["host"], h["outcome"], h["secrets"]) for h in _adopt_json(result.stdout)["hosts"]] == [
        ("r3", "unchanged", len(values))
    ]
    stored = yaml.safe_load(secrets_file.read_text())
    assert sorted(stored.values()) == sorted(values)
    everything = _git(net, "log", "-p", "--all", "--format=%B") + _git(net, "grep", "-I", "-e", ".", "HEAD")
    leaked = [v for v in values if v in everything or v in result.output]
    assert leaked == []
    snapshot = (net.root / "snapshots" / "r3.cfg").read_text()
    assert (
        "snmp-server host 10.0.0.8 informs version 2c <<secret:r3_snmp-server-host_2>> udp-port 162"
        in snapshot
    )
    assert (
        "snmp-server user ops g1 v3 auth sha <<secret:r3_snmp-auth_1>> priv aes 128 <<secret:r3_snmp-priv_1>>"
        in snapshot
    )
    assert " key <<secret:r3_server-key_1>>" in snapshot
    verify = net.cli("verify", "--limit", "r3")
    assert verify.exit_code == 0, verify.output  # the device runs what the release resolves to


def test_an_added_host_without_the_data_of_its_platform_expectations_gets_none(
    fresh_net: Net, tmp_path: Path
) -> None:
    """r5 is `platform: frr` (whose expect.j2 needs `interfaces`, `router_id`, ...) and has no data: it is
    adopted without expectations (said, and written in its data), not failing the whole adopt."""
    net = fresh_net
    net.lab.create("r5", "frr defaults traditional\nhostname r5\nip route 10.5.0.0/24 blackhole\n")
    connections = net.root / ".netimmutable" / "connections.yaml"
    data = yaml.safe_load(connections.read_text())
    data["hosts"]["r5"] = net.lab.connection_entry("r5")
    connections.write_text(yaml.safe_dump(data))
    extra = tmp_path / "new.yaml"
    extra.write_text("r5: {hostname: 192.0.2.5, platform: frr}\n")
    result = net.cli("adopt", "--add-hosts", str(extra))
    assert result.exit_code == 0, result.output
    assert "no expectations until templated" in result.stdout and "templates/frr/expect.j2:" in result.stdout
    hosts = yaml.safe_load((net.root / "inventory" / "hosts.yaml").read_text())
    assert hosts["r5"]["data"] == {"template": "adopted/r5.j2", "expect_template": False}
    assert not (net.root / "snapshots" / "r5.expect.yaml").exists()
    assert net.records().last_good("r5") is not None
    verify = net.cli("verify", "--limit", "r5", "--format", "json")
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["hosts"][0]["state"] == "in-sync"
    # a later change of the adopted template deploys (no expectations required of it)
    path = net.root / "templates" / "adopted" / "r5.j2"
    path.write_text(path.read_text() + "ip route 10.5.1.0/24 blackhole\n")
    assert net.cli("commit", "-m", "r5: one more route").exit_code == 0
    deployed = net.deploy(limit=("r5",))
    assert deployed.exit_code == 0, deployed
    assert "ip route 10.5.1.0/24 blackhole" in net.lab.running("r5")


def test_a_host_failing_its_expectations_is_not_recorded_good(fresh_net: Net, tmp_path: Path) -> None:
    """r1's description was changed by hand: its data (and so its expectations) say "to r2"; adopt reads
    the device, commits, and refuses to record r1 good, naming the failed expectation."""
    net = fresh_net
    _hand_configure(net, tmp_path)
    net.lab.edit("r1", add=["interface eth1", " description changed by hand"])
    result = net.cli("adopt", "--limit", "r1,r3", "--format", "json")
    assert result.exit_code == 3, result.output
    hosts = {h["host"]: h for h in _adopt_json(result.stdout)["hosts"]}
    assert (hosts["r1"]["outcome"], hosts["r1"]["expectations"]) == ("failed", "failed")
    assert "get_interfaces.eth1.description" in hosts["r1"]["message"]
    assert "not recorded good" in hosts["r1"]["message"]
    assert (hosts["r3"]["outcome"], hosts["r3"]["expectations"]) == ("unchanged", "passed")
    records = net.records()
    assert records.last_good("r1") is None and records.last_good("r3") is not None
    # once the data says what the device runs, adopt again: recorded good, verify in sync
    net.edit_hosts(r"description: to r2", "description: changed by hand", host="r1")
    _git(net, "commit", "-qam", "r1: the description it has")
    again = net.cli("adopt", "--limit", "r1")
    assert again.exit_code == 0, again.output
    assert net.records().last_good("r1") is not None
    assert net.cli("verify", "--limit", "r1").exit_code == 0


def _new_sim_devices(net: Net, *names: str) -> None:
    connections = net.root / ".netimmutable" / "connections.yaml"
    data = yaml.safe_load(connections.read_text())
    for name in names:
        net.lab.create(name, f"frr defaults traditional\nhostname {name}\nip route 10.6.0.0/24 blackhole\n")
        data["hosts"][name] = net.lab.connection_entry(name)
    connections.write_text(yaml.safe_dump(data))


def test_hosts_are_added_from_a_nornir_inventory_folder(fresh_net: Net, tmp_path: Path) -> None:
    """r6's platform comes from its group's parent group, r7's from the defaults; the groups the repository
    lacks are brought in (without their connection details), the ones it has are left alone."""
    net = fresh_net
    _new_sim_devices(net, "r6", "r7")
    folder = tmp_path / "nornir"
    folder.mkdir()
    (folder / "hosts.yaml").write_text(
        "r1: {hostname: 10.0.0.1}\n"
        "r6: {hostname: 192.0.2.6, groups: [edge, ebgp_ring]}\n"
        "r7: {hostname: 192.0.2.7}\n"
    )
    (folder / "groups.yaml").write_text(
        "edge:\n  groups: [site]\n  data: {role: edge}\n  username: ops\n"
        "site:\n  platform: sim\n"
        "ebgp_ring:\n  platform: eos\n"
    )
    (folder / "defaults.yaml").write_text("platform: sim\n")
    before = (net.root / "inventory" / "groups.yaml").read_text()
    result = net.cli("adopt", "--add-hosts", str(folder), "--format", "json")
    assert result.exit_code == 0, result.output
    report = _adopt_json(result.stdout)
    assert report["added"] == ["r6", "r7"]
    assert [(h["host"], h["outcome"]) for h in report["hosts"]] == [("r6", "unchanged"), ("r7", "unchanged")]
    hosts = yaml.safe_load((net.root / "inventory" / "hosts.yaml").read_text())
    assert (hosts["r6"]["platform"], hosts["r6"]["groups"]) == ("sim", ["edge", "ebgp_ring"])
    assert hosts["r7"]["platform"] == "sim"
    groups_text = (net.root / "inventory" / "groups.yaml").read_text()
    assert groups_text.startswith(before)  # appended: the repository's own groups untouched
    groups = yaml.safe_load(groups_text)
    assert groups["edge"] == {"groups": ["site"], "data": {"role": "edge"}}
    assert groups["site"] == {"platform": "sim"}
    assert "platform" not in groups["ebgp_ring"]
    assert _git(net, "status", "--porcelain") == ""  # committed with the release
    assert net.cli("verify", "--limit", "r6,r7").exit_code == 0


def test_a_host_to_add_without_a_platform_is_named_once(fresh_net: Net, tmp_path: Path) -> None:
    net = fresh_net
    single = tmp_path / "one.yaml"
    single.write_text("r6: {hostname: 192.0.2.6}\n")
    result = net.cli("adopt", "--add-hosts", str(single))
    assert result.exit_code == 1
    assert result.stderr.count("r6") == 1 and "platform" in result.stderr
    folder = tmp_path / "nornir"
    folder.mkdir()
    (folder / "hosts.yaml").write_text("r6: {hostname: 192.0.2.6, groups: [edge]}\n")
    (folder / "groups.yaml").write_text("edge: {data: {role: edge}}\n")
    result = net.cli("adopt", "--add-hosts", str(folder))
    assert result.exit_code == 1
    assert result.stderr.count("r6") == 1 and "platform" in result.stderr
    assert str(folder / "hosts.yaml") in result.stderr
    missing = tmp_path / "missing-group"
    missing.mkdir()
    (missing / "hosts.yaml").write_text("r6: {platform: sim, groups: [nowhere]}\n")
    result = net.cli("adopt", "--add-hosts", str(missing))
    assert result.exit_code == 1 and "'nowhere'" in result.stderr
    assert _git(net, "status", "--porcelain") == ""  # nothing left behind


def test_the_adopt_schema_refuses_what_adopt_never_writes() -> None:
    """The schema is strict and names exactly what adopt writes: an unknown outcome or an extra field (a
    secret value, say) fails it."""
    schema = adopt_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    fields = schema["properties"]["hosts"]["items"]["properties"]
    assert fields["outcome"]["enum"] == [o.value for o in ADOPT_OUTCOMES]
    assert fields["expectations"]["enum"] == list(EXPECTATIONS_STATES)
    host = {
        "host": "r1",
        "outcome": "unchanged",
        "secrets": 1,
        "expectations": "passed",
        "expectations_off": None,
        "message": "adopted; verified; recorded good",
    }
    report = {
        "schema_version": 1,
        "run_id": "x",
        "release": "a" * 40,
        "added": [],
        "secrets_file": None,
        "hosts": [host],
    }
    jsonschema.validate(report, adopt_schema())
    for bad in ({**host, "outcome": "deployed"}, {**host, "value": "anything"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**report, "hosts": [bad]}, adopt_schema())


def test_expectations_are_given_time_to_hold_as_post_checks_do(fresh_net: Net, tmp_path: Path) -> None:
    """r1's BGP session to r2 is down when adopt reads r1 again (r2 lost its neighbour statement) and comes
    back 0.3 s later: r1 is recorded good within deploy.settle_timeout (1.5 s here), not failed."""
    net = fresh_net
    _hand_configure(net, tmp_path)
    r2 = net.lab.running("r2")
    restore = threading.Timer(0.3, lambda: net.lab.set_running("r2", r2))

    def meanwhile(line: str) -> None:
        if line.startswith("committed release"):
            net.lab.edit("r2", remove=[" neighbor 10.255.12.1 remote-as 65001"])
            restore.start()

    try:
        report = adopt(net.repo, AdoptOptions(limit=("r1",)), emit=meanwhile)
    finally:
        restore.join()
    assert [(h.host, h.outcome, h.expectations) for h in report.hosts] == [
        ("r1", HostOutcome.UNCHANGED, "passed")
    ]
    assert net.records().last_good("r1") is not None
