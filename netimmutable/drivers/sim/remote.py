"""The ``sim`` driver's client side of a sim device server (``optional_args: {server: "HOST:PORT"}``).

One TCP connection per device session: ``open`` connects and opens the device on the server, every device
call is one request and its response (``netimmutable.drivers.sim.wire``), ``close`` ends both. The server
answers each call when the device's latency says, so the waiting happens here in ``recv``, not in a sleep.

Errors come back as NAPALM's own exception classes (by name), so netimmutable's device boundary sees what
it would see in process; a lost connection is ``ConnectionClosedException`` (``ConnectionException`` while
opening), anything else the server reports is ``SimServerError``.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from pathlib import Path
from typing import Any

from napalm.base import exceptions as napalm_exc

from netimmutable.drivers.sim.wire import HEADER, WireError, decode, encode, frame, frame_size, parse_frame

__all__ = ["RemoteSession", "SimServerError", "parse_address"]

_CHUNK = 1 << 16

_BUILTIN_ERRORS: dict[str, type[Exception]] = {
    "NotImplementedError": NotImplementedError,
    "TypeError": TypeError,
    "ValueError": ValueError,
}


class SimServerError(napalm_exc.NapalmException):  # type: ignore[misc]
    """The sim server refused a request or failed inside it (its message says which and why)."""


def parse_address(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` as a pair; raises ``ValueError`` naming what is wrong.

    Examples:
        >>> parse_address("127.0.0.1:7001")
        ('127.0.0.1', 7001)
        >>> parse_address("[::1]:7001")
        ('::1', 7001)
    """
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"sim server address must be HOST:PORT (e.g. 127.0.0.1:7001); got {text!r}")
    return host, int(port)


def _family_of(host: str) -> socket.AddressFamily | None:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return None  # a name: resolved by create_connection


def _error(name: str, message: str) -> Exception:
    cls = getattr(napalm_exc, name, None)
    if isinstance(cls, type) and issubclass(cls, napalm_exc.NapalmException):
        error: Exception = cls(message)
        return error
    if name in _BUILTIN_ERRORS:
        return _BUILTIN_ERRORS[name](message)
    return SimServerError(f"sim server: {name}: {message}")


class RemoteSession:
    """One device session on a sim server."""

    def __init__(self, host: str, address: str, timeout: float) -> None:
        self.host = host
        self.address = parse_address(address)
        self.timeout = float(timeout) if timeout else None
        self._sock: socket.socket | None = None
        self._family = _family_of(self.address[0])
        self.alive = False

    def _connect(self) -> socket.socket:
        try:
            if self._family is None:
                sock = socket.create_connection(self.address, timeout=self.timeout)
            else:  # an address literal: no name lookup per session
                sock = socket.socket(self._family, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.timeout)
                    sock.connect(self.address)
                except OSError:
                    sock.close()
                    raise
        except OSError as exc:
            where = f"{self.address[0]}:{self.address[1]}"
            raise napalm_exc.ConnectionException(
                f"{self.host}: cannot reach the sim server at {where}: {exc}"
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.timeout:  # a blocking socket with kernel timeouts: no poll() before every recv
            sock.settimeout(None)
            seconds = int(self.timeout)
            limit = struct.pack("ll", seconds, int((self.timeout - seconds) * 1e6))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        return sock

    def _read_frame(self, sock: socket.socket) -> bytes:
        """One response frame's body (usually one ``recv``: header and body arrive together)."""
        data = sock.recv(_CHUNK)
        while len(data) < HEADER.size:
            data += self._more(sock)
        end = HEADER.size + frame_size(data[: HEADER.size])
        while len(data) < end:
            data += self._more(sock)
        if len(data) > end:
            raise WireError("the sim server sent more than one answer to one request")
        return data[HEADER.size :]

    @staticmethod
    def _more(sock: socket.socket) -> bytes:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            raise ConnectionError("the sim server closed the connection")
        return chunk

    def _exchange(self, request: dict[str, Any], lost: type[Exception]) -> Any:
        sock = self._sock
        if sock is None:
            raise napalm_exc.ConnectionClosedException(f"{self.host}: not connected (call open() first)")
        try:
            sock.sendall(frame(request))
            reply = parse_frame(self._read_frame(sock))
        except (OSError, WireError) as exc:
            self._drop()
            raise lost(f"{self.host}: connection to the sim server lost: {exc}") from exc
        if reply.get("ok") is True:
            return decode(reply.get("result"))
        error = reply.get("error")
        if not isinstance(error, dict):
            raise SimServerError(
                f"{self.host}: the sim server answered neither a result nor an error: {reply}"
            )
        raise _error(str(error.get("type", "SimServerError")), str(error.get("message", "")))

    def _drop(self) -> None:
        self.alive = False
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def open(self) -> None:
        self._drop()
        self._sock = self._connect()
        try:
            self._exchange({"op": "open", "host": self.host}, napalm_exc.ConnectionException)
        except Exception:
            self._drop()
            raise
        self.alive = True

    def call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call ``method`` of the session's device on the server (``open`` for ``open``)."""
        if method == "open":
            self.open()
            return None
        if method in ("load_replace_candidate", "load_merge_candidate"):
            args, kwargs = (), _load_arguments(args, kwargs)
        request = {"op": "call", "method": method, "args": encode(list(args)), "kwargs": encode(kwargs)}
        try:
            return self._exchange(request, napalm_exc.ConnectionClosedException)
        except napalm_exc.ConnectionClosedException:
            self.alive = False  # the device dropped the session (or the server went away)
            raise

    def close(self) -> None:
        """End the session: the server ends it when the connection closes (no request needed)."""
        self._drop()


def _load_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A load's ``filename`` is read here (the server sees another disk); only ``config`` is sent."""
    named = dict(zip(("filename", "config"), args, strict=False)) | kwargs
    config, filename = named.get("config"), named.get("filename")
    if config is None and filename is not None:
        config = Path(filename).read_text(encoding="utf-8")
    return {} if config is None else {"config": config}
