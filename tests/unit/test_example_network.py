"""The example network at the project's top level: its committed snapshots are golden files.

The snapshots must be exactly what the current inventory and templates render. When a template or the
inventory changes on purpose, regenerate them with

    python3 -m pytest tests/unit/test_example_network.py --update-golden

and review the result with `git diff snapshots/` before committing it.
"""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest
import yaml

from netimmutable.inventory import load_inventory
from netimmutable.render import RenderedHost, render_hosts
from netimmutable.repo import open_repo
from netimmutable.scaffold import EXAMPLE_DIR
from netimmutable.settings import SETTINGS_FILE

TOP = Path(__file__).resolve().parents[2]
GOLDEN_DIR = TOP / "snapshots"

# docs/CONTRACTS.md: the example network (host, AS, router-id, announced prefix, management address)
CONTRACT = {
    "r1": (65001, "10.255.255.1", "10.255.101.0/24", "10.255.200.1"),
    "r2": (65002, "10.255.255.2", "10.255.102.0/24", "10.255.200.2"),
    "r3": (65003, "10.255.255.3", "10.255.103.0/24", "10.255.200.3"),
    "r4": (65004, "10.255.255.4", "10.255.104.0/24", "10.255.200.4"),
}
LINKS = {
    frozenset({"r1", "r2"}): "10.255.12.0/30",
    frozenset({"r2", "r3"}): "10.255.23.0/30",
    frozenset({"r3", "r4"}): "10.255.34.0/30",
    frozenset({"r1", "r4"}): "10.255.14.0/30",
}


def _render_example(tmp_path: Path) -> tuple[RenderedHost, ...]:
    """Render the top-level example's inputs in a copy, so the project's own snapshots/ is never touched."""
    work = tmp_path / "example"
    work.mkdir()
    shutil.copyfile(TOP / SETTINGS_FILE, work / SETTINGS_FILE)
    for name in ("inventory", "templates"):
        shutil.copytree(TOP / name, work / name)
    repo = open_repo(work)
    return render_hosts(repo, load_inventory(repo).hosts())


def _golden_files() -> dict[str, bytes]:
    if not GOLDEN_DIR.is_dir():
        return {}
    return {
        p.name: p.read_bytes()
        for p in sorted(GOLDEN_DIR.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def test_snapshots_are_current(tmp_path: Path, update_golden: bool) -> None:
    rendered = {
        name: content.encode("utf-8")
        for item in _render_example(tmp_path)
        for name, content in item.files().items()
    }
    if update_golden:
        GOLDEN_DIR.mkdir(exist_ok=True)
        for name in set(_golden_files()) - set(rendered):
            (GOLDEN_DIR / name).unlink()
        for name, content in rendered.items():
            (GOLDEN_DIR / name).write_bytes(content)
    golden = _golden_files()
    hint = "snapshots/ is stale: run `python3 -m pytest tests/unit/test_example_network.py --update-golden`"
    assert sorted(golden) == sorted(rendered), hint
    stale = sorted(name for name in rendered if golden[name] != rendered[name])
    assert stale == [], hint


def test_packaged_example_is_the_top_level_one() -> None:
    for name in ("inventory", "templates", "snapshots", SETTINGS_FILE):
        assert (EXAMPLE_DIR / name).resolve() == (TOP / name).resolve()


def test_hosts_match_the_contract(tmp_path: Path) -> None:
    repo = open_repo(TOP)
    hosts = {h.name: h for h in load_inventory(repo).hosts()}
    assert sorted(hosts) == sorted(CONTRACT)
    for name, (asn, router_id, prefix, mgmt) in CONTRACT.items():
        host = hosts[name]
        assert (host.platform, host["asn"], host["router_id"], host.hostname) == ("frr", asn, router_id, mgmt)
        assert host["announce"] == [prefix]


def test_links_and_bgp_sessions_are_consistent() -> None:
    hosts = {h.name: h for h in load_inventory(open_repo(TOP)).hosts()}
    seen: set[frozenset[str]] = set()
    for name, host in hosts.items():
        for iface in host["interfaces"]:
            peer = iface["peer"]
            link = frozenset({name, peer})
            assert str(ipaddress.ip_interface(iface["address"]).network) == LINKS[link], (name, iface)
            seen.add(link)
            # the lower host number takes .1
            expected_host = 1 if name < peer else 2
            assert int(ipaddress.ip_interface(iface["address"]).ip) & 3 == expected_host, (name, iface)
        neighbours = {n["address"]: n for n in host["bgp_neighbors"]}
        assert len(neighbours) == len(host["interfaces"])
        for iface in host["interfaces"]:
            peer = hosts[iface["peer"]]
            peer_iface = next(i for i in peer["interfaces"] if i["peer"] == name)
            peer_ip = str(ipaddress.ip_interface(peer_iface["address"]).ip)
            assert peer_ip in neighbours, (name, peer_ip)
            assert neighbours[peer_ip]["remote_as"] == peer["asn"]
    assert seen == set(LINKS)


def test_every_host_has_expectations_in_compliance_report_form(tmp_path: Path) -> None:
    for item in _render_example(tmp_path):
        assert item.expectations is not None, f"{item.name}: no expectations (templates/frr/expect.j2)"
        checks = yaml.safe_load(item.expectations)
        assert isinstance(checks, list) and checks, item.name
        for check in checks:
            assert isinstance(check, dict) and len(check) == 1, (item.name, check)
            getter = next(iter(check))
            assert getter.startswith("get_"), (item.name, getter)


def test_rendered_configs_have_the_frr_running_config_shape(tmp_path: Path) -> None:
    for item in _render_example(tmp_path):
        lines = item.config.splitlines()
        assert lines[0].startswith("frr version "), item.name
        assert f"hostname {item.name}" in lines
        assert lines[-1] == "end"
        assert not any(line != line.rstrip() for line in lines), f"{item.name}: trailing whitespace"
        assert "\n\n" not in item.config, f"{item.name}: empty line"


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_each_router_announces_its_prefix_to_both_neighbours(tmp_path: Path, name: str) -> None:
    (item,) = [i for i in _render_example(tmp_path) if i.name == name]
    asn, router_id, prefix, _ = CONTRACT[name]
    assert f"router bgp {asn}" in item.config
    assert f" bgp router-id {router_id}" in item.config
    assert f"  network {prefix}" in item.config
    assert item.config.count(" remote-as ") == 2
