"""A small NETCONF server over SSH on 127.0.0.1, for device doubles that speak NETCONF (Junos, IOS-XR).

What it follows:

* RFC 6242 (NETCONF over SSH): the client opens the SSH ``netconf`` subsystem; both sides send ``<hello>``
  framed by the end-of-message marker ``]]>]]>``; if both advertise ``urn:ietf:params:netconf:base:1.1``
  every later message uses chunked framing (``\\n#<len>\\n<data>`` ... ``\\n##\\n``), otherwise the
  ``]]>]]>`` marker stays (ncclient's ``transport/ssh.py`` and ``transport/parser.py`` negotiate exactly so).
* RFC 6241 section 4: ``<rpc message-id=...>`` is answered by ``<rpc-reply>`` carrying the same
  ``message-id``; errors are ``<rpc-error>`` elements in the base namespace (what ncclient's ``RPCReply``
  looks for); ``<close-session/>`` is answered ``<ok/>`` and ends the session.

Password authentication only (the password is generated per double); the host key is generated when the
server starts. The server knows nothing of any vendor: every operation other than ``close-session`` goes to
the ``handler`` (``handler(session, operation_element) -> reply body``), and ``on_close(session)`` runs when a
session ends for any reason (a vendor releases that session's locks there).
"""

from __future__ import annotations

import copy
import itertools
import re
import secrets
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import paramiko
from lxml import etree
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

__all__ = ["BASE_1_0", "BASE_1_1", "NC_NS", "NetconfServer", "Session", "rpc_error", "subtree_filter"]

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"
EOM = b"]]>]]>"
_CHUNK = re.compile(rb"\n#([1-9][0-9]*)\n")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def rpc_error(
    message: str,
    *,
    tag: str = "operation-failed",
    error_type: str = "protocol",
    severity: str = "error",
    extra: str = "",
) -> str:
    """One ``<rpc-error>`` element (RFC 6241 section 4.3); ``extra`` is raw XML put after the message."""
    return (
        f"<rpc-error><error-type>{error_type}</error-type><error-tag>{tag}</error-tag>"
        f"<error-severity>{severity}</error-severity><error-message>{escape(message)}</error-message>"
        f"{extra}</rpc-error>"
    )


@dataclass
class Session:
    """One NETCONF session (one SSH connection)."""

    id: int
    username: str
    base11: bool = False
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Session, Any], str]


class _Auth(paramiko.ServerInterface):
    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password
        self.user = ""
        self.subsystem = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        ok = secrets.compare_digest(username, self._username) and secrets.compare_digest(
            password, self._password
        )
        if ok:
            self.user = username
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "netconf":
            return False
        self.subsystem.set()
        return True


class _Framer:
    """Splits what the client sends into messages, in 1.0 (``]]>]]>``) or 1.1 (chunked) framing."""

    def __init__(self) -> None:
        self.buf = b""
        self.chunked = False
        self._parts: list[bytes] = []

    def messages(self) -> list[bytes]:
        out: list[bytes] = []
        while True:
            if not self.chunked:
                msg, sep, rest = self.buf.partition(EOM)
                if not sep:
                    return out
                self.buf = rest
                out.append(msg)
                continue
            if self.buf.startswith(b"\n##\n"):
                self.buf = self.buf[4:]
                out.append(b"".join(self._parts))
                self._parts = []
                continue
            match = _CHUNK.match(self.buf)
            if match is None:
                if len(self.buf) > 16 and not self.buf.startswith(b"\n#"):
                    raise ValueError("bad chunked framing")
                return out
            size = int(match.group(1))
            end = match.end() + size
            if len(self.buf) < end:
                return out
            self._parts.append(self.buf[match.end() : end])
            self.buf = self.buf[end:]


