"""FRR-syntax configs of the example network in docs/CONTRACTS.md (four routers, eBGP ring), shaped like
``templates/frr/main.j2`` renders them, for driver tests that must not depend on the render step."""

from __future__ import annotations

ROUTERS = {"r1": 65001, "r2": 65002, "r3": 65003, "r4": 65004}
# (a, b, /30 network prefix): a takes .1, b takes .2
LINKS = (
    ("r1", "r2", "10.255.12"),
    ("r2", "r3", "10.255.23"),
    ("r3", "r4", "10.255.34"),
    ("r1", "r4", "10.255.14"),
)


def _n(host: str) -> int:
    return int(host[1:])


def neighbors(host: str) -> list[tuple[str, str, str, int]]:
    """(interface, local address, peer address, peer AS) of each link of ``host``."""
    out = []
    for a, b, net in LINKS:
        if host == a:
            out.append((f"eth-{b}", f"{net}.1", f"{net}.2", ROUTERS[b]))
        elif host == b:
            out.append((f"eth-{a}", f"{net}.2", f"{net}.1", ROUTERS[a]))
    return out


def ip_key(address: str) -> tuple[int, ...]:
    return tuple(int(o) for o in address.split("."))


def frr_config(host: str) -> str:
    n, asn = _n(host), ROUTERS[host]
    nbrs = sorted(neighbors(host), key=lambda x: ip_key(x[2]))
    lines = [
        "frr version 8.4.4",
        "frr defaults traditional",
        f"hostname {host}",
        "service integrated-vtysh-config",
        "!",
        f"ip route 10.255.{100 + n}.0/24 blackhole",
        "!",
    ]
    for ifname, local, _peer, _as in sorted(neighbors(host)):
        lines += [
            f"interface {ifname}",
            f" description to {ifname[4:]}",
            f" ip address {local}/30",
            "exit",
            "!",
        ]
    lines += ["interface lo", f" ip address 10.255.255.{n}/32", "exit", "!"]
    lines += [f"router bgp {asn}", f" bgp router-id 10.255.255.{n}"]
    for _if, _local, peer, pas in nbrs:
        lines += [
            f" neighbor {peer} remote-as {pas}",
            f" neighbor {peer} timers 3 9",
            f" neighbor {peer} timers connect 2",
        ]
    lines += [" !", " address-family ipv4 unicast", f"  network 10.255.{100 + n}.0/24"]
    for _if, _local, peer, _pas in nbrs:
        lines += [f"  neighbor {peer} route-map EBGP-IN in", f"  neighbor {peer} route-map EBGP-OUT out"]
    lines += [" exit-address-family", "exit", "!"]
    lines += ["ip prefix-list LAB seq 5 permit 10.255.0.0/16 le 32", "!"]
    lines += ["route-map EBGP-IN permit 10", " match ip address prefix-list LAB", "exit", "!"]
    lines += ["route-map EBGP-OUT permit 10", " match ip address prefix-list LAB", "exit", "!", "end"]
    return "\n".join(lines) + "\n"
