"""A Juniper Junos device double speaking NETCONF over SSH, for NAPALM's ``junos`` driver (PyEZ, ncclient).

``start_junos()`` serves the RPCs NAPALM 5.2 (``napalm/junos/junos.py``) and PyEZ 2.8
(``jnpr/junos/utils/config.py``, ``rpcmeta.py``, ``facts/``) really send, answered from a stateful device:

* one shared **candidate**, an exclusive lock on it (``<lock-configuration/>``; Juniper, *Junos XML
  Management Protocol Developer Guide*, ``<lock-configuration>``: "If the session ends or the application
  emits the ``<unlock-configuration/>`` tag before the candidate configuration is committed, all changes
  made to the candidate are discarded"); a load, lock or commit while another session holds the lock is
  refused with "configuration database locked by: ...", a lock while the candidate holds another
  session's uncommitted changes with "configuration database modified";
* ``<load-configuration action="set" format="text">`` with ``<configuration-set>`` (``load set``, PyEZ
  ``Config.load(format="set")``), set and delete commands applied line by line (``junos_set``);
* ``<load-configuration action="override|merge|replace" format="text">`` (PyEZ ``Config.load``:
  ``overwrite=True`` sends ``override``; NAPALM's ``load_replace_candidate`` passes ``overwrite=True``) and
  ``<load-configuration rollback="N"/>`` (PyEZ ``Config.rollback``); a text the parser of
  ``junos_conf`` refuses leaves the candidate as it was and answers ``<load-configuration-results>`` with the
  ``rpc-error``;
* ``<get-configuration>`` in ``text`` (``<configuration-text>``, headed ``## Last commit: <time> by <user>``
  as ``show configuration`` prints) or XML with a subtree filter, from ``committed`` or ``candidate``, and
  ``compare="rollback" rollback="N"`` (``show | compare rollback N``) in ``<configuration-output>``;
* ``<commit-configuration>`` with ``<log>`` (the comment), ``<confirmed/>`` + ``<confirm-timeout>`` in
  minutes (Juniper, *Commit a Junos configuration*, ``commit confirmed``: without a confirming commit
  within the time the device rolls back to the previously committed configuration; "a subsequent
  ``commit`` or ``commit check`` confirms it"; *Junos XML Management Protocol Developer Guide*,
  "Committing the Candidate Configuration Only After Confirmation": the server "automatically retrieves and
  commits (rolls back to) the previously committed configuration"), ``<check/>``; the **rollback** history
  keeps 50 commits (``rollback 0`` = the active config .. ``rollback 49``), newest first (Juniper, *The
  Commit Model for Configurations*: on every commit "the formerly active configuration file is saved as
  the first rollback configuration file ... maximum of 49 rollback configurations"). Hence the confirming
  commit and the automatic revert are commits of their own: after commit confirmed + confirm,
  ``rollback 1`` is the confirmed config itself;
* ``get-commit-revision-information`` (``show system commit revision detail``): NAPALM's
  ``has_pending_commit`` finds a pending commit by its comment ``commit confirmed, rollback in Nmins`` on
  the newest revision and ``get-system-uptime-information`` for the current time;
* facts, interfaces and BGP from ``junos_oper``.

A commit-confirmed timer is a ``threading.Timer`` of ``confirm-timeout`` minutes in real seconds, or
``minute`` seconds per minute (``start_junos(minute=...)``); ``fire_timer()`` makes it expire now.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from tests.doubles import junos_conf as jc
from tests.doubles import junos_oper as oper
from tests.doubles import junos_set
from tests.doubles.base import new_password
from tests.doubles.netconf_server import BASE_1_0, BASE_1_1, NetconfServer, Session, rpc_error

__all__ = ["DEFAULT_PEERS", "JunosDouble", "default_baseline", "start_junos", "strip_header"]

DEFAULT_PEERS: Mapping[str, int] = {"10.0.0.2": 65002}
HISTORY = 50
CAPABILITIES = (
    BASE_1_0,
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.0",
    "urn:ietf:params:netconf:capability:validate:1.0",
    "urn:ietf:params:netconf:capability:url:1.0?scheme=http,ftp,file",
    "urn:ietf:params:xml:ns:netconf:base:1.0",
    "urn:ietf:params:xml:ns:netconf:capability:candidate:1.0",
    "urn:ietf:params:xml:ns:netconf:capability:confirmed-commit:1.0",
    "http://xml.juniper.net/netconf/junos/1.0",
    "http://xml.juniper.net/dmi/system/1.0",
)


def default_baseline(name: str = "r1") -> str:
    """A small vMX config: host name, two interfaces, eBGP to 10.0.0.2 (AS 65002); no secret in it."""
    return f"""version {oper.VERSION};
