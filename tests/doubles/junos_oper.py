"""Operational RPC replies of the Junos double, derived from its committed config and its ``peers`` table.

Each reply has the element names NAPALM reads through its PyEZ tables
(``napalm/junos/utils/junos_views.yml``: ``junos_iface_table`` / ``junos_logical_iface_table`` on
``get-interface-information``, ``junos_route_instance_table`` on ``get-instance-information``,
``junos_bgp_table`` on ``get-bgp-neighbor-information``, ``junos_bgp_uptime_table`` on
``get-bgp-summary-information``) and PyEZ reads for its facts (``jnpr/junos/facts/``:
``get_software_information.py`` sends ``show version invoke-on all-routing-engines`` first,
``get_chassis_inventory.py`` reads ``chassis/serial-number``, ``Device.uptime`` reads
``system-booted-time/time-length/@seconds``); the shapes follow NAPALM's recorded replies of real devices
(``test/junos/mocked_data/test_get_interfaces``, ``test_get_bgp_neighbors``). Values Junos prints with a
``junos:seconds`` attribute carry it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from tests.doubles.junos_conf import Stmt, find
from tests.doubles.netconf_server import Session, rpc_error

MODEL = "vmx"
VERSION = "23.4R2.13"
SERIAL = "VM6710A1B2C3"
JUNOS_NS = f"http://xml.juniper.net/junos/{VERSION}/junos"


def stamp(seconds: float) -> str:
    """Junos' ``date-time`` text (``2026-12-02 18:40:09 UTC``)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _length(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600:02d}:{rest % 3600 // 60:02d}" if days else f"{rest // 60}:{rest % 60:02d}"


def leaf(stmts: list[Stmt], keyword: str) -> str | None:
    """The value of leaf ``keyword`` among ``stmts`` (quotes removed)."""
    for stmt in stmts:
        if stmt.children is None and stmt.words[0] == keyword and len(stmt.words) > 1:
            return " ".join(stmt.words[1:]).strip('"')
    return None


def hostname(config: list[Stmt]) -> str:
    return leaf(find(config, "system"), "host-name") or "Amnesiac"


def software_information(config: list[Stmt]) -> str:
    return (
        f"<software-information><host-name>{escape(hostname(config))}</host-name>"
        f"<product-model>{MODEL}</product-model><product-name>{MODEL}</product-name>"
        f"<junos-version>{VERSION}</junos-version>"
        f"<package-information><name>os-kernel</name><comment>JUNOS OS Kernel 64-bit [{VERSION}]</comment>"
        f"</package-information></software-information>"
    )


def show_version_all(config: list[Stmt]) -> str:
    """``show version invoke-on all-routing-engines`` on a single-RE router: one ``re0`` item."""
    return (
        "<multi-routing-engine-results><multi-routing-engine-item><re-name>re0</re-name>"
        f"{software_information(config)}</multi-routing-engine-item></multi-routing-engine-results>"
    )


def chassis_inventory() -> str:
    return (
        '<chassis-inventory><chassis junos:style="inventory"><name>Chassis</name>'
        f"<serial-number>{SERIAL}</serial-number><description>VMX</description></chassis></chassis-inventory>"
    )


def uptime_information(now: float, booted: float, last_commit: float, user: str) -> str:
    def dt(seconds: float) -> str:
        return f'<date-time junos:seconds="{int(seconds)}">{stamp(seconds)}</date-time>'

    up = int(now - booted)
    since = int(now - last_commit)
    return (
        f"<system-uptime-information><current-time>{dt(now)}</current-time>"
        f"<time-source> LOCAL CLOCK </time-source>"
        f'<system-booted-time>{dt(booted)}<time-length junos:seconds="{up}">{_length(up)}</time-length>'
        f"</system-booted-time>"
        f'<last-configured-time>{dt(last_commit)}<time-length junos:seconds="{since}">{_length(since)}'
        f"</time-length><user>{escape(user)}</user></last-configured-time></system-uptime-information>"
    )


