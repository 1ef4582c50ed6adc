"""Operational data of the IOS-XR double, derived from its running config (CLI lines or YANG XML trees).

``summary_cli`` reads ``hostname``, ``interface`` and ``router bgp`` lines; ``summary_xml`` reads the same
facts from the Cisco YANG config models NAPALM's ``config_encoding="xml"`` loads
(``Cisco-IOS-XR-shellutil-cfg`` ``host-names``, ``Cisco-IOS-XR-ifmgr-cfg`` ``interface-configurations``,
``Cisco-IOS-XR-ipv4-bgp-cfg`` ``bgp``, shaped as NAPALM's recorded
``test/iosxr_netconf/mocked_data/test_get_bgp_config/normal/ipv4-bgp-cfg_bgp__running.xml``). ``oper_xml``
answers the ``<get>`` data NAPALM's getters filter: ``Cisco-IOS-XR-shellutil-oper`` (``system-time``),
``Cisco-IOS-XR-pfi-im-cmd-oper`` (``interfaces``), ``Cisco-IOS-XR-invmgr-oper`` (``Rack 0``) and
``Cisco-IOS-XR-ipv4-bgp-oper`` (``bgp``), shaped as the recorded replies in ``test_get_facts/xrv9k``,
``test_get_interfaces/normal`` and ``test_get_bgp_neighbors/normal``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from tests.doubles import iosxr_conf as xc

VERSION = "7.3.2"
MODEL = "R-IOSXRV9000-CC"
NS_SUO = "http://cisco.com/ns/yang/Cisco-IOS-XR-shellutil-oper"
NS_INT = "http://cisco.com/ns/yang/Cisco-IOS-XR-pfi-im-cmd-oper"
NS_INV = "http://cisco.com/ns/yang/Cisco-IOS-XR-invmgr-oper"
NS_BGP = "http://cisco.com/ns/yang/Cisco-IOS-XR-ipv4-bgp-oper"
NO_ID = "0.0.0.0"  # noqa: S104 - XR's "no router ID", not a bind address


@dataclass
class Neighbor:
    address: str
    remote_as: str
    description: str = ""
    shutdown: bool = False


@dataclass
class Summary:
    """What the getters need from a config."""

    hostname: str = "ios"
    interfaces: list[tuple[str, str, bool]] = field(default_factory=list)  # name, description, shutdown
    local_as: str | None = None
    router_id: str = NO_ID
    neighbors: list[Neighbor] = field(default_factory=list)


def _rest(line: xc.Line, words: int = 1) -> str:
    parts = line.text.split(None, words)
    return parts[words] if len(parts) > words else ""


def summary_cli(config: list[xc.Line]) -> Summary:
    out = Summary()
    for line in xc.find(config, "hostname"):
        out.hostname = _rest(line)
    for line in xc.find(config, "interface"):
        descr = next((_rest(c) for c in xc.find(line.children, "description")), "")
        out.interfaces.append((_rest(line), descr, bool(xc.find(line.children, "shutdown"))))
    router = next(iter(xc.find(config, "router bgp")), None)
    if router is not None:
        out.local_as = _rest(router, 2)
        out.router_id = next((_rest(c, 2) for c in xc.find(router.children, "bgp router-id")), NO_ID)
        for nbr in xc.find(router.children, "neighbor"):
            out.neighbors.append(
                Neighbor(
                    _rest(nbr),
                    next((_rest(c) for c in xc.find(nbr.children, "remote-as")), "0"),
                    next((_rest(c) for c in xc.find(nbr.children, "description")), ""),
                    bool(xc.find(nbr.children, "shutdown")),
                )
            )
    return out


def _t(element: Any, path: str, default: str = "") -> str:
    found = element.find(path)
    return default if found is None or found.text is None else str(found.text).strip()


def summary_xml(config: Any) -> Summary:
    """``config``: the ``<config>`` element holding the Cisco YANG trees."""
    out = Summary()
    out.hostname = _t(config, "{*}host-names/{*}host-name", out.hostname)
    for ifc in config.iterfind("{*}interface-configurations/{*}interface-configuration"):
        shut = ifc.find("{*}shutdown") is not None
        out.interfaces.append((_t(ifc, "{*}interface-name"), _t(ifc, "{*}description"), shut))
    four = config.find("{*}bgp/{*}instance/{*}instance-as/{*}four-byte-as")
    if four is not None:
        out.local_as = _t(four, "{*}as", "0")
        out.router_id = _t(four, "{*}default-vrf/{*}global/{*}router-id", NO_ID)
        for nbr in four.iterfind("{*}default-vrf/{*}bgp-entity/{*}neighbors/{*}neighbor"):
            out.neighbors.append(
                Neighbor(
                    _t(nbr, "{*}neighbor-address"),
                    _t(nbr, "{*}remote-as/{*}as-yy", "0"),
                    _t(nbr, "{*}description"),
                    nbr.find("{*}shutdown") is not None,
                )
            )
    return out


def oper_xml(s: Summary, peers: Mapping[str, int], uptime: int, bgp_uptime: int) -> str:
    """The operational trees NAPALM's getters read (children of ``<data>``)."""
    brief = "".join(
        f"<interface><interface-name>{escape(name)}</interface-name>"
        + (f"<description>{escape(descr)}</description>" if descr else "")
        + "</interface>"
        for name, descr, _ in s.interfaces
    )
    detail = "".join(_interface_xr(name, shut) for name, _, shut in s.interfaces)
    return (
        f'<system-time xmlns="{NS_SUO}"><uptime><host-name>{escape(s.hostname)}</host-name>'
        f"<uptime>{uptime}</uptime></uptime></system-time>"
        f'<interfaces xmlns="{NS_INT}"><interfaces>{brief}</interfaces><interface-xr>{detail}</interface-xr>'
        f"</interfaces>"
        f'<inventory xmlns="{NS_INV}"><entities><entity><name>Rack 0</name><attributes><inv-basic-bag>'
        f"<software-revision>{VERSION}</software-revision><serial-number>VXR9K00A1B2</serial-number>"
        f"<model-name>{MODEL}</model-name></inv-basic-bag></attributes></entity></entities></inventory>"
        + _bgp(s, peers, bgp_uptime)
    )