system {{
    host-name {name};
    services {{
        ssh;
        netconf {{
            ssh;
        }}
    }}
}}
interfaces {{
    ge-0/0/0 {{
        description "to r2";
        unit 0 {{
            family inet {{
                address 10.0.0.1/30;
            }}
        }}
    }}
    ge-0/0/1 {{
        unit 0 {{
            family inet {{
                address 192.0.2.1/24;
            }}
        }}
    }}
}}
routing-options {{
    router-id 10.0.0.1;
    autonomous-system 65001;
}}
protocols {{
    bgp {{
        group ebgp {{
            type external;
            neighbor 10.0.0.2 {{
                peer-as 65002;
            }}
        }}
    }}
}}
"""


def strip_header(text: str) -> str:
    """``text`` without the ``## Last commit`` / ``## Last changed`` lines Junos puts on top."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("## "))


@dataclass
class Commit:
    """One entry of the rollback history."""

    config: list[jc.Stmt]
    when: float
    user: str
    client: str
    log: str = ""
    comment: str = ""
    number: int = 0


class JunosDevice(oper.OperationalRpcs):
    """The device's state and its RPCs (one lock for everything: RPCs are short)."""

    def __init__(self, baseline: str, peers: Mapping[str, int], minute: float) -> None:
        self.peers = dict(peers)
        self.minute = minute
        self.booted = time.time() - 86400
        self.mutex = threading.RLock()
        self.revisions = 0
        self.history: list[Commit] = []
        self._record(jc.parse(baseline), "root", "other")
        self.candidate = [s.copy() for s in self.history[0].config]
        self.lock_owner: Session | None = None
        self.changed_by: int | None = None
        self.timer: threading.Timer | None = None
        self.restore: list[jc.Stmt] | None = None
        self.bgp_since = time.time() - 3600

    # -- state ---------------------------------------------------------------------------------------------

    @property
    def running(self) -> list[jc.Stmt]:
        return self.history[0].config

    def _record(
        self, config: list[jc.Stmt], user: str, client: str, log: str = "", comment: str = ""
    ) -> None:
        self.revisions += 1
        entry = Commit([s.copy() for s in config], time.time(), user, client, log, comment, self.revisions)
        if self.history and jc.render(entry.config) != jc.render(self.running):
            self.bgp_since = entry.when
        self.history.insert(0, entry)
        del self.history[HISTORY:]

    def show(self, database: str = "committed") -> str:
        head = self.history[0]
        if database == "candidate" and self.changed_by is not None:
            return f"## Last changed: {oper.stamp(time.time())}\n" + jc.render(self.candidate)
        return f"## Last commit: {oper.stamp(head.when)} by {head.user}\n" + jc.render(self.running)

    def set_running(self, text: str) -> None:
        with self.mutex:
            self._record(jc.parse(text), "root", "cli")
            self.candidate = [s.copy() for s in self.running]
            self.changed_by = None

    def has_pending(self) -> bool:
        return self.timer is not None

    def fire(self) -> None:
        """The commit-confirmed time is over: the config from before that commit is committed again."""
        with self.mutex:
            if self.timer is None or self.restore is None:
                return
            self.timer.cancel()
            self.timer = None
            self._record(self.restore, "root", "other")
            self.restore = None
            self.candidate = [s.copy() for s in self.running]
            self.changed_by = None

    def cancel(self) -> None:
        with self.mutex:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = None
            self.restore = None

    def session_closed(self, session: Session) -> None:
        with self.mutex:
            if self.lock_owner is session:
                self._unlock()

    def _unlock(self) -> None:
        self.lock_owner = None
        self.candidate = [s.copy() for s in self.running]
        self.changed_by = None

    def _touched(self, session: Session) -> None:
        """The candidate was written: it holds uncommitted changes while it differs from the active config."""
        same = jc.render(self.candidate) == jc.render(self.running)
        self.changed_by = None if same else session.id

    def _locked_by_other(self, session: Session) -> str | None:
        owner = self.lock_owner
        if owner is None or owner is session:
            return None
        return (
            f"configuration database locked by:\n  {owner.username} terminal pts/0 (pid {owner.id}) on since "
            f"{oper.stamp(owner.data.get('locked_at', time.time()))}\n      exclusive [edit]"
        )

    # -- RPC dispatch --------------------------------------------------------------------------------------

    def handle(self, session: Session, op: Any) -> str:
        name = etree.QName(op).localname
        method = getattr(self, "rpc_" + name.replace("-", "_"), None)
        if method is None:
            bad = f"<error-info><bad-element>{escape(name)}</bad-element></error-info>"
            return rpc_error("syntax error", extra=bad)
        with self.mutex:
            return str(method(session, op))

    def rpc_lock_configuration(self, session: Session, op: Any) -> str:
        other = self._locked_by_other(session)
        if other:
            owner_id = self.lock_owner.id if self.lock_owner else 0
            return rpc_error(
                other,
                tag="lock-denied",
                extra=f"<error-info><session-id>{owner_id}</session-id></error-info>",
            )
        if self.changed_by is not None and self.changed_by != session.id:
            return rpc_error("configuration database modified", tag="lock-denied")
        self.lock_owner = session
        session.data["locked_at"] = time.time()
        return "<ok/>"

    def rpc_unlock_configuration(self, session: Session, op: Any) -> str:
        if self.lock_owner is not session:
            return rpc_error("configuration database not locked by this session", tag="operation-failed")
        self._unlock()
        return "<ok/>"

    def rpc_load_configuration(self, session: Session, op: Any) -> str:  # noqa: PLR0911 - one per answer
        other = self._locked_by_other(session)
        if other:
            return _load_results(rpc_error(other, tag="lock-denied"))
        if op.get("rollback") is not None:
            number = int(op.get("rollback"))
            if number >= len(self.history):
                return rpc_error(f"rollback {number} does not exist", error_type="application")
            self.candidate = [s.copy() for s in self.history[number].config]
            self._touched(session)
            return _load_results("<ok/>")
        action = op.get("action", "merge")
        wanted = "configuration-set" if action == "set" else "configuration-text"
        text_el = next((el for el in op if etree.QName(el).localname == wanted), None)
        if op.get("format") != "text" or text_el is None:
            return rpc_error('this double loads only format="text" (curly-brace or set) configurations')
        try:
            if action == "set":
                self.candidate = junos_set.apply(self.candidate, text_el.text or "")
                self._touched(session)
                return _load_results("<ok/>")
            loaded = jc.parse(text_el.text or "")
        except jc.ConfigSyntaxError as err:
            bad = f"<error-info><bad-element>{escape(err.token)}</bad-element></error-info>"
            error = rpc_error(err.message, extra=f"<error-path>[edit]</error-path>{bad}")
            return _load_results(error + "<load-error-count>1</load-error-count>")
        self.candidate = loaded if action == "override" else jc.merge(self.candidate, loaded)
        self._touched(session)
        return _load_results("<ok/>")

    def rpc_get_configuration(self, session: Session, op: Any) -> str:
        if op.get("compare") == "rollback":
            number = int(op.get("rollback", "0"))
            if number >= len(self.history):
                return rpc_error(f"rollback {number} does not exist", error_type="application")
            text = jc.diff(self.history[number].config, self.candidate)
            output = f"<configuration-output>{escape(text)}</configuration-output>"
            return f"<configuration-information>{output}</configuration-information>"
        database = op.get("database", "candidate")
        config = self.running if database == "committed" else self.candidate
        if op.get("format") == "text":
            return f"<configuration-text>{escape(self.show(database))}</configuration-text>"
        head = self.history[0]
        wanted = next((el for el in op if etree.QName(el).localname == "configuration"), None)
        xml = etree.fromstring(f"<configuration>{jc.to_xml(config)}</configuration>")
        if wanted is not None and len(wanted):
            xml = _subtree(xml, wanted)
        attrs = (
            f' junos:commit-seconds="{int(head.when)}" junos:commit-localtime="{oper.stamp(head.when)}"'
            f' junos:commit-user="{escape(head.user)}"'
        )
        inner = "".join(etree.tostring(child, encoding="unicode") for child in xml)
        return f"<configuration{attrs}>{inner}</configuration>"

    def rpc_commit_configuration(self, session: Session, op: Any) -> str:
        other = self._locked_by_other(session)
        if other:
            return rpc_error(other, tag="lock-denied")
        children = {etree.QName(el).localname: (el.text or "").strip() for el in op}
        if "check" in children:
            self.cancel()  # "commit check" confirms a pending commit confirmed too
            check = "<routing-engine><name>re0</name><commit-check-success/></routing-engine>"
            return f"<commit-results>{check}</commit-results>"
        comment = ""
        minutes = 0
        if "confirmed" in children:
            minutes = int(children.get("confirm-timeout") or 10)
            if not 1 <= minutes <= 65535:
                return rpc_error(f"confirm-timeout {minutes} out of range (1..65535)")
            comment = f"commit confirmed, rollback in {minutes}mins"
        # a confirmed commit while one is pending keeps the first one's rollback point (RFC 6241 8.4;
        # assumed for Junos, not documented there)
        previous = self.restore if self.restore is not None else [s.copy() for s in self.running]
        self.cancel()
        self._record(self.candidate, session.username, "netconf", children.get("log", ""), comment)
        self.candidate = [s.copy() for s in self.running]
        self.changed_by = None
        if minutes:
            self.restore = previous
            self.timer = threading.Timer(minutes * self.minute, self.fire)
            self.timer.daemon = True
            self.timer.start()
        return (
            "<commit-results><routing-engine><name>re0</name><commit-success/><commit-revision-information>"
            f"<new-db-revision>re0-{int(self.history[0].when)}-{self.history[0].number}</new-db-revision>"
            "</commit-revision-information></routing-engine></commit-results>"
        )

    def rpc_get_commit_revision_information(self, session: Session, op: Any) -> str:
        head = self.history[0]
        comment = head.comment or head.log
        return (
            f"<commit-revision-information><user>{escape(head.user)}</user><client>{head.client}</client>"
            f'<date-time junos:seconds="{int(head.when)}">{oper.stamp(head.when)}</date-time>'
            f"<revision>re0-{int(head.when)}-{head.number}</revision>"
            + (f"<comment>{escape(comment)}</comment>" if comment else "")
            + "</commit-revision-information>"
        )

    def rpc_get_commit_information(self, session: Session, op: Any) -> str:
        rows = []
        for index, entry in enumerate(self.history):
            rows.append(
                f"<commit-history><sequence-number>{index}</sequence-number><user>{escape(entry.user)}</user>"
                f'<client>{entry.client}</client><date-time junos:seconds="{int(entry.when)}">'
                f"{oper.stamp(entry.when)}</date-time>"
                + (f"<comment>{escape(entry.comment)}</comment>" if entry.comment else "")
                + (f"<log>{escape(entry.log)}</log>" if entry.log else "")
                + (
                    "<commit-confirmed>rollback pending</commit-confirmed>"
                    if index == 0 and self.timer
                    else ""
                )
                + "</commit-history>"
            )
        return "<commit-information>" + "".join(rows) + "</commit-information>"


