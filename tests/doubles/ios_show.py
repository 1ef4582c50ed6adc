"""``show`` command output of the IOS double, in the text form napalm's ``IOSDriver`` parses.

The layouts follow the regexes in napalm/ios/ios.py: ``get_facts`` reads ``<host> uptime is``,
``Cisco IOS Software,``, ``Processor board ID`` and ``Cisco <model> ... bytes of``; ``get_interfaces`` reads
``<if> is <status>, line protocol is``, ``Hardware ... address is``, ``Description:`` and
``MTU ... BW ... Kbit``; ``get_interfaces_ip`` reads ``Internet address is a.b.c.d/len``;
``get_bgp_neighbors`` reads the ``show bgp all summary`` neighbour rows and the ``BGP neighbor is`` /
``BGP state =`` / ``Prefixes Current:`` / ``Local Policy Denied Prefixes:`` lines of
``show bgp ipv4 unicast neighbors``. The rest of each output follows the device output napalm's tests mock
(test/ios/mocked_data in https://github.com/napalm-automation/napalm: test_get_facts/normal,
test_get_interfaces/normal, test_get_bgp_neighbors/normal).
"""

from __future__ import annotations

import hashlib
import time

from tests.doubles.ios_config import Bgp, Interface

__all__ = [
    "bgp_neighbors",
    "bgp_summary",
    "show_hosts",
    "show_interfaces",
    "show_ip_interface",
    "show_ip_interface_brief",
    "show_version",
]


NO_ID = ".".join("0" * 4)
"""The router ID IOS shows for a peer that never came up."""


