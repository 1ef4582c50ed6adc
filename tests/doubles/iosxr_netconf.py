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
* ``<get>`` with subtree filters on ``Cisco-IOS-XR-shellutil-oper`` (host name, uptime),
  ``Cisco-IOS-XR-pfi-im-cmd-oper`` (interfaces), ``Cisco-IOS-XR-invmgr-oper`` (``Rack 0``) and
  ``Cisco-IOS-XR-ipv4-bgp-oper`` (neighbours), shaped as NAPALM's recorded replies of real routers
  (``test/iosxr_netconf/mocked_data``) and filtered by RFC 6241 subtree filtering.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from tests.doubles import iosxr_conf as xc
from tests.doubles.base import new_password
from tests.doubles.netconf_server import BASE_1_0, BASE_1_1, NetconfServer, Session, rpc_error, subtree_filter

__all__ = ["DEFAULT_PEERS", "IosxrNetconfDouble", "default_baseline", "start_iosxr_netconf", "strip_header"]

DEFAULT_PEERS: Mapping[str, int] = {"10.0.0.2": 65002}
VERSION = "7.3.2"
MODEL = "R-IOSXRV9000-CC"
HISTORY = 100
NS_CLI = "http://cisco.com/ns/yang/Cisco-IOS-XR-cli-cfg"
NS_DIFF = "http://cisco.com/ns/yang/Cisco-IOS-XR-cli-diff-act"
NS_SUO = "http://cisco.com/ns/yang/Cisco-IOS-XR-shellutil-oper"
NS_INT = "http://cisco.com/ns/yang/Cisco-IOS-XR-pfi-im-cmd-oper"
NS_INV = "http://cisco.com/ns/yang/Cisco-IOS-XR-invmgr-oper"
NS_BGP = "http://cisco.com/ns/yang/Cisco-IOS-XR-ipv4-bgp-oper"
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
    config: list[xc.Line]
    when: float
    user: str
    commit_id: str


def _xr_time(seconds: float) -> str:
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(seconds))


def _xml(element: Any) -> str:
    return str(etree.tostring(element, encoding="unicode"))


def _text(op: Any, name: str) -> str:
    found = next((el for el in op.iter() if etree.QName(el).localname == name), None)
    return "" if found is None else (found.text or "").strip()