def _load_results(body: str) -> str:
    return f"<load-configuration-results>{body}</load-configuration-results>"


def _subtree(config: Any, wanted: Any) -> Any:
    """RFC 6241 subtree filtering by element names (an empty filter element selects the whole subtree)."""
    out = etree.Element(config.tag)
    for want in wanted:
        tag = etree.QName(want).localname
        for child in config:
            if child.tag != tag:
                continue
            out.append(_subtree(child, want) if len(want) else child.__copy__())
    return out


class JunosDouble:
    """One Junos device on 127.0.0.1 (``DeviceDouble``)."""

    platform = "junos"

    def __init__(
        self,
        name: str,
        peers: Mapping[str, int],
        baseline: str | None,
        minute: float,
        netconf_1_1: bool,
    ) -> None:
        self.name = name
        self.hostname = "127.0.0.1"
        self.username = "netimmutable"
        self.password = new_password()
        self.peers = dict(peers)
        self.baseline = baseline if baseline is not None else default_baseline(name)
        self.device = JunosDevice(self.baseline, self.peers, minute)
        caps = (*CAPABILITIES, BASE_1_1) if netconf_1_1 else CAPABILITIES
        self.server = NetconfServer(
            self.device.handle,
            username=self.username,
            password=self.password,
            capabilities=caps,
            reply_namespaces={"junos": oper.JUNOS_NS},
            on_close=self.device.session_closed,
        )
        self.optional_args: Mapping[str, Any] = {"port": self.server.port}

    def running(self) -> str:
        """``show configuration`` out of band, ``## Last commit`` header included."""
        with self.device.mutex:
            return self.device.show("committed")

    def candidate(self) -> str:
        with self.device.mutex:
            return jc.render(self.device.candidate)

    def locked(self) -> bool:
        """Some session holds the exclusive candidate lock."""
        return self.device.lock_owner is not None

    def candidate_changed(self) -> bool:
        """The shared candidate holds uncommitted changes."""
        return self.device.changed_by is not None

    def rollback_config(self, number: int) -> str:
        """The text of ``rollback <number>`` (0 = active config)."""
        with self.device.mutex:
            return jc.render(self.device.history[number].config)

    def commit_log(self, number: int = 0) -> str:
        """The ``log`` (commit comment) of ``rollback <number>``."""
        return self.device.history[number].log

    def set_running(self, config: str) -> None:
        self.device.set_running(config)

    def set_peer(self, address: str, asn: int | None) -> None:
        """The neighbour behind ``address`` now runs ``asn`` (``None``: it is gone)."""
        with self.device.mutex:
            if asn is None:
                self.peers.pop(address, None)
            else:
                self.peers[address] = asn
            self.device.peers = dict(self.peers)

    def has_pending(self) -> bool:
        return self.device.has_pending()

    def fire_timer(self) -> None:
        self.device.fire()

    def stop(self) -> None:
        self.device.cancel()
        self.server.stop()


@contextlib.contextmanager
def start_junos(
    name: str = "r1",
    peers: Mapping[str, int] | None = None,
    baseline: str | None = None,
    *,
    minute: float = 60.0,
    netconf_1_1: bool = False,
) -> Iterator[JunosDouble]:
    """A Junos double on an ephemeral port; ``minute``: real seconds per commit-confirmed minute."""
    double = JunosDouble(name, DEFAULT_PEERS if peers is None else peers, baseline, minute, netconf_1_1)
    try:
        yield double
    finally:
        double.stop()