def _mac(name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"5254.{digest[0:4]}.{digest[4:8]}"


def _status(iface: Interface) -> tuple[str, str]:
    return ("administratively down", "down") if iface.shutdown else ("up", "up")


def show_version(hostname: str, uptime_s: float, serial: str) -> str:
    minutes = int(uptime_s // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    parts += [f"{hours} hour{'s' * (hours != 1)}"] if hours else []
    parts.append(f"{mins} minute{'s' * (mins != 1)}")
    banner = "Cisco IOS Software, IOSv Software (VIOS-ADVENTERPRISEK9-M), Version 15.9(3)M4, RELEASE SOFTWARE"
    return f"""{banner} (fc3)
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2021 by Cisco Systems, Inc.
Compiled Thu 28-Oct-21 17:03 by prod_rel_team


ROM: Bootstrap program is IOSv

{hostname} uptime is {", ".join(parts)}
System returned to ROM by reload
System image file is "flash:/vios-adventerprisek9-m"
Last reload reason: Unknown reason

Cisco IOSv (revision 1.0) with  with 460137K/62464K bytes of memory.
Processor board ID {serial}
2 Gigabit Ethernet interfaces
DRAM configuration is 72 bits wide with parity disabled.
256K bytes of non-volatile configuration memory.
2097152K bytes of ATA System CompactFlash 0 (Read/Write)

Configuration register is 0x0
"""


def show_hosts(domain: str | None) -> str:
    default = f"Default domain is {domain}" if domain else "Default domain is not set"
    return f"""{default}
Name/address lookup uses static mappings

Codes: UN - unknown, EX - expired, OK - OK, ?? - revalidate
       temp - temporary, perm - permanent
       NA - Not Applicable None - Not defined

Host                      Port  Flags      Age Type   Address(es)
"""


def show_ip_interface_brief(ifaces: list[Interface]) -> str:
    rows = ["Interface              IP-Address      OK? Method Status                Protocol"]
    for iface in ifaces:
        status, proto = _status(iface)
        addr = str(iface.addresses[0].ip) if iface.addresses else "unassigned"
        method = "NVRAM" if iface.addresses else "unset"
        rows.append(f"{iface.name:<22} {addr:<15} YES {method:<6} {status:<21} {proto}")
    return "\n".join(rows) + "\n"


def show_interfaces(ifaces: list[Interface]) -> str:
    out = []
    for iface in ifaces:
        status, proto = _status(iface)
        loop = iface.name.startswith("Loopback")
        out.append(f"{iface.name} is {status}, line protocol is {proto} ")
        if loop:
            out.append("  Hardware is Loopback")
        else:
            out.append(f"  Hardware is iGbE, address is {_mac(iface.name)} (bia {_mac(iface.name)})")
        if iface.description:
            out.append(f"  Description: {iface.description}")
        for addr in iface.addresses[:1]:
            out.append(f"  Internet address is {addr.with_prefixlen}")
        mtu, bw = (1514, 8000000) if loop else (1500, 1000000)
        out += [
            f"  MTU {mtu} bytes, BW {bw} Kbit/sec, DLY 10 usec, ",
            "     reliability 255/255, txload 1/255, rxload 1/255",
            "  Encapsulation ARPA, loopback not set",
            "  Keepalive set (10 sec)",
            "  Last input 00:00:01, output 00:00:01, output hang never",
            '  Last clearing of "show interface" counters never',
            "  Input queue: 0/75/0/0 (size/max/drops/flushes); Total output drops: 0",
            "  5 minute input rate 0 bits/sec, 0 packets/sec",
            "  5 minute output rate 0 bits/sec, 0 packets/sec",
            "     0 packets input, 0 bytes, 0 no buffer",
            "     0 packets output, 0 bytes, 0 underruns",
        ]
    return "\n".join(out) + "\n"


def show_ip_interface(ifaces: list[Interface]) -> str:
    out = []
    for iface in ifaces:
        status, proto = _status(iface)
        out.append(f"{iface.name} is {status}, line protocol is {proto}")
        if not iface.addresses:
            out.append("  Internet protocol processing disabled")
            continue
        out.append(f"  Internet address is {iface.addresses[0].with_prefixlen}")
        out += [f"  Secondary address {a.with_prefixlen}" for a in iface.addresses[1:]]
        out += [
            "  Broadcast address is 255.255.255.255",
            "  MTU is 1500 bytes",
            "  Helper address is not set",
        ]
    return "\n".join(out) + "\n"


def bgp_uptime(seconds: float) -> str:
    """The ``Up/Down`` column: hh:mm:ss under a day, then 1d02h, then 3w2d (napalm's bgp_time_conversion)."""
    s = int(seconds)
    if s < 86400:
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    if s < 7 * 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    return f"{s // (7 * 86400)}w{s % (7 * 86400) // 86400}d"


def _state(bgp: Bgp, addr: str, up_since: dict[str, float]) -> str:
    nbr = next(n for n in bgp.neighbors if n.address == addr)
    if nbr.shutdown:
        return "Idle (Admin)"
    return "Established" if addr in up_since else "Active"


def bgp_summary(bgp: Bgp | None, up_since: dict[str, float]) -> str:
    if bgp is None:
        return "% BGP not active"
    now = time.time()
    rows = [
        "For address family: IPv4 Unicast",
        f"BGP router identifier {bgp.router_id or NO_ID}, local AS number {bgp.asn}",
        "BGP table version is 3, main routing table version 3",
        "2 network entries using 496 bytes of memory",
        "BGP using 1024 total bytes of memory",
        "BGP activity 2/0 prefixes, 2/0 paths, scan interval 60 secs",
        "",
        "Neighbor        V           AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd",
    ]
    for nbr in bgp.neighbors:
        state = _state(bgp, nbr.address, up_since)
        if state == "Established":
            tail, rcvd, sent = f"{bgp_uptime(now - up_since[nbr.address]):<8} {1:>12}", 12, 11
        else:
            tail, rcvd, sent = f"{'never':<8} {state}", 0, 0
        tbl = 3 if state == "Established" else 1
        rows.append(
            f"{nbr.address:<15} 4 {nbr.remote_as:>12} {rcvd:>7} {sent:>7} {tbl:>8} {0:>4} {0:>4} {tail}"
        )
    return "\n".join(rows) + "\n"


def bgp_neighbors(bgp: Bgp | None, up_since: dict[str, float]) -> str:
    if bgp is None:
        return "% BGP not active"
    now = time.time()
    out = []
    for nbr in bgp.neighbors:
        state = _state(bgp, nbr.address, up_since)
        up = state == "Established"
        link = "internal" if nbr.remote_as == bgp.asn else "external"
        out.append(f"BGP neighbor is {nbr.address},  remote AS {nbr.remote_as}, {link} link")
        if nbr.description:
            out.append(f" Description: {nbr.description}")
        if nbr.shutdown:
            out.append(" Administratively shut down")
        out.append(f"  BGP version 4, remote router ID {nbr.address if up else NO_ID}")
        if up:
            out.append(f"  BGP state = Established, up for {bgp_uptime(now - up_since[nbr.address])}")
            out.append(
                "  Last read 00:00:08, last write 00:00:01, hold time is 180,"
                " keepalive interval is 60 seconds"
            )
        else:
            out.append(f"  BGP state = {'Idle' if nbr.shutdown else 'Active'}")
        current = (1, 1) if up else (0, 0)
        out += [
            "  Default minimum time between advertisement runs is 0 seconds",
            "",
            " For address family: IPv4 Unicast",
            "  Session: " + nbr.address,
            "  BGP table version 3, neighbor version 3/0",
            "  Output queue size : 0",
            "                                 Sent       Rcvd",
            "  Prefix activity:               ----       ----",
            f"    Prefixes Current:          {current[0]:>6} {current[1]:>10} (Consumes 80 bytes)",
            f"    Prefixes Total:            {current[0]:>6} {current[1]:>10}",
            "",
            "                                   Outbound    Inbound",
            "  Local Policy Denied Prefixes:    --------    -------",
            "    Total:                                0          0",
            "  Connections established 1; dropped 0" if up else "  Connections established 0; dropped 0",
            "  Last reset never",
            "",
        ]
    return "\n".join(out) + "\n"
