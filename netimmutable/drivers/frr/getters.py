"""Pure conversions from FRR's vtysh JSON to the shapes of ``napalm.base.models``.

Examples:
    >>> parse_version("FRRouting 8.4.4 (r1) on Linux(6.1.0).")
    ('8.4.4', 'r1', 'Linux(6.1.0)')
    >>> interfaces_ip({"eth1": {"ipAddresses": [{"address": "10.0.0.1/30"}]}})
    {'eth1': {'ipv4': {'10.0.0.1': {'prefix_length': 30}}, 'ipv6': {}}}
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

__all__ = [
    "bgp_neighbors",
    "bgp_neighbors_detail",
    "facts",
    "interfaces",
    "interfaces_ip",
    "parse_version",
]

_VERSION_RE = re.compile(r"^FRRouting\s+(\S+)\s+\(([^)]*)\)(?:\s+on\s+(.+?))?\.?$")
_AF_NAMES = {"ipv4Unicast": "ipv4", "ipv6Unicast": "ipv6"}


def parse_version(first_line: str) -> tuple[str, str, str]:
    """(version, hostname, platform) from the first line of ``show version``."""
    match = _VERSION_RE.match(first_line.strip())
    if not match:
        return first_line.strip(), "", ""
    return match.group(1), match.group(2), match.group(3) or ""


def facts(version_text: str, interface_json: dict[str, Any], uptime: float) -> dict[str, Any]:
    lines = version_text.strip().splitlines()
    version, hostname, platform = parse_version(lines[0] if lines else "")
    return {
        "hostname": hostname,
        "fqdn": hostname,
        "vendor": "FRRouting",
        "model": f"FRRouting on {platform}" if platform else "FRRouting",
        "serial_number": "",
        "os_version": version,
        "uptime": float(uptime),
        "interface_list": sorted(interface_json),
    }


def interfaces(interface_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for name, data in sorted(interface_json.items()):
        if not isinstance(data, dict):
            continue
        result[name] = {
            "is_up": data.get("operationalStatus") == "up",
            "is_enabled": data.get("administrativeStatus") == "up",
            "description": str(data.get("description", "")),
            "last_flapped": -1.0,
            "mtu": int(data.get("mtu", 0) or 0),
            "speed": float(data.get("speed", 0) or 0),
            "mac_address": str(data.get("hardwareAddress", "")),
        }
    return result


def interfaces_ip(interface_json: dict[str, Any]) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
    result: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for name, data in sorted(interface_json.items()):
        if not isinstance(data, dict):
            continue
        for entry in data.get("ipAddresses", []):
            iface = ipaddress.ip_interface(str(entry.get("address")))
            family = "ipv4" if iface.version == 4 else "ipv6"
            result.setdefault(name, {"ipv4": {}, "ipv6": {}})[family][str(iface.ip)] = {
                "prefix_length": iface.network.prefixlen
            }
    return result


def _vrf_name(vrf: str) -> str:
    return "global" if vrf == "default" else vrf


def _peers(vrf_data: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(vrf_data, dict):
        return {}
    return {k: v for k, v in vrf_data.items() if isinstance(v, dict) and "remoteAs" in v}


def _received(summary: dict[str, Any], vrf: str, peer: str, af: str) -> int | None:
    peer_data = summary.get(vrf, {}).get(af, {}).get("peers", {}).get(peer)
    if isinstance(peer_data, dict) and "pfxRcd" in peer_data:
        return int(peer_data["pfxRcd"])
    return None


def _uptime(peer: dict[str, Any]) -> int:
    """Seconds in the current state: up time when Established, else time since the last reset."""
    if peer.get("bgpState") == "Established":
        return int(peer.get("bgpTimerUpMsec", 0)) // 1000
    return int(peer.get("lastResetTimerMsecs", 0) or 0) // 1000


def _enabled(peer: dict[str, Any]) -> bool:
    return not (peer.get("adminShutDown") or "Admin" in str(peer.get("bgpState", "")))


def bgp_neighbors(neighbors_json: dict[str, Any], summary_json: dict[str, Any]) -> dict[str, Any]:
    """``show bgp vrf all neighbors json`` + ``show bgp vrf all summary json`` -> get_bgp_neighbors."""
    result: dict[str, Any] = {}
    for vrf, vrf_data in sorted(neighbors_json.items()):
        router_id = ""
        for af_data in summary_json.get(vrf, {}).values():
            if isinstance(af_data, dict) and af_data.get("routerId"):
                router_id = str(af_data["routerId"])
        peers: dict[str, Any] = {}
        for address, peer in sorted(_peers(vrf_data).items()):
            router_id = router_id or str(peer.get("localRouterId", ""))
            families: dict[str, dict[str, int]] = {}
            for af, af_data in peer.get("addressFamilyInfo", {}).items():
                accepted = int(af_data.get("acceptedPrefixCounter", 0))
                received = _received(summary_json, vrf, address, af)
                families[_AF_NAMES.get(af, af)] = {
                    "received_prefixes": accepted if received is None else received,
                    "accepted_prefixes": accepted,
                    "sent_prefixes": int(af_data.get("sentPrefixCounter", 0)),
                }
            peers[address] = {
                "local_as": int(peer.get("localAs", 0)),
                "remote_as": int(peer.get("remoteAs", 0)),
                "remote_id": str(peer.get("remoteRouterId", "")),
                "is_up": peer.get("bgpState") == "Established",
                "is_enabled": _enabled(peer),
                "description": str(peer.get("nbrDesc", "")),
                "uptime": _uptime(peer),
                "address_family": families,
            }
        result[_vrf_name(vrf)] = {"router_id": router_id, "peers": peers}
    if "global" not in result:
        result["global"] = {"router_id": "", "peers": {}}
    return result


def _policy(peer: dict[str, Any], key: str) -> str:
    for af_data in peer.get("addressFamilyInfo", {}).values():
        if af_data.get(key):
            return str(af_data[key])
    return ""


def _detail(address: str, vrf: str, peer: dict[str, Any]) -> dict[str, Any]:
    stats = peer.get("messageStats", {})
    afs = peer.get("addressFamilyInfo", {}).values()
    accepted = sum(int(a.get("acceptedPrefixCounter", 0)) for a in afs)
    return {
        "up": peer.get("bgpState") == "Established",
        "local_as": int(peer.get("localAs", 0)),
        "remote_as": int(peer.get("remoteAs", 0)),
        "router_id": str(peer.get("localRouterId", "")),
        "local_address": str(peer.get("hostLocal", "")),
        "routing_table": _vrf_name(vrf),
        "local_address_configured": "updateSource" in peer,
        "local_port": int(peer.get("portLocal", 0)),
        "remote_address": address,
        "remote_port": int(peer.get("portForeign", 0)),
        "multihop": int(peer.get("externalBgpNbrMaxHopsAway", 1)) > 1,
        "multipath": False,
        "remove_private_as": any(a.get("privateAsNumsRemovedInUpdatesToNbr") for a in afs),
        "import_policy": _policy(peer, "routeMapForIncomingAdvertisements"),
        "export_policy": _policy(peer, "routeMapForOutgoingAdvertisements"),
        "input_messages": int(stats.get("totalRecv", 0)),
        "output_messages": int(stats.get("totalSent", 0)),
        "input_updates": int(stats.get("updatesRecv", 0)),
        "output_updates": int(stats.get("updatesSent", 0)),
        "messages_queued_out": int(stats.get("depthOutq", 0)),
        "connection_state": str(peer.get("bgpState", "")),
        "previous_connection_state": "",
        "last_event": str(peer.get("lastResetDueTo", "")),
        "suppress_4byte_as": "4byteAs" not in peer.get("neighborCapabilities", {}),
        "local_as_prepend": False,
        "holdtime": int(peer.get("bgpTimerHoldTimeMsecs", 0)) // 1000,
        "configured_holdtime": int(peer.get("bgpTimerConfiguredHoldTimeMsecs", 0)) // 1000,
        "keepalive": int(peer.get("bgpTimerKeepAliveIntervalMsecs", 0)) // 1000,
        "configured_keepalive": int(peer.get("bgpTimerConfiguredKeepAliveIntervalMsecs", 0)) // 1000,
        "active_prefix_count": accepted,
        "received_prefix_count": accepted,
        "accepted_prefix_count": accepted,
        "suppressed_prefix_count": 0,
        "advertised_prefix_count": sum(int(a.get("sentPrefixCounter", 0)) for a in afs),
        "flap_count": int(peer.get("connectionsDropped", 0)),
    }


def bgp_neighbors_detail(neighbors_json: dict[str, Any], neighbor_address: str = "") -> dict[str, Any]:
    """``show bgp vrf all neighbors json`` -> get_bgp_neighbors_detail: {vrf: {remote_as: [detail, ...]}}."""
    result: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for vrf, vrf_data in sorted(neighbors_json.items()):
        for address, peer in sorted(_peers(vrf_data).items()):
            if neighbor_address and address != neighbor_address:
                continue
            detail = _detail(address, vrf, peer)
            result.setdefault(_vrf_name(vrf), {}).setdefault(detail["remote_as"], []).append(detail)
    return result
