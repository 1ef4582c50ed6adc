"""``render --check`` and ``commit`` warn about lines FRR never shows (its defaults), naming host, template
file and template line (issue 15 item 7). The templates here are written in another person's style: two
spaces, no ``exit`` lines, an address family in an included file, an empty address family."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netimmutable.inventory import load_inventory
from netimmutable.render import refresh_snapshots, render_hosts
from netimmutable.render_warnings import default_line_warnings, render_warnings

from .netrepo_helpers import git, make_netrepo, run_cli

NETWORK: dict[str, str | bytes] = {
    "inventory/defaults.yaml": "platform: frr\n",
    "inventory/hosts.yaml": """\
edge1:
  hostname: 192.0.2.1
  data:
    asn: 65010
    peers: [{ip: 192.0.2.2, asn: 65020}]
edge2:
  hostname: 192.0.2.2
  data:
    asn: 65020
    ipv4_default: false
    peers: [{ip: 192.0.2.1, asn: 65010}]
box:
  hostname: 192.0.2.9
  platform: demo
  data: {}
""",
    "templates/frr/main.j2": """\
frr defaults traditional
hostname {{ host.name }}
!
router bgp {{ asn }}
  bgp ebgp-requires-policy
{% if not (ipv4_default | default(true)) %}
  no bgp default ipv4-unicast
{% endif %}
{% for p in peers %}
  neighbor {{ p.ip }} remote-as {{ p.asn }}
{% endfor %}
{% include "frr/af.j2" %}
""",
    "templates/frr/af.j2": """\
  address-family ipv4 unicast
{% for p in peers %}
    neighbor {{ p.ip }} activate
{% endfor %}
  address-family ipv6 unicast
""",
    "templates/demo/main.j2": "hostname {{ host.name }}\n  bgp ebgp-requires-policy\n",
}


def test_render_check_names_host_template_and_line_of_each_default(tmp_path: Path) -> None:
    make_netrepo(tmp_path / "net", NETWORK)
    result = run_cli(["render", "--check", "--repo", str(tmp_path / "net")])

    assert result.exit_code == 3  # nothing rendered yet: missing, as before
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 5, result.stderr
    assert "edge1: templates/frr/main.j2:5: `bgp ebgp-requires-policy`" in warned[0]
    assert "edge1: templates/frr/af.j2:3: `neighbor 192.0.2.2 activate`" in warned[1]
    assert "edge1: templates/frr/af.j2:5: `address-family ipv6 unicast`" in warned[2]
    # edge2 turns the IPv4 default off: its `activate` is a real setting FRR shows, not warned
    assert "edge2: templates/frr/main.j2:5:" in warned[3] and "edge2: templates/frr/af.j2:5:" in warned[4]
    assert not any("box" in line for line in warned)  # not an FRR host


def test_render_json_and_commit_carry_the_warnings_and_still_commit(tmp_path: Path) -> None:
    root = tmp_path / "net"
    make_netrepo(root, NETWORK)
    rendered = run_cli(["render", "--repo", str(root), "--format", "json", "--limit", "edge1"])
    assert rendered.exit_code == 0
    warnings = json.loads(rendered.stdout)["warnings"]
    assert [(w["host"], w["file"], w["line"], w["text"]) for w in warnings] == [
        ("edge1", "templates/frr/main.j2", 5, "bgp ebgp-requires-policy"),
        ("edge1", "templates/frr/af.j2", 3, "neighbor 192.0.2.2 activate"),
        ("edge1", "templates/frr/af.j2", 5, "address-family ipv6 unicast"),
    ]
    assert warnings[0]["rendered_line"] == 5

    committed = run_cli(["commit", "--repo", str(root), "-m", "edge routers"])
    assert committed.exit_code == 0
    assert "edge1: templates/frr/main.j2:5: `bgp ebgp-requires-policy`" in committed.stderr
    assert git(root, "log", "-1", "--format=%s").strip() == "edge routers"
    again = run_cli(["render", "--check", "--repo", str(root)])  # current snapshots: still warned
    assert again.exit_code == 0 and again.stderr.count("warning: ") == 5


def test_a_line_no_template_holds_names_the_entry_template_and_the_rendered_line(tmp_path: Path) -> None:
    files = dict(NETWORK)
    files["templates/frr/main.j2"] = "hostname {{ host.name }}\nrouter bgp {{ asn }}\n {{ extra }}\n"
    files["inventory/defaults.yaml"] = "platform: frr\ndata:\n  extra: bgp network import-check\n"
    repo = make_netrepo(tmp_path / "net", files)
    hosts = [h for h in load_inventory(repo).hosts() if h.name == "edge1"]
    [warning] = default_line_warnings(repo, render_hosts(repo, hosts))
    assert (warning.file, warning.line, warning.rendered_line) == ("templates/frr/main.j2", None, 3)
    assert str(warning).startswith(
        "edge1: templates/frr/main.j2 (rendered line 3): `bgp network import-check`"
    )


def test_a_warm_render_of_configs_known_clean_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = dict(NETWORK)
    files["templates/frr/main.j2"] = (
        "hostname {{ host.name }}\nrouter bgp {{ asn }}\n bgp router-id 1.0.0.1\n"
    )
    repo = make_netrepo(tmp_path / "net", files)
    summary = refresh_snapshots(repo)
    assert render_warnings(repo, summary.digests) == ()  # scanned: clean, remembered

    def refuse(*_args: object) -> None:
        raise AssertionError("the inventory was loaded although every config is known clean")

    monkeypatch.setattr("netimmutable.render_warnings.load_inventory", refuse)
    assert render_warnings(repo, refresh_snapshots(repo).digests) == ()
    # a config with a default line is never remembered as clean: it is warned again, every time
    (repo.templates_dir / "frr" / "main.j2").write_text("router bgp {{ asn }}\n bgp suppress-duplicates\n")
    monkeypatch.undo()
    changed = refresh_snapshots(repo)
    assert [w.text for w in render_warnings(repo, changed.digests)] == ["bgp suppress-duplicates"] * 2
    assert [w.text for w in render_warnings(repo, changed.digests)] == ["bgp suppress-duplicates"] * 2