def _mac(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return "2c:6b:f5:" + ":".join(f"{b:02x}" for b in digest[:3])


def interfaces(config: list[Stmt], booted: float, wanted: str | None) -> str:
    """``get-interface-information``: one ``physical-interface`` per interface of the config."""
    parts: list[str] = []
    for ifd in find(config, "interfaces"):
        name = ifd.words[0]
        if ifd.children is None or (wanted and wanted != name):
            continue
        disabled = any(s.words == ("disable",) for s in ifd.children)
        state = "down" if disabled else "up"
        descr = leaf(ifd.children, "description")
        units: list[str] = []
        for unit in ifd.children:
            if unit.children is None or unit.words[0] != "unit":
                continue
            flags = "<iff-down/>" if any(s.words == ("disable",) for s in unit.children) else "<iff-up/>"
            families = "".join(_family(fam) for fam in unit.children if fam.words[0] == "family")
            unit_descr = leaf(unit.children, "description")
            units.append(
                f"<logical-interface><name>{escape(name)}.{escape(unit.words[1])}</name>"
                + (f"<description>{escape(unit_descr)}</description>" if unit_descr else "")
                + f"<if-config-flags>{flags}<iff-snmp-traps/></if-config-flags>{families}</logical-interface>"
            )
        parts.append(
            f"<physical-interface><name>{escape(name)}</name><admin-status>{state}</admin-status>"
            f"<oper-status>{state}</oper-status>"
            + (f"<description>{escape(descr)}</description>" if descr else "")
            + f"<mtu>{leaf(ifd.children, 'mtu') or '1514'}</mtu><speed>1000mbps</speed>"
            f"<current-physical-address>{_mac(name)}</current-physical-address>"
            f'<interface-flapped junos:seconds="{int(booted)}">{stamp(booted)}</interface-flapped>'
            + "".join(units)
            + "</physical-interface>"
        )
    return "<interface-information>" + "".join(parts) + "</interface-information>"


def _family(fam: Stmt) -> str:
    addresses = "".join(
        f"<interface-address><ifa-local>{escape(a.words[1])}</ifa-local></interface-address>"
        for a in fam.children or []
        if a.words[0] == "address" and len(a.words) > 1
    )
    family = f"<address-family-name>{escape(fam.words[1])}</address-family-name>"
    return f"<address-family>{family}{addresses}</address-family>"


def instances() -> str:
    return (
        "<instance-information><instance-core><instance-name>master</instance-name>"
        "<instance-type>forwarding</instance-type></instance-core>"
        "<instance-core><instance-name>__juniper_private1__</instance-name>"
        "<instance-type>forwarding</instance-type></instance-core></instance-information>"
    )


def bgp_neighbors(config: list[Stmt]) -> list[dict[str, str]]:
    """Every configured neighbour: address, group, peer-as (neighbour's, else its group's), description."""
    out: list[dict[str, str]] = []
    for group in find(config, "protocols", "bgp"):
        if group.children is None or group.words[0] != "group":
            continue
        group_as = leaf(group.children, "peer-as") or ""
        for nbr in group.children:
            if nbr.words[0] != "neighbor" or len(nbr.words) < 2:
                continue
            kids = nbr.children or []
            out.append(
                {
                    "address": nbr.words[1],
                    "group": group.words[1],
                    "peer_as": leaf(kids, "peer-as") or group_as,
                    "description": leaf(kids, "description") or leaf(group.children, "description") or "",
                }
            )
    return out


def router_id(config: list[Stmt]) -> str:
    configured = leaf(find(config, "routing-options"), "router-id")
    if configured:
        return configured
    for ifd in find(config, "interfaces"):
        for unit in ifd.children or []:
            for fam in unit.children or []:
                for address in fam.children or []:
                    if address.words[0] == "address":
                        return address.words[1].split("/")[0]
    return "0.0.0.0"  # noqa: S104 - Junos' "no router ID" value, not a bind address


def bgp_information(
    config: list[Stmt], peers: Mapping[str, int], since: float, now: float
) -> tuple[str, str]:
    """(``get-bgp-neighbor-information``, ``get-bgp-summary-information``) replies."""
    local_as = leaf(find(config, "routing-options"), "autonomous-system") or "0"
    local_id = router_id(config)
    detail: list[str] = []
    summary: list[str] = []
    elapsed = int(now - since)
    for nbr in bgp_neighbors(config):
        address = nbr["address"]
        up = peers.get(address) is not None and str(peers[address]) == nbr["peer_as"]
        rib = (
            "<bgp-rib><name>inet.0</name><send-state>in sync</send-state><active-prefix-count>1"
            "</active-prefix-count><received-prefix-count>1</received-prefix-count>"
            "<accepted-prefix-count>1</accepted-prefix-count><advertised-prefix-count>1"
            "</advertised-prefix-count></bgp-rib>"
        )
        detail.append(
            f"<bgp-peer><peer-address>{escape(address)}+179</peer-address>"
            f"<peer-as>{escape(nbr['peer_as'] or '0')}</peer-as>"
            f"<local-address>{escape(local_id)}</local-address><local-as>{escape(local_as)}</local-as>"
            f"<peer-group>{escape(nbr['group'])}</peer-group>"
            + (f"<description>{escape(nbr['description'])}</description>" if nbr["description"] else "")
            + f"<peer-state>{'Established' if up else 'Active'}</peer-state>"
            + (f"<peer-id>{escape(address)}</peer-id>" if up else "")
            + f"<local-id>{escape(local_id)}</local-id>"
            + (rib if up else "")
            + "</bgp-peer>"
        )
        summary.append(
            f"<bgp-peer><peer-address>{escape(address)}</peer-address>"
            f"<peer-as>{escape(nbr['peer_as'] or '0')}</peer-as>"
            f"<peer-state>{'Established' if up else 'Active'}</peer-state>"
            f'<elapsed-time junos:seconds="{elapsed}">{_length(elapsed)}</elapsed-time></bgp-peer>'
        )
    return (
        "<bgp-information>" + "".join(detail) + "</bgp-information>",
        f"<bgp-information><peer-count>{len(summary)}</peer-count>" + "".join(summary) + "</bgp-information>",
    )


class OperationalRpcs:
    """The operational RPCs of the device (``JunosDevice`` mixes them in)."""

    history: list[Any]  # newest commit first: .config, .when, .user
    peers: dict[str, int]
    booted: float
    bgp_since: float

    def rpc_command(self, session: Session, op: Any) -> str:
        command = " ".join((op.text or "").split())
        if command == "show version invoke-on all-routing-engines":
            return show_version_all(self.history[0].config)
        if command == "show version":
            return software_information(self.history[0].config)
        return rpc_error(f"syntax error, expecting <command>: {command}")

    def rpc_get_software_information(self, session: Session, op: Any) -> str:
        return software_information(self.history[0].config)

    def rpc_get_chassis_inventory(self, session: Session, op: Any) -> str:
        return chassis_inventory()

    def rpc_get_system_uptime_information(self, session: Session, op: Any) -> str:
        head = self.history[0]
        return uptime_information(time.time(), self.booted, head.when, head.user)

    def rpc_file_show(self, session: Session, op: Any) -> str:
        filename = (op.findtext("{*}filename") or op.findtext("filename") or "").strip()
        return rpc_error(f"\ncould not resolve file: {filename}\n")

    def rpc_get_interface_information(self, session: Session, op: Any) -> str:
        args = {etree.QName(el).localname: (el.text or "").strip() for el in op}
        if args.get("routing-instance", "").startswith("__"):
            return "<interface-information/>"  # no internal-RE interfaces on this single-RE double
        return interfaces(self.history[0].config, self.booted, args.get("interface-name"))

    def rpc_get_instance_information(self, session: Session, op: Any) -> str:
        return instances()

    def _bgp(self, op: Any) -> tuple[str, str]:
        instance = (op.findtext("{*}instance") or op.findtext("instance") or "master").strip()
        if instance not in ("", "master"):
            return "<bgp-information/>", "<bgp-information/>"
        return bgp_information(self.history[0].config, self.peers, self.bgp_since, time.time())

    def rpc_get_bgp_neighbor_information(self, session: Session, op: Any) -> str:
        return self._bgp(op)[0]

    def rpc_get_bgp_summary_information(self, session: Session, op: Any) -> str:
        return self._bgp(op)[1]
