"""Synthetic network repositories for the benchmarks: a leaf fabric with realistic per-host data.

Every host carries its own interface, neighbour, static-route and prefix-list data in ``hosts.yaml``
(about 8 KB of YAML per host), groups carry the shared routing policy, and the templates go through
includes and macros the way real ones do. The output is FRR syntax, so the ``sim`` driver accepts it.
Generation is deterministic (seeded): the same arguments give byte-identical files.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TEMPLATES", "SynthSpec", "host_names", "mutate_hosts", "write_network"]

SETTINGS = """\
# synthetic benchmark network
version: 1
approval_branch: main
deploy:
  batch_size: 50
  workers: 50
  canary: 1
  max_failures: 5
  soak: 0        # the bench compares the window with a device-time model that has no soak wait
verify:
  workers: 200
"""

TEMPLATES: dict[str, str] = {
    "fabric/main.j2": """\
{#- A leaf switch of the synthetic fabric: the complete configuration, built from includes and macros. -#}
{% import "fabric/macros.j2" as m %}
frr version {{ frr_version }}
frr defaults {{ frr_defaults }}
hostname {{ host.name }}
log syslog {{ log_level }}
service integrated-vtysh-config
!
{% include "fabric/static.j2" %}
{% include "fabric/interfaces.j2" %}
{% include "fabric/bgp.j2" %}
{% include "fabric/policy.j2" %}
end
""",
    "fabric/macros.j2": """\
{#- Building blocks printed exactly as FRR's `show running-config` does. -#}
{% macro interface(i, site) %}
interface {{ i.name }}
{% if i.description is defined %}
 description {{ site | upper }} {{ i.description }}
{% endif %}
{% if i.address is defined %}
 ip address {{ i.address }}
{% endif %}
{% if i.mtu is defined and i.mtu != 1500 %}
 mtu {{ i.mtu }}
{% endif %}
{% if i.shutdown | default(false) %}
 shutdown
{% endif %}
exit
!
{% endmacro %}

{% macro neighbor(n, timers, options) %}
 neighbor {{ n.address }} remote-as {{ n.remote_as }}
{% if n.description is defined %}
 neighbor {{ n.address }} description {{ n.description }}
{% endif %}
 neighbor {{ n.address }} timers {{ timers.keepalive }} {{ timers.hold }}
 neighbor {{ n.address }} timers connect {{ timers.connect }}
{% for option in options %}
 neighbor {{ n.address }} {{ option }}
{% endfor %}
{% endmacro %}

{% macro prefix_list(pl) %}
{% for e in pl.entries %}
ip prefix-list {{ pl.name }} seq {{ e.seq }} {{ e.action }} {{ e.prefix }}\
{% if e.ge is defined %} ge {{ e.ge }}{% endif %}{% if e.le is defined %} le {{ e.le }}{% endif %}

{% endfor %}
!
{% endmacro %}

{% macro route_map(rm) %}
{% for e in rm.entries %}
route-map {{ rm.name }} {{ e.action }} {{ e.seq }}
{% if e.match_prefix_list is defined %}
 match ip address prefix-list {{ e.match_prefix_list }}
{% endif %}
{% if e.set_local_preference is defined %}
 set local-preference {{ e.set_local_preference }}
{% endif %}
exit
!
{% endfor %}
{% endmacro %}
""",
    "fabric/static.j2": """\
{% for r in static_routes %}
ip route {{ r.prefix }} {{ r.nexthop }}
{% endfor %}
!
""",
    "fabric/interfaces.j2": """\
{% import "fabric/macros.j2" as m %}
{% for i in interfaces %}
{{ m.interface(i, site) -}}
{% endfor %}
{{ m.interface({"name": "lo", "address": router_id ~ "/32"}, site) -}}
""",
    "fabric/bgp.j2": """\
{% import "fabric/macros.j2" as m %}
router bgp {{ asn }}
 bgp router-id {{ router_id }}
{% for n in bgp_neighbors %}
{{ m.neighbor(n, bgp_timers, neighbor_options) -}}
{% endfor %}
 !
 address-family ipv4 unicast
{% for prefix in announce %}
  network {{ prefix }}
{% endfor %}
{% for n in bgp_neighbors %}
  neighbor {{ n.address }} route-map {{ bgp_route_map_in }} in
  neighbor {{ n.address }} route-map {{ bgp_route_map_out }} out
{% for option in neighbor_af_options %}
  neighbor {{ n.address }} {{ option }}
{% endfor %}
{% endfor %}
 exit-address-family
exit
!
""",
    "fabric/policy.j2": """\
{% import "fabric/macros.j2" as m %}
{% for pl in fabric_prefix_lists + prefix_lists %}
{{ m.prefix_list(pl) -}}
{% endfor %}
{% for rm in route_maps %}
{{ m.route_map(rm) -}}
{% endfor %}
""",
    "fabric/expect.j2": """\
{#- Expectations (NAPALM compliance_report): every fabric session up, loopback configured. -#}
- get_bgp_neighbors:
    global:
      router_id: {{ router_id }}
      peers:
        _mode: strict
{% for n in bgp_neighbors %}
        {{ n.address }}:
          is_up: true
          remote_as: {{ n.remote_as }}
{% endfor %}
- get_interfaces_ip:
    lo:
      ipv4:
        {{ router_id }}:
          prefix_length: 32
""",
}


@dataclass(frozen=True, slots=True)
class SynthSpec:
    """Size of a synthetic network."""

    hosts: int
    interfaces: int = 52
    """Per host; one BGP neighbour per interface. With the defaults a host is ~980 YAML nodes: the
    inventory guard (yamlio.MAX_EXPANDED_NODES = 2,000,000 nodes per file) then admits ~2,000 hosts."""
    static_routes: int = 16
    announce: int = 8
    prefix_lists: int = 1
    prefix_list_entries: int = 16
    seed: int = 7
    paired: bool = False
    """Sim fleets: hosts 2j and 2j+1 share a link (``swp0``, 198.18.0.0/15) and peer over it in eBGP, with
    no other BGP neighbour: the expectations (every session up) then hold on ``sim`` devices."""


def host_names(count: int) -> list[str]:
    return [f"leaf-{i:05d}" for i in range(count)]


def _p2p(index: int) -> tuple[str, str]:
    """The two ends (/31) of point-to-point link ``index`` in 100.64.0.0/10."""
    base = int(ipaddress.IPv4Address("100.64.0.0")) + 2 * index
    return f"{ipaddress.IPv4Address(base)}/31", str(ipaddress.IPv4Address(base + 1))


def _pair_address(i: int) -> str:
    """Host ``i``'s end of the link it shares with host ``i ^ 1`` (paired fleets)."""
    return str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("198.18.0.0")) + i))


