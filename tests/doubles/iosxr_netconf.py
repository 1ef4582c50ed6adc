"""A Cisco IOS-XR device double speaking NETCONF 1.1 over SSH, for NAPALM's ``iosxr_netconf`` driver.

What NAPALM 5.2 (``napalm/iosxr_netconf/iosxr_netconf.py``, ``constants.py``) sends with its default
``config_encoding="cli"``, and how this double answers it (RFC 6241 operations, Cisco YANG models):

* ``<lock>`` / ``<unlock>`` of ``candidate`` (RFC 6241 7.5/7.6: ``lock-denied`` with the holder's
  ``session-id`` while another session holds it; a session's lock goes with the session);
* ``<copy-config>`` to ``candidate`` from ``<config><cli xmlns="...Cisco-IOS-XR-cli-cfg">TEXT</cli>``
  (``load_replace_candidate``: the candidate becomes TEXT) and ``<edit-config>`` with the same content
  (``load_merge_candidate``: TEXT merged into the candidate); each session edits its own candidate, as XR's
  NETCONF agent keeps one target configuration per session; a line ``iosxr_conf`` refuses is an
  ``rpc-error`` and the candidate stays as it was;
* ``<get-cli-config-diff xmlns="...Cisco-IOS-XR-cli-diff-act"/>`` (``compare_config``): the diff in ``<cli>``;
* ``<get-config>`` of ``running`` / ``candidate`` filtered by ``<cli xmlns="...Cisco-IOS-XR-cli-cfg"/>``
  (``get_config``): the ``show running-config`` text with its ``!! IOS XR Configuration`` header;
* ``<commit/>`` (RFC 6241 8.3), with ``<confirmed/>`` + ``<confirm-timeout>`` seconds (8.4, confirmed-commit
  1.1: a commit without confirmed confirms; ``<cancel-commit/>`` or the timeout reverts) which NAPALM never
  sends (``commit_config(revert_in=...)`` raises ``NotImplementedError``); ``<discard-changes/>``;
* ``<roll-back-configuration-last xmlns="...Cisco-IOS-XR-cfgmgr-rollback-act"><count>1</count>``
  (``rollback``): the config from before the last commit comes back, as a new commit (XR's ``rollback
  configuration last 1``); the commit database keeps 100 commits with XR's ten-digit commit IDs;
* with ``start_iosxr_netconf(encoding="xml")`` (NAPALM's ``config_encoding="xml"``) the config is Cisco YANG
  XML trees instead: ``copy-config`` replaces the candidate's trees, ``edit-config`` merges them (RFC 6241
  7.2 ``merge``, list entries matched by their keys), ``get-config`` without a filter returns them (the
  driver diffs running and candidate itself); a tree outside the ``Cisco-IOS-XR-*-cfg`` models is refused
  with ``unknown-namespace`` (the driver already refuses openconfig trees before sending them);
* ``<get>`` with subtree filters on ``Cisco-IOS-XR-shellutil-oper`` (host name, uptime),
  ``Cisco-IOS-XR-pfi-im-cmd-oper`` (interfaces), ``Cisco-IOS-XR-invmgr-oper`` (``Rack 0``) and
  ``Cisco-IOS-XR-ipv4-bgp-oper`` (neighbours), shaped as NAPALM's recorded replies of real routers
  (``test/iosxr_netconf/mocked_data``) and filtered by RFC 6241 subtree filtering.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from tests.doubles import iosxr_conf as xc
from tests.doubles import iosxr_oper as oper
from tests.doubles.base import new_password
from tests.doubles.iosxr_conf import default_baseline_xml
from tests.doubles.netconf_server import BASE_1_0, BASE_1_1, NetconfServer, Session, rpc_error, subtree_filter

__all__ = [
    "DEFAULT_PEERS",
    "IosxrNetconfDouble",
    "default_baseline",
    "default_baseline_xml",
    "start_iosxr_netconf",
    "strip_header",
]

DEFAULT_PEERS: Mapping[str, int] = {"10.0.0.2": 65002}
VERSION = oper.VERSION
HISTORY = 100
NS_CLI = "http://cisco.com/ns/yang/Cisco-IOS-XR-cli-cfg"
NS_DIFF = "http://cisco.com/ns/yang/Cisco-IOS-XR-cli-diff-act"
XR_MODEL = "http://cisco.com/ns/yang/Cisco-IOS-XR-"
NS_BGP = oper.NS_BGP
CAPABILITIES = (
    BASE_1_0,
    BASE_1_1,
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
    "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
    "urn:ietf:params:netconf:capability:validate:1.1",
    f"{NS_CLI}?module=Cisco-IOS-XR-cli-cfg&revision=2019-04-05",
    f"{NS_DIFF}?module=Cisco-IOS-XR-cli-diff-act&revision=2019-04-05",
    f"{NS_BGP}?module=Cisco-IOS-XR-ipv4-bgp-oper&revision=2019-04-05",
)


def default_baseline(name: str = "r1") -> str:
    """An XRv 9000 config: host name, two interfaces, eBGP to 10.0.0.2 (AS 65002); no secret in it."""
    return f"""hostname {name}