def _interface_xr(name: str, shutdown: bool) -> str:
    state = "im-state-admin-down" if shutdown else "im-state-up"
    digest = hashlib.sha256(name.encode()).hexdigest()
    mac = f"52:54:00:{digest[0:2]}:{digest[2:4]}:{digest[4:6]}"
    return (
        f"<interface><interface-name>{escape(name)}</interface-name><state>{state}</state>"
        f"<line-state>{state}</line-state><mtu>1514</mtu><mac-address><address>{mac}</address>"
        f"</mac-address><bandwidth>1000000</bandwidth></interface>"
    )


def _bgp(s: Summary, peers: Mapping[str, int], since: int) -> str:
    if s.local_as is None:
        return ""
    neighbors = []
    for nbr in s.neighbors:
        up = not nbr.shutdown and str(peers.get(nbr.address)) == nbr.remote_as
        count = 1 if up else 0
        neighbors.append(
            f"<neighbor><neighbor-address>{escape(nbr.address)}</neighbor-address>"
            f"<description>{escape(nbr.description)}</description><remote-as>{nbr.remote_as}</remote-as>"
            f"<local-as>{s.local_as}</local-as><router-id>{nbr.address if up else NO_ID}</router-id>"
            f"<connection-state>{'bgp-st-estab' if up else 'bgp-st-active'}</connection-state>"
            f"<connection-established-time>{since if up else 0}</connection-established-time>"
            f"<is-administratively-shut-down>{str(nbr.shutdown).lower()}</is-administratively-shut-down>"
            f"<connection-remote-address><afi>ipv4</afi><ipv4-address>{escape(nbr.address)}</ipv4-address>"
            f"</connection-remote-address><af-data><af-name>ipv4</af-name>"
            f"<prefixes-accepted>{count}</prefixes-accepted><prefixes-denied>0</prefixes-denied>"
            f"<prefixes-advertised>{count}</prefixes-advertised></af-data></neighbor>"
        )
    return (
        f'<bgp xmlns="{NS_BGP}"><instances><instance><instance-name>default</instance-name>'
        f"<instance-active><default-vrf><global-process-info><vrf><router-id>{s.router_id}</router-id></vrf>"
        f"</global-process-info><neighbors>{''.join(neighbors)}</neighbors></default-vrf>"
        f"</instance-active></instance></instances></bgp>"
    )
