"""The multi-vendor example (``netimmutable init DIR --example multivendor``): its committed snapshots are
golden files, its links and sessions agree, and each vendor's config is in the form that vendor shows it.

When a template or the inventory changes on purpose, regenerate the snapshots with

    python3 -m pytest tests/unit/test_example_multivendor.py --update-golden

and review the result with `git diff netimmutable/example_multivendor/snapshots/` before committing it.
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
from netimmutable.scaffold import MULTIVENDOR_DIR
from netimmutable.settings import SETTINGS_FILE
from tests.unit.netrepo_helpers import git, run_cli
from tests.unit.platforms.vendor_net import HOSTS

GOLDEN_DIR = MULTIVENDOR_DIR / "snapshots"
HUB = "r1"


def _render(tmp_path: Path) -> tuple[RenderedHost, ...]:
    work = tmp_path / "example"
    work.mkdir()
    shutil.copyfile(MULTIVENDOR_DIR / SETTINGS_FILE, work / SETTINGS_FILE)
    for name in ("inventory", "templates"):
        shutil.copytree(MULTIVENDOR_DIR / name, work / name)
    repo = open_repo(work)
    return render_hosts(repo, load_inventory(repo).hosts())


def _golden_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(GOLDEN_DIR.iterdir()) if not p.name.startswith(".")}


def test_snapshots_are_current(tmp_path: Path, update_golden: bool) -> None:
    rendered = {name: text.encode() for item in _render(tmp_path) for name, text in item.files().items()}
    if update_golden:
        for name in set(_golden_files()) - set(rendered):
            (GOLDEN_DIR / name).unlink()
        for name, content in rendered.items():
            (GOLDEN_DIR / name).write_bytes(content)
    golden = _golden_files()
    hint = "stale: run `python3 -m pytest tests/unit/test_example_multivendor.py --update-golden`"
    assert sorted(golden) == sorted(rendered), hint
    assert [name for name in rendered if golden[name] != rendered[name]] == [], hint


def test_one_host_per_vendor_platform_and_an_frr_hub() -> None:
    hosts = {h.name: h for h in load_inventory(open_repo(MULTIVENDOR_DIR)).hosts()}
    assert {name: str(h.platform) for name, h in hosts.items()} == {
        HUB: "frr",
        **{h: p for p, h in HOSTS.items()},
    }


def test_every_vendor_host_peers_with_the_hub_on_their_link() -> None:
    hosts = {h.name: h for h in load_inventory(open_repo(MULTIVENDOR_DIR)).hosts()}
    hub = hosts[HUB]
    hub_neighbours = {n["address"]: n["remote_as"] for n in hub["bgp_neighbors"]}
    for name in HOSTS.values():
        (link,) = hosts[name]["interfaces"]
        (hub_link,) = [i for i in hub["interfaces"] if i["peer"] == name]
        here, there = ipaddress.ip_interface(link["address"]), ipaddress.ip_interface(hub_link["address"])
        assert here.network == there.network, name
        assert hosts[name]["bgp_neighbors"] == [{"address": str(there.ip), "remote_as": hub["asn"]}], name
        assert hub_neighbours[str(here.ip)] == hosts[name]["asn"], name


def test_every_host_has_expectations_in_compliance_report_form(tmp_path: Path) -> None:
    for item in _render(tmp_path):
        assert item.expectations is not None, item.name
        checks = yaml.safe_load(item.expectations)
        assert isinstance(checks, list) and checks, item.name
        assert all(len(c) == 1 and next(iter(c)).startswith("get_") for c in checks), item.name


def test_init_with_the_multivendor_example_renders_and_checks_clean(tmp_path: Path) -> None:
    target = tmp_path / "net"

    result = run_cli(["init", str(target), "--example", "multivendor"])

    assert result.exit_code == 0, result.output
    assert "multi-vendor example" in result.output
    assert sorted(p.name for p in (target / "templates").iterdir()) == sorted(["common", "frr", *HOSTS])
    assert run_cli(["render", "--repo", str(target)]).exit_code == 0
    rendered = {
        p.name: p.read_bytes() for p in (target / "snapshots").iterdir() if not p.name.startswith(".")
    }
    assert rendered == _golden_files()
    check = run_cli(["render", "--check", "--repo", str(target)])
    assert check.exit_code == 0, check.output
    assert "example multivendor" in git(target, "log", "--format=%s")


def test_init_with_example_alone_is_the_default_example(tmp_path: Path) -> None:
    target = tmp_path / "net"
    assert run_cli(["init", str(target), "--example"]).exit_code == 0
    assert (target / "templates" / "frr" / "main.j2").is_file()
    assert not (target / "templates" / "eos").exists()


@pytest.mark.parametrize("name", ["nosuch", ""])
def test_init_refuses_an_unknown_example(tmp_path: Path, name: str) -> None:
    result = run_cli(["init", str(tmp_path / "net"), "--example", name])
    assert result.exit_code == 2
    assert "multivendor" in result.output
    assert not (tmp_path / "net").exists()