interface GigabitEthernet0/0/0/0
 description to r2
 ipv4 address 10.0.0.1 255.255.255.252
!
interface GigabitEthernet0/0/0/1
 ipv4 address 192.0.2.1 255.255.255.0
!
router bgp 65001
 bgp router-id 10.0.0.1
 address-family ipv4 unicast
 !
 neighbor 10.0.0.2
  remote-as 65002
  address-family ipv4 unicast
  !
 !
!
netconf-yang agent
 ssh
!
"""


def strip_header(text: str) -> str:
    """``text`` without the ``!!`` header lines, the ``!`` after them and ``end``."""
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("!"):
        lines.pop(0)
    if lines and lines[-1].strip() == "end":
        lines.pop()
    return "".join(lines)


@dataclass
class XrCommit:
    config: Config
    when: float
    user: str
    commit_id: str


Config = Any
"""A config: ``list[iosxr_conf.Line]`` (cli encoding) or the ``<config>`` element of YANG trees (xml)."""


def _copy(config: Config) -> Config:
    return [c.copy() for c in config] if isinstance(config, list) else copy.deepcopy(config)


def _show(config: Config) -> str:
    if isinstance(config, list):
        return xc.render(config)
    return "".join(etree.tostring(child, encoding="unicode", pretty_print=True) for child in config)


def _parse_xml(text: str) -> Any:
    root = etree.fromstring(text.strip(), etree.XMLParser(remove_blank_text=True, resolve_entities=False))
    config = etree.Element("config")
    config.extend(
        copy.deepcopy(child) for child in (root if etree.QName(root).localname == "config" else [root])
    )
    return config


def _xr_time(seconds: float) -> str:
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(seconds))


def _xml(element: Any) -> str:
    return str(etree.tostring(element, encoding="unicode"))


def _text(op: Any, name: str) -> str:
    found = next((el for el in op.iter() if etree.QName(el).localname == name), None)
    return "" if found is None else (found.text or "").strip()


class IosxrDevice:
    """The device's state and its RPCs."""

    def __init__(self, baseline: str, peers: Mapping[str, int], encoding: str = "cli") -> None:
        self.encoding = encoding
        self.peers = dict(peers)
        self.booted = time.time() - 86400
        self.mutex = threading.RLock()
        self.history: list[XrCommit] = []
        self._next_id = 1000000001
        self.record(self.parse(baseline), "root")
        self.lock_owner: Session | None = None
        self.timer: threading.Timer | None = None
        self.restore: Config | None = None
        self.bgp_since = time.time() - 3600

    @property
    def running(self) -> Config:
        return self.history[0].config

    def parse(self, text: str) -> Config:
        """A config in this device's encoding (``xc.CliError`` / ``etree.XMLSyntaxError`` when refused)."""
        return xc.parse(text) if self.encoding == "cli" else _parse_xml(text)

    def record(self, config: Config, user: str) -> None:
        entry = XrCommit(_copy(config), time.time(), user, str(self._next_id))
        self._next_id += 1
        if self.history and _show(entry.config) != _show(self.running):
            self.bgp_since = entry.when
        self.history.insert(0, entry)
        del self.history[HISTORY:]

    def show(self, config: Config | None = None) -> str:
        head = self.history[0]
        config = self.running if config is None else config
        if not isinstance(config, list):
            return _show(config)
        return (
            f"!! IOS XR Configuration {VERSION}\n"
            f"!! Last configuration change at {_xr_time(head.when)} by {head.user}\n!\n"
            + xc.render(config)
            + "end\n"
        )

    def candidate(self, session: Session) -> Config:
        if "candidate" not in session.data:
            session.data["candidate"] = _copy(self.running)
        return session.data["candidate"]

    # -- timers and sessions -------------------------------------------------------------------------------

    def fire(self) -> None:
        with self.mutex:
            if self.timer is None or self.restore is None:
                return
            self.timer.cancel()
            self.timer = None
            self.record(self.restore, "root")
            self.restore = None

    def cancel(self) -> None:
        with self.mutex:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = None
            self.restore = None

    def session_closed(self, session: Session) -> None:
        with self.mutex:
            if self.lock_owner is session:
                self.lock_owner = None

    def _held_by_other(self, session: Session, tag: str = "in-use") -> str | None:
        owner = self.lock_owner
        if owner is None or owner is session:
            return None
        info = f"<error-info><session-id>{owner.id}</session-id></error-info>"
        return rpc_error("Lock held by another session", tag=tag, error_type="protocol", extra=info)

    # -- RPCs ----------------------------------------------------------------------------------------------

    def handle(self, session: Session, op: Any) -> str:
        name = etree.QName(op).localname.replace("-", "_")
        method = getattr(self, "rpc_" + name, None)
        if method is None:
            return rpc_error(
                f"'{etree.QName(op).localname}' is not a supported operation", tag="operation-not-supported"
            )
        with self.mutex:
            return str(method(session, op))

    def rpc_lock(self, session: Session, op: Any) -> str:
        return self._held_by_other(session, tag="lock-denied") or self._lock(session)

    def _lock(self, session: Session) -> str:
        self.lock_owner = session
        return "<ok/>"

    def rpc_unlock(self, session: Session, op: Any) -> str:
        if self.lock_owner is not session:
            return rpc_error("The lock is not held by this session", tag="operation-failed")
        self.lock_owner = None
        return "<ok/>"

    def _load(self, session: Session, op: Any, replace: bool) -> str:
        refused = self._held_by_other(session)
        if refused:
            return refused
        if self.encoding == "xml":
            return self._load_xml(session, op, replace)
        cli = next((el for el in op.iter() if etree.QName(el).localname == "cli"), None)
        if cli is None or etree.QName(cli).namespace != NS_CLI:
            return rpc_error(
                "this double takes only the Cisco-IOS-XR-cli-cfg <cli> model", tag="invalid-value"
            )
        try:
            loaded = xc.parse(cli.text or "")
        except xc.CliError as err:
            message = f"% Invalid input detected at '^' marker.\n{err.line}\n^"
            path = f'<error-path xmlns:ns1="{NS_CLI}">ns1:cli</error-path>'
            return rpc_error(message, tag="invalid-value", error_type="application", extra=path)
        session.data["candidate"] = loaded if replace else _merge(self.candidate(session), loaded)
        return "<ok/>"

    def _load_xml(self, session: Session, op: Any, replace: bool) -> str:
        config = next((el for el in op.iter() if etree.QName(el).localname == "config"), None)
        if config is None:
            return rpc_error("no <config> in the request", tag="missing-element", error_type="protocol")
        for tree in config:
            namespace = etree.QName(tree).namespace or ""
            if not (namespace.startswith(XR_MODEL) and namespace.endswith("-cfg")):
                bad = escape(etree.QName(tree).localname)
                info = f"<error-info><bad-element>{bad}</bad-element></error-info>"
                return rpc_error(f"unknown namespace {namespace}", tag="unknown-namespace", extra=info)
        loaded = _parse_xml(etree.tostring(config, encoding="unicode"))
        if replace:
            session.data["candidate"] = loaded
        else:
            base = self.candidate(session)
            _xml_merge(base, loaded)
        return "<ok/>"

    def rpc_copy_config(self, session: Session, op: Any) -> str:
        target = op.find("{*}target")
        if target is None or not any(etree.QName(e).localname == "candidate" for e in target):
            return rpc_error("copy-config target must be candidate", tag="invalid-value")
        return self._load(session, op, replace=True)

    def rpc_edit_config(self, session: Session, op: Any) -> str:
        return self._load(session, op, replace=False)

    def rpc_discard_changes(self, session: Session, op: Any) -> str:
        session.data.pop("candidate", None)
        return "<ok/>"

    def rpc_get_cli_config_diff(self, session: Session, op: Any) -> str:
        running, cand = self.running, self.candidate(session)
        text = xc.diff(running, cand, VERSION) if isinstance(running, list) else ""
        text = text or f"Building configuration...\n!! IOS XR Configuration {VERSION}\nend\n"
        return f'<cli xmlns="{NS_DIFF}">{escape(text)}</cli>'

    def rpc_get_config(self, session: Session, op: Any) -> str:
        source = next(etree.QName(el).localname for el in op.find("{*}source"))
        config = self.running if source == "running" else self.candidate(session)
        if isinstance(config, list):
            data = etree.fromstring(f'<data><cli xmlns="{NS_CLI}">{escape(self.show(config))}</cli></data>')
        else:
            data = etree.Element("data")
            data.extend(copy.deepcopy(child) for child in config)
        filt = op.find("{*}filter")
        if filt is not None:
            data[:] = subtree_filter(data, list(filt))
        return _xml(data)

    def rpc_commit(self, session: Session, op: Any) -> str:
        refused = self._held_by_other(session)
        if refused:
            return refused
        children = {etree.QName(el).localname: (el.text or "").strip() for el in op}
        previous = _copy(self.running)
        was_pending = self.timer is not None
        self.cancel()
        self.record(self.candidate(session), session.username)
        session.data.pop("candidate", None)
        if "confirmed" in children:
            seconds = int(children.get("confirm-timeout") or 600)
            self.restore = self.restore if was_pending and self.restore else previous
            self.timer = threading.Timer(seconds, self.fire)
            self.timer.daemon = True
            self.timer.start()
        return "<ok/>"

    def rpc_cancel_commit(self, session: Session, op: Any) -> str:
        if self.timer is None:
            return rpc_error("No confirmed commit is pending", tag="operation-failed")
        self.fire()
        return "<ok/>"

    def rpc_roll_back_configuration_last(self, session: Session, op: Any) -> str:
        refused = self._held_by_other(session)
        if refused:
            return refused
        count = int(_text(op, "count") or "1")
        if count >= len(self.history):
            return rpc_error(f"Only {len(self.history) - 1} commits can be rolled back", tag="invalid-value")
        self.cancel()
        self.record(self.history[count].config, session.username)
        return "<ok/>"

    def rpc_get(self, session: Session, op: Any) -> str:
        config = self.running
        summary = oper.summary_cli(config) if isinstance(config, list) else oper.summary_xml(config)
        up, bgp_up = int(time.time() - self.booted), int(time.time() - self.bgp_since)
        data = etree.fromstring(f"<data>{oper.oper_xml(summary, self.peers, up, bgp_up)}</data>")
        filt = op.find("{*}filter")
        if filt is not None:
            data[:] = subtree_filter(data, list(filt))
        return _xml(data)


