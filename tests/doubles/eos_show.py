"""What the EOS double's ``show`` commands answer, in the form NAPALM's eos driver parses.

JSON shapes follow the real outputs in NAPALM's EOS test data (napalm-automation/napalm,
``test/eos/mocked_data/``: ``test_get_facts/normal/show_version.json``, ``show_hostname.json``,
``show_interfaces.json``; ``test_get_bgp_neighbors/{normal,nobgp}/show_ip_bgp_summary_vrf_all.json``,
``show_ip_bgp_neighbors_vrf_all.json``, ``show_ipv6_bgp_peers_vrf_all.json``): only the keys the driver reads,
plus the common ones around them. ``show running-config``/``startup-config``/``session-config`` are text only
(the driver always asks ``format: text``); asked in JSON they fail with eAPI's 1003 (unconverted command).

Derived state (the double's rules, from ``tests/doubles/base.py``): a BGP neighbour is ``Established`` when
the ``peers`` table has its address with the configured remote AS and neither ``router bgp`` nor the neighbour
is shut; otherwise it is ``Active`` (or ``Idle``, "Administratively shut down", when shut). Its router ID is
its address (the double knows no more of the far end); prefix counts are 0. Interfaces are those the config
declares; one with ``shutdown`` is ``disabled``/``down``, every other one ``connected``/``up``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.doubles.eos_text import apply_filters, bgp_neighbors_text

if TYPE_CHECKING:
    from tests.doubles.eos_config import Config
    from tests.doubles.eos_device import EosState, Session

__all__ = ["Shows", "Unconverted"]

MODEL = "vEOS-lab"
BOOT = "flash:/vEOS-lab.swi"
NO_ADDRESS = "0.0.0.0"  # noqa: S104 - an address EOS reports, nothing binds to it


class Unconverted(Exception):
    """A text-only command asked for in JSON (eAPI error 1003)."""


def _mac(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])


class Shows:
    """The ``show`` commands, answered from one ``EosState`` (the caller holds its lock)."""

    def __init__(self, state: EosState) -> None:
        self.st = state

    def run(self, words: list[str], fmt: str, session: Session | None) -> dict[str, Any]:
        """One ``show`` command (with any ``| filter``s) in ``fmt``."""
        from tests.doubles.eos_config import InvalidInput

        cmd = " ".join(words)
        base, *filters = [part.strip() for part in cmd.split("|")]
        if filters:  # filters work on text: in JSON the command is unconverted
            if fmt == "json":
                raise Unconverted(cmd)
            filtered = apply_filters(self._text(base.split(), session), filters)
            if filtered is None:
                raise InvalidInput(cmd, len(base.split()) + 1)
            return {"output": filtered}
        if fmt == "text":
            return {"output": self._text(words, session)}
        if self._text_only(words, session) is not None:
            raise Unconverted(cmd)
        return self._json(cmd)

    def _json(self, cmd: str) -> dict[str, Any]:
        from tests.doubles.eos_config import InvalidInput

        json_cmds: dict[str, Callable[[], dict[str, Any]]] = {
            "show version": self.version,
            "show hostname": self.hostname,
            "show interfaces": self.interfaces,
            "show ip bgp summary vrf all": lambda: self.bgp_summary(v6=False),
            "show ipv6 bgp summary vrf all": lambda: self.bgp_summary(v6=True),
            "show ip bgp neighbors vrf all": lambda: self.bgp_peers(v6=False),
            "show ipv6 bgp peers vrf all": lambda: self.bgp_peers(v6=True),
            "show configuration sessions": lambda: self.st.sessions_json(detail=False),
            "show configuration sessions detail": lambda: self.st.sessions_json(detail=True),
        }
        if cmd not in json_cmds:
            raise InvalidInput(cmd, 1)
        return json_cmds[cmd]()

    def _text(self, words: list[str], session: Session | None) -> str:
        """A command's text: configs as EOS prints them, the BGP neighbour report, else a rendering of the
        JSON model (the double's approximation)."""
        text_only = self._text_only(words, session)
        if text_only is not None:
            return text_only
        cmd = " ".join(words)
        result = self._json(cmd)
        if cmd == "show ip bgp neighbors vrf all":
            bgp = self._bgp()
            lines = bgp[1] if bgp else []
            return bgp_neighbors_text(
                self.neighbors(), lines, self.st.running.blocks("interface "), self.router_id(lines)
            )
        if cmd == "show ipv6 bgp peers vrf all":
            return ""  # the double has no IPv6 neighbours
        return _as_text(result)

    def _text_only(self, words: list[str], session: Session | None) -> str | None:  # noqa: PLR0911
        st = self.st
        if words[:2] == ["show", "running-config"] and set(words[2:]) <= {"all", "sanitized"}:
            text = self.running_config()
            return _sanitize(text) if "sanitized" in words else text
        if words == ["show", "startup-config"]:
            return f"! Command: show startup-config\n! {st.saved}\n" + st.read_file("startup-config")
        if words[:3] == ["show", "session-config", "named"] and len(words) in (4, 5):
            if words[4:] == ["diffs"]:
                return st.diffs(words[3])
            if len(words) == 4:
                return self.running_config(st.session(words[3]).config)
        if words[:2] == ["show", "session-config"] and session is not None and len(words) <= 3:
            if words[2:] == ["diffs"]:
                return st.diffs(session.name)
            if len(words) == 2:
                return self.running_config(session.config)
        return None

    # ------------------------------------------------------------------------------ text
    def running_config(self, config: Config | None = None) -> str:
        """``show running-config`` (or a session's config) with EOS's header lines."""
        return "! Command: show running-config\n" + self.file_text(
            self.st.running if config is None else config
        )

    def file_text(self, config: Config) -> str:
        """A config as EOS writes it to a file (startup-config, ``flash:rollback-0``): the ``! device`` and
        ``! boot system`` comment lines, then the config (the form of ``show startup-config`` in NAPALM's
        ``test/eos/mocked_data/test_get_config/normal/show_startup_config.text``, less two lines)."""
        host = config.value("hostname") or "localhost"
        head = f"! device: {host} ({MODEL}, EOS-{self.st.eos_version})\n!\n! boot system {BOOT}\n!\n"
        return head + config.render()

    # ------------------------------------------------------------------------------ JSON
    def version(self) -> dict[str, Any]:
        st = self.st
        host = st.running.value("hostname") or "localhost"
        return {
            "mfgName": "Arista",
            "modelName": MODEL,
            "hardwareRevision": "",
            "serialNumber": hashlib.sha256(host.encode()).hexdigest()[:11].upper(),
            "systemMacAddress": _mac("system"),
            "hwMacAddress": "00:00:00:00:00:00",
            "configMacAddress": "00:00:00:00:00:00",
            "version": st.eos_version,
            "architecture": "x86_64",
            "internalVersion": f"{st.eos_version}-0.{st.eos_version.replace('.', '')}",
            "internalBuildId": "00000000-0000-0000-0000-000000000000",
            "imageFormatVersion": "1.0",
            "imageOptimization": "None",
            "bootupTimestamp": st.boot_time,
            "uptime": time.time() - st.boot_time,
            "memTotal": 4002196,
            "memFree": 2531604,
            "isIntlVersion": False,
        }

    def hostname(self) -> dict[str, Any]:
        host = self.st.running.value("hostname") or "localhost"
        domain = self.st.running.value("ip domain-name")
        return {"hostname": host, "fqdn": f"{host}.{domain}" if domain else host}

    def interfaces(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for header, lines in self.st.running.blocks("interface "):
            name = header.split()[1]
            shut = "shutdown" in lines
            kind = (
                "loopback"
                if name.startswith("Loopback")
                else "vlan"
                if name.startswith("Vlan")
                else "ethernet"
            )
            routed = kind != "ethernet" or "no switchport" in lines or name.startswith("Management")
            mtu = next(
                (int(ln.split()[1]) for ln in lines if ln.startswith("mtu ")),
                65535 if kind == "loopback" else 1500,
            )
            addresses = []
            for ln in lines:
                if ln.startswith("ip address "):
                    iface = ipaddress.IPv4Interface(ln.split()[2])
                    addresses.append(
                        {
                            "primaryIp": {"address": str(iface.ip), "maskLen": iface.network.prefixlen},
                            "secondaryIps": {},
                            "secondaryIpsOrderedList": [],
                            "virtualIp": {"address": NO_ADDRESS, "maskLen": 0},
                            "virtualSecondaryIps": {},
                            "virtualSecondaryIpsOrderedList": [],
                            "broadcastAddress": "255.255.255.255",
                            "dhcp": False,
                        }
                    )
            entry: dict[str, Any] = {
                "name": name,
                "forwardingModel": "routed" if routed else "bridged",
                "lineProtocolStatus": "down" if shut else "up",
                "interfaceStatus": "disabled" if shut else "connected",
                "hardware": kind,
                "interfaceAddress": addresses,
                "description": next(
                    (ln.split(" ", 1)[1] for ln in lines if ln.startswith("description ")), ""
                ),
                "bandwidth": 0 if kind == "loopback" else 1_000_000_000,
                "mtu": mtu,
                "l3MtuConfigured": any(ln.startswith("mtu ") for ln in lines),
                "l2Mru": 0,
                "lastStatusChangeTimestamp": self.st.boot_time,
                "interfaceCounters": {"inOctets": 0, "outOctets": 0, "inUcastPkts": 0, "outUcastPkts": 0},
            }
            if kind == "ethernet":
                entry.update(physicalAddress=_mac(name), burnedInAddress=_mac(name), duplex="duplexFull")
            out[name] = entry
        return {"interfaces": out}

    def _bgp(self) -> tuple[str, list[str]] | None:
        blocks = self.st.running.blocks("router bgp ")
        return (blocks[0][0].split()[2], blocks[0][1]) if blocks else None

    def router_id(self, lines: list[str]) -> str:
        """``router-id``, else the highest loopback address, else the highest interface address."""
        configured = next((ln.split()[1] for ln in lines if ln.startswith("router-id ")), None)
        if configured:
            return configured
        loopbacks: list[ipaddress.IPv4Address] = []
        others: list[ipaddress.IPv4Address] = []
        for header, body in self.st.running.blocks("interface "):
            for ln in body:
                if ln.startswith("ip address "):
                    ip = ipaddress.IPv4Interface(ln.split()[2]).ip
                    (loopbacks if header.startswith("interface Loopback") else others).append(ip)
        pool = loopbacks or others
        return str(max(pool)) if pool else NO_ADDRESS

    def neighbors(self) -> list[dict[str, Any]]:
        """Each configured neighbour with its derived state (see the module docstring)."""
        bgp = self._bgp()
        if bgp is None:
            return []
        asn, lines = bgp
        found: dict[str, dict[str, Any]] = {}
        for ln in lines:
            m = re.match(r"neighbor (\S+) (remote-as|description|shutdown) ?(.*)$", ln)
            if m:
                peer = found.setdefault(m.group(1), {"address": m.group(1), "asn": "", "description": ""})
                if m.group(2) == "remote-as":
                    peer["asn"] = m.group(3)
                elif m.group(2) == "description":
                    peer["description"] = m.group(3)
                else:
                    peer["shutdown"] = True
        now = time.time()
        for addr, peer in found.items():
            up = (
                not peer.get("shutdown") and peer["asn"] != "" and self.st.peers.get(addr) == int(peer["asn"])
            )
            peer["state"] = "Established" if up else "Idle" if peer.get("shutdown") else "Active"
            if not up:
                self.st.bgp_since.pop(addr, None)
            peer["since"] = self.st.bgp_since.setdefault(addr, now) if up else now
            peer["localAsn"] = asn
        return sorted(found.values(), key=lambda p: ipaddress.IPv4Address(p["address"]))

    def bgp_summary(self, v6: bool) -> dict[str, Any]:
        bgp = self._bgp()
        if bgp is None:
            return {"vrfs": {}}
        asn, lines = bgp
        peers = {}
        for p in [] if v6 else self.neighbors():
            entry: dict[str, Any] = {
                "version": 4,
                "msgReceived": 0,
                "msgSent": 0,
                "inMsgQueue": 0,
                "outMsgQueue": 0,
                "asn": p["asn"],
                "prefixAccepted": 0,
                "prefixReceived": 0,
                "upDownTime": p["since"],
                "underMaintenance": False,
                "peerState": p["state"],
            }
            if p["description"]:
                entry["description"] = p["description"]
            peers[p["address"]] = entry
        vrf = {"vrf": "default", "routerId": self.router_id(lines), "asn": asn, "peers": peers}
        return {"vrfs": {"default": vrf}}

    def bgp_peers(self, v6: bool) -> dict[str, Any]:
        bgp = self._bgp()
        if bgp is None:
            return {"vrfs": {}}
        asn, lines = bgp
        peer_list = []
        for p in [] if v6 else self.neighbors():
            up = p["state"] == "Established"
            entry: dict[str, Any] = {
                "peerAddress": p["address"],
                "asn": p["asn"],
                "linkType": "external" if p["asn"] != asn else "internal",
                "routerId": p["address"] if up else NO_ADDRESS,
                "vrf": "default",
                "state": p["state"],
                "holdTime": 180,
                "keepaliveTime": 60,
                "configHoldTime": 180,
                "configKeepaliveTime": 60,
                "establishedTime": int(time.time() - p["since"]) if up else 0,
                "prefixesSent": 0,
                "prefixesReceived": 0,
                "v6PrefixesSent": 0,
                "v6PrefixesReceived": 0,
                "localAsn": asn,
                "localRouterId": self.router_id(lines),
            }
            if p["description"]:
                entry["description"] = p["description"]
            if p["state"] == "Idle":
                entry["idleReason"] = "Administratively shut down"
            peer_list.append(entry)
        return {"vrfs": {"default": {"peerList": peer_list}}}


def _sanitize(text: str) -> str:
    """``show running-config sanitized``: secrets shown as ``<removed>``, their type kept (``secret 5
    <removed>``, as in NAPALM's ``test_get_config_sanitized`` data)."""
    text = re.sub(r"(secret (?:sha512|[0-9]) )\S+", r"\1<removed>", text)
    return re.sub(r"(password \d )\S+", r"\1<removed>", text)


def _as_text(value: Any, indent: str = "") -> str:
    """A JSON-only command asked for in text: key/value lines (the double's approximation of EOS's text)."""
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                lines.append(f"{indent}{key}:")
                lines.append(_as_text(item, indent + "  ").rstrip("\n"))
            else:
                lines.append(f"{indent}{key}: {item}")
    elif isinstance(value, list):
        for item in value:
            lines.append(_as_text(item, indent + "  ").rstrip("\n"))
    else:
        lines.append(f"{indent}{value}")
    return "\n".join(ln for ln in lines if ln) + "\n"