class NetconfServer:
    """Listens on 127.0.0.1 (ephemeral port); one thread per connection."""

    def __init__(
        self,
        handler: Handler,
        *,
        username: str,
        password: str,
        capabilities: Sequence[str],
        reply_namespaces: Mapping[str, str] | None = None,
        on_close: Callable[[Session], None] | None = None,
        first_session_id: int = 1000,
    ) -> None:
        self.handler = handler
        self.username = username
        self.password = password
        self.capabilities = list(capabilities)
        self.reply_namespaces = dict(reply_namespaces or {})
        self.on_close = on_close
        self._ids = itertools.count(first_session_id)
        self._host_key = paramiko.ECDSAKey.generate()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._transports: list[paramiko.Transport] = []
        self.sessions: list[Session] = []
        """Every session opened so far (what each negotiated is in it)."""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name=f"netconf-{self.port}", daemon=True)
        self._thread.start()

    # -- lifecycle ----------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop accepting, close every session (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        with self._lock:
            transports = list(self._transports)
        for transport in transports:
            transport.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    # -- one connection -----------------------------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transport.add_server_key(self._host_key)
        with self._lock:
            self._transports.append(transport)
        auth = _Auth(self.username, self.password)
        session: Session | None = None
        try:
            transport.start_server(server=auth)
            chan = transport.accept(timeout=20)
            if chan is None or not auth.subsystem.wait(timeout=20):
                return
            session = Session(id=next(self._ids), username=auth.user)
            with self._lock:
                self.sessions.append(session)
            self._run(chan, session)
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            if session is not None and self.on_close is not None:
                self.on_close(session)
            transport.close()
            with self._lock:
                self._transports.remove(transport)

    def _run(self, chan: paramiko.Channel, session: Session) -> None:
        caps = "".join(f"<capability>{escape(cap)}</capability>" for cap in self.capabilities)
        hello = (
            f'<hello xmlns="{NC_NS}"><capabilities>{caps}</capabilities>'
            f"<session-id>{session.id}</session-id></hello>"
        )
        chan.sendall(hello.encode() + EOM)
        framer = _Framer()
        chan.settimeout(0.2)
        got_hello = False
        while not self._stop.is_set():
            try:
                data = chan.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            framer.buf += data
            for raw in framer.messages():
                if not got_hello:
                    got_hello = True
                    client_caps = _capabilities(raw)
                    session.base11 = BASE_1_1 in client_caps and BASE_1_1 in self.capabilities
                    framer.chunked = session.base11
                    continue
                if not self._dispatch(chan, session, raw):
                    return

    def _dispatch(self, chan: paramiko.Channel, session: Session, raw: bytes) -> bool:
        """Answer one message; False once the session must end."""
        try:
            root = etree.fromstring(raw.strip(), _PARSER)
        except etree.XMLSyntaxError:
            self._send(
                chan, session, "", rpc_error("malformed message", tag="malformed-message", error_type="rpc")
            )
            return True
        message_id = root.get("message-id", "")
        operation = next(iter(root), None) if etree.QName(root).localname == "rpc" else None
        if operation is None:
            body = rpc_error("expected an <rpc> with one operation", tag="missing-element", error_type="rpc")
            self._send(chan, session, message_id, body)
            return True
        if etree.QName(operation).localname == "close-session":
            self._send(chan, session, message_id, "<ok/>")
            return False
        try:
            body = self.handler(session, operation)
        except Exception as exc:  # noqa: BLE001 - a double's bug must reach the client, not kill the thread
            body = rpc_error(f"double: {type(exc).__name__}: {exc}", error_type="application")
        self._send(chan, session, message_id, body)
        return True

    def _send(self, chan: paramiko.Channel, session: Session, message_id: str, body: str) -> None:
        namespaces = "".join(
            f" xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in self.reply_namespaces.items()
        )
        reply = (
            f'<rpc-reply xmlns="{NC_NS}"{namespaces} message-id={quoteattr(message_id)}>{body}</rpc-reply>'
        )
        data = reply.encode()
        if session.base11:
            chan.sendall(b"\n#%d\n" % len(data) + data + b"\n##\n")
        else:
            chan.sendall(data + EOM)


def _capabilities(raw: bytes) -> set[str]:
    try:
        root = etree.fromstring(raw.strip(), _PARSER)
    except etree.XMLSyntaxError:
        return set()
    return {(el.text or "").strip() for el in root.iter() if etree.QName(el).localname == "capability"}


def subtree_filter(data: Any, filters: Sequence[Any]) -> list[Any]:
    """RFC 6241 section 6 subtree filtering of the children of ``data`` by the filter elements ``filters``.

    A filter element matches a data element of the same namespace and name. A filter leaf with text is a
    content-match node (the data must have that text); the content-match children of a filter element
    select which data siblings match; a filter element without element children (a selection node) selects
    the whole subtree; otherwise only the selected descendants are kept, content-match nodes included.
    """
    out: list[Any] = []
    for data_child in data:
        for filt in filters:
            if data_child.tag != filt.tag:
                continue
            kept = _filter_one(data_child, filt)
            if kept is not None:
                out.append(kept)
                break
    return out


def _filter_one(data: Any, filt: Any) -> Any | None:
    children = list(filt)
    if not children:
        text = (filt.text or "").strip()
        if text and (data.text or "").strip() != text:
            return None
        return copy.deepcopy(data)
    matches = [c for c in children if len(c) == 0 and (c.text or "").strip()]
    for match in matches:
        found = [d for d in data if d.tag == match.tag and (d.text or "").strip() == match.text.strip()]
        if not found:
            return None
    others = [c for c in children if c not in matches]
    kept = etree.Element(data.tag, nsmap=data.nsmap)
    for d in data:
        if any(d.tag == m.tag for m in matches):
            kept.append(copy.deepcopy(d))
    if not others:
        return copy.deepcopy(data)
    for piece in subtree_filter(data, others):
        kept.append(piece)
    return kept
