"""IOS-XR configuration text for the IOS-XR NETCONF double: a parser of the ``show running-config`` form,
its printer and the ``show commit changes diff`` form ``get-cli-config-diff`` answers.

The form (Cisco, *IOS XR Configuration Fundamentals*, and NAPALM's recorded reply
``test/iosxr_netconf/mocked_data/test_get_config/normal/cli-cfg_cli__running.xml``): one statement per line,
a sub-mode's statements indented one space deeper than the line that opened it, ``!`` closing a sub-mode
(or separating sections), ``!!`` header lines (``!! IOS XR Configuration 7.3.2``, ``!! Last configuration
change at ... by ...``), ``end`` at the end.

Refusal rule of this double: a top-level command outside ``TOP_LEVEL`` is refused as the XR parser
refuses an unknown command (``% Invalid input detected at '^' marker.``); below the top level nothing is
checked.

The diff marks removed lines ``-``, added lines ``+`` and the unchanged lines that open a changed sub-mode
with a blank marker, each marker followed by two spaces and the line as ``show running-config`` indents
it, between ``Building configuration...`` / ``!! IOS XR Configuration`` and ``end``, as XR's ``show
configuration changes diff`` prints it; NAPALM's ``strip_config_header`` removes that frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TOP_LEVEL", "CliError", "Line", "default_baseline_xml", "diff", "find", "parse", "render"]

TOP_LEVEL = frozenset(
    {
        "hostname", "domain", "username", "aaa", "line", "service", "logging", "clock", "ntp", "ssh",
        "netconf-yang", "netconf", "xml", "grpc", "telemetry", "interface", "router", "route-policy",
        "prefix-set", "community-set", "as-path-set", "vrf", "ipv4", "ipv6", "control-plane", "lldp", "cdp",
        "banner", "snmp-server", "call-home", "explicit-path", "mpls", "l2vpn", "multicast-routing",
        "end-policy", "end-set", "tacacs-server", "radius-server", "class-map", "policy-map", "hw-module",
    }
)  # fmt: skip


class CliError(ValueError):
    """A line the XR parser does not take."""

    def __init__(self, line: str) -> None:
        super().__init__(f"% Invalid input detected at '^' marker.: {line}")
        self.line = line


@dataclass
class Line:
    """One configuration line and the lines of its sub-mode."""

    text: str
    children: list[Line] = field(default_factory=list)
    mode: bool = False
    """The line opens a sub-mode (closed by ``!``) even when nothing is configured in it."""

    def copy(self) -> Line:
        return Line(self.text, [c.copy() for c in self.children], self.mode)


def parse(text: str) -> list[Line]:
    """The lines of ``text`` as a tree by indentation (``!`` lines, headers and ``end`` dropped)."""
    root: list[Line] = []
    stack: list[tuple[int, list[Line]]] = [(-1, root)]
    last: tuple[int, Line] | None = None
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped == "!" and last is not None and 0 < len(raw) - len(raw.lstrip(" ")) == last[0]:
            last[1].mode = True  # " !" under a line at its own depth: that line opened an empty sub-mode
            continue
        if not stripped or stripped.startswith("!"):
            continue
        if stripped == "end" and raw == stripped:
            break
        indent = len(raw) - len(raw.lstrip(" "))
        while stack[-1][0] >= indent:
            stack.pop()
        if len(stack) == 1 and stripped.split()[0] not in TOP_LEVEL:
            raise CliError(stripped)
        line = Line(" ".join(stripped.split()))
        siblings = stack[-1][1]
        same = next((s for s in siblings if s.text == line.text), None)
        if same is None:
            siblings.append(line)
            same = line
        stack.append((indent, same.children))
        last = (indent, same)
    return root


def render(lines: list[Line], depth: int = 0) -> str:
    """``show running-config`` text of ``lines`` (without the ``!!`` header and ``end``)."""
    out: list[str] = []
    for line in lines:
        _render_into(line, depth, out)
    return "".join(f"{text}\n" for text in out)


def _render_into(line: Line, depth: int, out: list[str]) -> None:
    out.append(" " * depth + line.text)
    for child in line.children:
        _render_into(child, depth + 1, out)
    if line.children or line.mode:
        out.append(" " * depth + "!")


def find(lines: list[Line], prefix: str) -> list[Line]:
    """Top-level (or given-level) lines whose text starts with ``prefix``."""
    return [line for line in lines if line.text == prefix or line.text.startswith(prefix + " ")]


def diff(old: list[Line], new: list[Line], version: str) -> str:
    """``show configuration changes diff`` of ``new`` (candidate) against ``old``; empty when equal."""
    body: list[str] = []
    _diff(old, new, 0, body)
    if not body:
        return ""
    return f"Building configuration...\n!! IOS XR Configuration {version}\n" + "\n".join(body) + "\nend\n"


def _diff(old: list[Line], new: list[Line], depth: int, out: list[str]) -> None:
    old_by_text = {line.text: line for line in old}
    new_texts = {line.text for line in new}
    for line in old:
        if line.text not in new_texts:
            _signed(line, "-", depth, out)
    for line in new:
        before = old_by_text.get(line.text)
        if before is None:
            _signed(line, "+", depth, out)
            continue
        inner: list[str] = []
        _diff(before.children, line.children, depth + 1, inner)
        if inner:
            out.append("   " + " " * depth + line.text)
            out.extend(inner)
            out.append("   " + " " * depth + "!")


def _signed(line: Line, sign: str, depth: int, out: list[str]) -> None:
    rendered: list[str] = []
    _render_into(line, depth, rendered)
    out.extend(f"{sign}  {text}" for text in rendered)


def default_baseline_xml(name: str = "r1") -> str:
    """The same router as ``default_baseline`` in Cisco's YANG config models (``config_encoding="xml"``)."""
    cfg = "http://cisco.com/ns/yang/Cisco-IOS-XR-"
    ipv4 = f'<ipv4-network xmlns="{cfg}ipv4-io-cfg"><addresses><primary>'
    return f"""<config>
  <host-names xmlns="{cfg}shellutil-cfg"><host-name>{name}</host-name></host-names>
  <interface-configurations xmlns="{cfg}ifmgr-cfg">
    <interface-configuration><active>act</active><interface-name>GigabitEthernet0/0/0/0</interface-name>
      <description>to r2</description>
      {ipv4}<address>10.0.0.1</address><netmask>255.255.255.252</netmask></primary></addresses></ipv4-network>
    </interface-configuration>
    <interface-configuration><active>act</active><interface-name>GigabitEthernet0/0/0/1</interface-name>
      {ipv4}<address>192.0.2.1</address><netmask>255.255.255.0</netmask></primary></addresses></ipv4-network>
    </interface-configuration>
  </interface-configurations>
  <bgp xmlns="{cfg}ipv4-bgp-cfg"><instance><instance-name>default</instance-name><instance-as><as>0</as>
    <four-byte-as><as>65001</as><bgp-running/><default-vrf>
      <global><router-id>10.0.0.1</router-id></global>
      <bgp-entity><neighbors><neighbor><neighbor-address>10.0.0.2</neighbor-address>
        <remote-as><as-xx>0</as-xx><as-yy>65002</as-yy></remote-as>
      </neighbor></neighbors></bgp-entity>
    </default-vrf></four-byte-as></instance-as></instance></bgp>
</config>
"""