_KEYS = frozenset(
    {"active", "interface-name", "instance-name", "as", "neighbor-address", "af-name", "vrf-name"}
)


def _key(element: Any) -> tuple[str, ...]:
    """A list entry's identity: its tag and its key leaves (the YANG list keys of the models used here)."""
    keys = [f"{etree.QName(c).localname}={(c.text or '').strip()}" for c in element if len(c) == 0]
    return (element.tag, *[k for k in keys if k.split("=", 1)[0] in _KEYS])


def _xml_merge(base: Any, extra: Any) -> None:
    """RFC 6241 ``merge``: ``extra``'s nodes into ``base``, list entries matched by their key."""
    for node in extra:
        same = next((b for b in base if _key(b) == _key(node)), None)
        if same is not None and len(node) and len(same):
            _xml_merge(same, node)
        elif same is not None:
            base.replace(same, copy.deepcopy(node))
        else:
            base.append(copy.deepcopy(node))


def _merge(base: list[xc.Line], extra: list[xc.Line]) -> list[xc.Line]:
    result = [c.copy() for c in base]
    for line in extra:
        same = next((c for c in result if c.text == line.text), None)
        if same is None:
            result.append(line.copy())
        else:
            same.children = _merge(same.children, line.children)
    return result


class IosxrNetconfDouble:
    """One IOS-XR device on 127.0.0.1 (``DeviceDouble``)."""

    platform = "iosxr_netconf"

    def __init__(self, name: str, peers: Mapping[str, int], baseline: str | None, encoding: str) -> None:
        self.name = name
        self.encoding = encoding
        self.hostname = "127.0.0.1"
        self.username = "netimmutable"
        self.password = new_password()
        self.peers = dict(peers)
        default = default_baseline(name) if encoding == "cli" else default_baseline_xml(name)
        self.baseline = baseline if baseline is not None else default
        self.device = IosxrDevice(self.baseline, self.peers, encoding)
        self.server = NetconfServer(
            self.device.handle,
            username=self.username,
            password=self.password,
            capabilities=CAPABILITIES,
            on_close=self.device.session_closed,
            first_session_id=2001,
        )
        self.optional_args: Mapping[str, Any] = {"port": self.server.port}
        if encoding == "xml":
            self.optional_args = {"port": self.server.port, "config_encoding": "xml"}

    def running(self) -> str:
        """``show running-config`` out of band, ``!!`` header and ``end`` included."""
        with self.device.mutex:
            return self.device.show()

    def locked(self) -> bool:
        return self.device.lock_owner is not None

    def commit_ids(self) -> list[str]:
        return [c.commit_id for c in self.device.history]

    def set_running(self, config: str) -> None:
        with self.device.mutex:
            self.device.record(self.device.parse(config), "root")

    def has_pending(self) -> bool:
        return self.device.timer is not None

    def fire_timer(self) -> None:
        self.device.fire()

    def stop(self) -> None:
        self.device.cancel()
        self.server.stop()


@contextlib.contextmanager
def start_iosxr_netconf(
    name: str = "r1",
    peers: Mapping[str, int] | None = None,
    baseline: str | None = None,
    *,
    encoding: str = "cli",
) -> Iterator[IosxrNetconfDouble]:
    """An IOS-XR NETCONF double on an ephemeral port; ``encoding``: NAPALM's ``config_encoding`` it serves
    (``cli``: the config is CLI text in ``Cisco-IOS-XR-cli-cfg``; ``xml``: it is Cisco YANG XML trees)."""
    double = IosxrNetconfDouble(name, DEFAULT_PEERS if peers is None else peers, baseline, encoding)
    try:
        yield double
    finally:
        double.stop()