def _host_yaml(i: int, name: str, spec: SynthSpec, rng: random.Random, generation: int = 0) -> str:
    site = i % 20
    router_id = f"10.{200 + i // 65536}.{(i // 256) % 256}.{i % 256}"
    lines = [
        f"{name}:",
        f"  hostname: 192.0.{(i // 250) % 256}.{i % 250 + 1}",
        f"  groups: [fabric, site-{site:02d}]",
        "  data:",
        f"    asn: {4200000000 + i}",
        f"    router_id: {router_id}",
        "    role: leaf",
        "    interfaces:",
    ]
    for k in range(spec.interfaces):
        local, _peer = _p2p(i * spec.interfaces + k)
        circuit = rng.randrange(10**6, 10**7)
        extra = ", shutdown: true" if rng.random() < 0.05 else ""
        gen = f" gen{generation}" if generation and k == 0 else ""
        lines.append(
            f"      - {{name: swp{k + 1}, address: {local}, mtu: 9216, "
            f"description: spine-{k % 4:02d}:swp{i % 64 + 1} cid {circuit}{gen}{extra}}}"
        )
    if spec.paired:
        partner = i ^ 1
        lines.append(f"      - {{name: swp0, address: {_pair_address(i)}/31, mtu: 9216, description: pair}}")
        lines.append("    bgp_neighbors:")
        if partner < spec.hosts:
            lines.append(f"      - {{address: {_pair_address(partner)}, remote_as: {4200000000 + partner}}}")
        else:
            lines[-1] += " []"
    else:
        lines.append("    bgp_neighbors:")
        for k in range(spec.interfaces):
            _local, peer = _p2p(i * spec.interfaces + k)
            lines.append(f"      - {{address: {peer}, remote_as: {65000 + k % 4}}}")
    lines.append("    announce:")
    for k in range(spec.announce):
        lines.append(
            f"      - 10.{(i * spec.announce + k) // 256 % 256}.{(i * spec.announce + k) % 256}.0/24"
        )
    lines.append("    static_routes:")
    for k in range(spec.static_routes):
        nexthop = "blackhole" if k % 3 == 0 else f"100.127.{k}.{rng.randrange(1, 254)}"
        lines.append(f"      - {{prefix: 172.{16 + k % 16}.{i % 256}.{k * 8 % 256}/29, nexthop: {nexthop}}}")
    lines.append("    prefix_lists:")
    for p in range(spec.prefix_lists):
        lines.append(f"      - name: {name.upper()}-LOCAL-{p}")
        lines.append("        entries:")
        for e in range(spec.prefix_list_entries):
            le = f", le: {24 + e % 8}" if e % 2 else ""
            lines.append(
                f"          - {{seq: {(e + 1) * 5}, action: permit, "
                f"prefix: 10.{(i + p) % 256}.{e * 16 % 256}.0/20{le}}}"
            )
    return "\n".join(lines) + "\n"