class IosxrDevice:
    """The device's state and its RPCs."""

    def __init__(self, baseline: str, peers: Mapping[str, int]) -> None:
        self.peers = dict(peers)
        self.booted = time.time() - 86400
        self.mutex = threading.RLock()
        self.history: list[XrCommit] = []
        self._next_id = 1000000001
        self.record(xc.parse(baseline), "root")
        self.lock_owner: Session | None = None
        self.timer: threading.Timer | None = None
        self.restore: list[xc.Line] | None = None
        self.bgp_since = time.time() - 3600

    @property
    def running(self) -> list[xc.Line]:
        return self.history[0].config

    def record(self, config: list[xc.Line], user: str) -> None:
        entry = XrCommit([c.copy() for c in config], time.time(), user, str(self._next_id))
        self._next_id += 1
        if self.history and xc.render(entry.config) != xc.render(self.running):
            self.bgp_since = entry.when
        self.history.insert(0, entry)
        del self.history[HISTORY:]

    def show(self, config: list[xc.Line] | None = None) -> str:
        head = self.history[0]
        return (
            f"!! IOS XR Configuration {VERSION}\n"
            f"!! Last configuration change at {_xr_time(head.when)} by {head.user}\n!\n"
            + xc.render(self.running if config is None else config)
            + "end\n"
        )

    def candidate(self, session: Session) -> list[xc.Line]:
        if "candidate" not in session.data:
            session.data["candidate"] = [c.copy() for c in self.running]
        cand: list[xc.Line] = session.data["candidate"]
        return cand

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
        if replace:
            session.data["candidate"] = loaded
        else:
            session.data["candidate"] = _merge(self.candidate(session), loaded)
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
        text = xc.diff(self.running, self.candidate(session), VERSION)
        text = text or f"Building configuration...\n!! IOS XR Configuration {VERSION}\nend\n"
        return f'<cli xmlns="{NS_DIFF}">{escape(text)}</cli>'

    def rpc_get_config(self, session: Session, op: Any) -> str:
        source = next(etree.QName(el).localname for el in op.find("{*}source"))
        config = self.running if source == "running" else self.candidate(session)
        data = etree.fromstring(f'<data><cli xmlns="{NS_CLI}">{escape(self.show(config))}</cli></data>')
        filt = op.find("{*}filter")
        if filt is not None:
            data[:] = subtree_filter(data, list(filt))
        return _xml(data)

    def rpc_commit(self, session: Session, op: Any) -> str:
        refused = self._held_by_other(session)
        if refused:
            return refused
        children = {etree.QName(el).localname: (el.text or "").strip() for el in op}
        previous = [c.copy() for c in self.running]
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
        data = etree.fromstring(f"<data>{self._oper()}</data>")
        filt = op.find("{*}filter")
        if filt is not None:
            data[:] = subtree_filter(data, list(filt))
        return _xml(data)

    # -- operational data ----------------------------------------------------------------------------------

    def _oper(self) -> str:
        config = self.running
        host = next((line.text.split()[1] for line in xc.find(config, "hostname")), "ios")
        up = int(time.time() - self.booted)
        names = [line.text.split(None, 1)[1] for line in xc.find(config, "interface")]
        brief = "".join(
            f"<interface><interface-name>{escape(n)}</interface-name>{self._descr(n)}</interface>"
            for n in names
        )
        xr = "".join(self._interface_xr(n) for n in names)
        return (
            f'<system-time xmlns="{NS_SUO}"><uptime><host-name>{escape(host)}</host-name>'
            f"<uptime>{up}</uptime></uptime></system-time>"
            f'<interfaces xmlns="{NS_INT}"><interfaces>{brief}</interfaces><interface-xr>{xr}</interface-xr>'
            f"</interfaces>"
            f'<inventory xmlns="{NS_INV}"><entities><entity><name>Rack 0</name><attributes><inv-basic-bag>'
            f"<software-revision>{VERSION}</software-revision><serial-number>VXR9K00A1B2</serial-number>"
            f"<model-name>{MODEL}</model-name></inv-basic-bag></attributes></entity></entities></inventory>"
            + self._bgp()
        )

    def _interface(self, name: str) -> list[xc.Line]:
        return next((line.children for line in xc.find(self.running, f"interface {name}")), [])

    def _descr(self, name: str) -> str:
        descr = next((c.text.split(None, 1)[1] for c in xc.find(self._interface(name), "description")), "")
        return f"<description>{escape(descr)}</description>" if descr else ""

    def _interface_xr(self, name: str) -> str:
        down = bool(xc.find(self._interface(name), "shutdown"))
        state = "im-state-admin-down" if down else "im-state-up"
        mac = hashlib.sha256(name.encode()).hexdigest()
        mac = f"52:54:00:{mac[0:2]}:{mac[2:4]}:{mac[4:6]}"
        return (
            f"<interface><interface-name>{escape(name)}</interface-name><state>{state}</state>"
            f"<line-state>{state}</line-state><mtu>1514</mtu><mac-address><address>{mac}</address>"
            f"</mac-address><bandwidth>1000000</bandwidth></interface>"
        )

    def _bgp(self) -> str:
        router = next(iter(xc.find(self.running, "router bgp")), None)
        if router is None:
            return ""
        local_as = router.text.split()[2]
        rid = next((c.text.split()[2] for c in xc.find(router.children, "bgp router-id")), "0.0.0.0")  # noqa: S104
        neighbors = []
        since = int(time.time() - self.bgp_since)
        for nbr in xc.find(router.children, "neighbor"):
            address = nbr.text.split()[1]
            remote_as = next((c.text.split()[1] for c in xc.find(nbr.children, "remote-as")), "0")
            shut = bool(xc.find(nbr.children, "shutdown"))
            descr = next((c.text.split(None, 1)[1] for c in xc.find(nbr.children, "description")), "")
            up = not shut and str(self.peers.get(address)) == remote_as
            neighbors.append(
                f"<neighbor><neighbor-address>{escape(address)}</neighbor-address>"
                f"<description>{escape(descr)}</description><remote-as>{remote_as}</remote-as>"
                f"<local-as>{local_as}</local-as><router-id>{address if up else '0.0.0.0'}</router-id>"  # noqa: S104
                f"<connection-state>{'bgp-st-estab' if up else 'bgp-st-active'}</connection-state>"
                f"<connection-established-time>{since if up else 0}</connection-established-time>"
                f"<is-administratively-shut-down>{str(shut).lower()}</is-administratively-shut-down>"
                f"<connection-remote-address><afi>ipv4</afi><ipv4-address>{escape(address)}</ipv4-address>"
                f"</connection-remote-address><af-data><af-name>ipv4</af-name>"
                f"<prefixes-accepted>{1 if up else 0}</prefixes-accepted><prefixes-denied>0</prefixes-denied>"
                f"<prefixes-advertised>{1 if up else 0}</prefixes-advertised></af-data></neighbor>"
            )
        return (
            f'<bgp xmlns="{NS_BGP}"><instances><instance><instance-name>default</instance-name>'
            f"<instance-active><default-vrf><global-process-info><vrf><router-id>{rid}</router-id></vrf>"
            f"</global-process-info><neighbors>{''.join(neighbors)}</neighbors></default-vrf>"
            f"</instance-active></instance></instances></bgp>"
        )


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

    def __init__(self, name: str, peers: Mapping[str, int], baseline: str | None) -> None:
        self.name = name
        self.hostname = "127.0.0.1"
        self.username = "netimmutable"
        self.password = new_password()
        self.peers = dict(peers)
        self.baseline = baseline if baseline is not None else default_baseline(name)
        self.device = IosxrDevice(self.baseline, self.peers)
        self.server = NetconfServer(
            self.device.handle,
            username=self.username,
            password=self.password,
            capabilities=CAPABILITIES,
            on_close=self.device.session_closed,
            first_session_id=2001,
        )
        self.optional_args: Mapping[str, Any] = {"port": self.server.port}

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
            self.device.record(xc.parse(config), "root")

    def has_pending(self) -> bool:
        return self.device.timer is not None

    def fire_timer(self) -> None:
        self.device.fire()

    def stop(self) -> None:
        self.device.cancel()
        self.server.stop()


@contextlib.contextmanager
def start_iosxr_netconf(
    name: str = "r1", peers: Mapping[str, int] | None = None, baseline: str | None = None
) -> Iterator[IosxrNetconfDouble]:
    """An IOS-XR NETCONF double on an ephemeral port."""
    double = IosxrNetconfDouble(name, DEFAULT_PEERS if peers is None else peers, baseline)
    try:
        yield double
    finally:
        double.stop()
