"""Text the EOS double prints where NAPALM reads text: output filters (``| include``, ``| section``...)
and the ``show ip bgp neighbors vrf all`` report that ``get_bgp_neighbors_detail`` parses with TextFSM.

The neighbour report follows the real EOS output in NAPALM's test data (napalm-automation/napalm,
``test/eos/mocked_data/test_get_bgp_neighbors_detail/issue1416/show_ip_bgp_neighbors_vrf_all.text``) and
carries every line NAPALM's template ``napalm/eos/utils/textfsm_templates/bgp_detail_multi_agent.tpl``
reads; peers are separated by an empty line, where that template starts its next record. Hold and keepalive
times are ``timers bgp`` of ``router bgp`` (EOS's defaults 60/180 without it); the negotiated ones are the
configured ones (the double assumes a far end configured alike). Message and prefix counters are 0.

Filters, as EOS's CLI applies them to a command's text: ``include``/``exclude`` keep or drop the lines a
regular expression finds, ``begin`` starts at the first such line, ``section`` keeps each top-level block
(a line and the indented lines under it) any line of which it finds.
"""

from __future__ import annotations

import ipaddress
import re
import time
from typing import Any

__all__ = ["apply_filters", "bgp_neighbors_text"]


def apply_filters(text: str, filters: list[str]) -> str | None:
    """``text`` through each ``| <filter> <regex>``; None when a filter is not one EOS has (invalid input)."""
    for spec in filters:
        name, _, pattern = spec.partition(" ")
        if name not in ("include", "exclude", "begin", "section") or not pattern.strip():
            return None
        try:
            regex = re.compile(pattern.strip())
        except re.error:
            return None
        lines = text.splitlines()
        if name == "include":
            lines = [ln for ln in lines if regex.search(ln)]
        elif name == "exclude":
            lines = [ln for ln in lines if not regex.search(ln)]
        elif name == "begin":
            start = next((i for i, ln in enumerate(lines) if regex.search(ln)), len(lines))
            lines = lines[start:]
        else:
            lines = [ln for block in _blocks(lines) if any(regex.search(ln) for ln in block) for ln in block]
        text = "\n".join(lines) + "\n" if lines else ""
    return text


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith(" ") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def _timers(bgp_lines: list[str]) -> tuple[int, int]:
    found = next((ln.split() for ln in bgp_lines if ln.startswith("timers bgp ")), None)
    return (int(found[2]), int(found[3])) if found else (60, 180)


def _local_address(peer: str, interfaces: list[tuple[str, list[str]]], router_id: str) -> str:
    """Our address on the peer's subnet (the TCP session's source), else the router ID."""
    address = ipaddress.IPv4Address(peer)
    for _header, lines in interfaces:
        for ln in lines:
            if ln.startswith("ip address "):
                iface = ipaddress.IPv4Interface(ln.split()[2])
                if address in iface.network:
                    return str(iface.ip)
    return router_id


def _since(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def bgp_neighbors_text(
    neighbors: list[dict[str, Any]],
    bgp_lines: list[str],
    interfaces: list[tuple[str, list[str]]],
    router_id: str,
) -> str:
    """``show ip bgp neighbors vrf all`` for the neighbours ``Shows.neighbors`` derived."""
    keepalive, hold = _timers(bgp_lines)
    reports = []
    for p in neighbors:
        up = p["state"] == "Established"
        last_event = "RecvKeepAlive" if up else "Stop" if p["state"] == "Idle" else "ConnectRetry"
        kind = "internal" if p["asn"] == p["localAsn"] else "external"
        lines = [f"BGP neighbor is {p['address']}, remote AS {p['asn']}, {kind} link"]
        if p["description"]:
            lines.append(f"  Description: {p['description']}")
        lines += [
            f"  BGP version 4, remote router ID {p['address'] if up else '0.0.0.0'}, VRF default",  # noqa: S104
            f"  Hold time is {hold}, keepalive interval is {keepalive} seconds",
            f"  Configured hold time is {hold}, keepalive interval is {keepalive} seconds",
            "  Connect timer is inactive",
            "  Idle-restart timer is inactive",
            f"  BGP state is Established, up for {_since(time.time() - p['since'])}"
            if up
            else f"  BGP state is {p['state']}",
            f"  Number of transitions to established: {1 if up else 0}",
            f"  Last state was {'OpenConfirm' if up else 'Idle'}",
            f"  Last event was {last_event}",
            "  Message Statistics:",
            "                         Sent      Rcvd",
            "    Updates:                0         0",
            "    Total messages:         0         0",
            "  Prefix Statistics:",
            "                                   Sent      Rcvd",
            "    IPv4 Unicast:                     0         0",
            "    IPv6 Unicast:                     0         0",
            f"Local AS is {p['localAsn']}, local router ID {router_id}",
            "TTL is 1",
        ]
        if up:
            local = _local_address(p["address"], interfaces, router_id)
            lines += [
                f"Local TCP address is {local}, local port is 179",
                f"Remote TCP address is {p['address']}, remote port is 40000",
                "TCP Socket Information:",
                "  TCP state is ESTABLISHED",
                "  Recv-Q: 0/32768",
                "  Send-Q: 0/32768",
            ]
        reports.append("\n".join(lines) + "\n")
    return "\n".join(reports)