def _groups_yaml(spec: SynthSpec) -> str:
    lines = [
        "fabric:",
        "  platform: frr",
        "  data:",
        "    template: fabric/main.j2",
        "    expect_template: fabric/expect.j2",
        "    bgp_timers: {keepalive: 3, hold: 9, connect: 2}",
        "    bgp_route_map_in: FABRIC-IN",
        "    bgp_route_map_out: FABRIC-OUT",
        "    neighbor_options: [bfd]",
        "    neighbor_af_options: [soft-reconfiguration inbound]",
        "    fabric_prefix_lists:",
    ]
    for p in range(6):
        lines.append(f"      - name: FABRIC-{p}")
        lines.append("        entries:")
        for e in range(spec.prefix_list_entries):
            lines.append(
                f"          - {{seq: {(e + 1) * 5}, action: permit, prefix: 10.{p}.{e}.0/24, le: 32}}"
            )
    lines.append("    route_maps:")
    for name in ("FABRIC-IN", "FABRIC-OUT", "EDGE-IN", "EDGE-OUT"):
        lines.append(f"      - name: {name}")
        lines.append("        entries:")
        for e in range(4):
            lp = f", set_local_preference: {100 + e * 10}" if name.endswith("IN") else ""
            lines.append(
                f"          - {{seq: {(e + 1) * 10}, action: permit, match_prefix_list: FABRIC-{e}{lp}}}"
            )
    for site in range(20):
        lines += [f"site-{site:02d}:", "  data:", f"    site: dc{site:02d}", "    log_level: informational"]
    return "\n".join(lines) + "\n"


DEFAULTS = """\
platform: frr
data:
  frr_version: 8.4.4
  frr_defaults: traditional
"""


def write_network(root: Path, spec: SynthSpec, generation: int = 0) -> None:
    """Write ``netimmutable.yaml``, ``inventory/`` and ``templates/`` of a synthetic network in ``root``."""
    rng = random.Random(spec.seed)
    (root / "inventory").mkdir(parents=True, exist_ok=True)
    (root / "snapshots").mkdir(exist_ok=True)
    (root / "netimmutable.yaml").write_text(SETTINGS)
    (root / ".gitignore").write_text("/.netimmutable/\n")
    names = host_names(spec.hosts)
    with (root / "inventory" / "hosts.yaml").open("w") as out:
        for i, name in enumerate(names):
            out.write(_host_yaml(i, name, spec, rng, generation))
    (root / "inventory" / "groups.yaml").write_text(_groups_yaml(spec))
    (root / "inventory" / "defaults.yaml").write_text(DEFAULTS)
    for rel, text in TEMPLATES.items():
        path = root / "templates" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def mutate_hosts(root: Path, spec: SynthSpec, every: int, generation: int) -> int:
    """Rewrite ``hosts.yaml`` so one host in ``every`` gets a changed interface description.

    Returns how many hosts changed.
    """
    rng = random.Random(spec.seed)
    names = host_names(spec.hosts)
    changed = 0
    with (root / "inventory" / "hosts.yaml").open("w") as out:
        for i, name in enumerate(names):
            gen = generation if i % every == 0 else 0
            changed += bool(gen)
            out.write(_host_yaml(i, name, spec, rng, gen))
    return changed
