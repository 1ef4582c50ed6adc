"""A small SSH server for CLI device doubles: an interactive shell and an SCP sink, on 127.0.0.1.

Built on paramiko's server side (``paramiko.ServerInterface`` / ``paramiko.Transport``, see
https://docs.paramiko.org/en/stable/api/server.html): password authentication against the credentials the
double generated, a host key generated when the server starts, one thread per connection.

* ``shell`` channels (what netmiko's ``invoke_shell`` opens, after a ``pty`` request) are driven by a
  ``CliShell`` the vendor double provides: the server echoes each line the client sends (as a terminal does;
  netmiko's ``send_command`` waits for that echo before it reads the output, see ``command_echo_read`` in
  netmiko/base_connection.py), then writes the shell's answer and its next prompt, with ``\\r\\n`` line ends.
* ``exec`` channels run ``scp -t <path>`` (the sink side of the SCP protocol the ``scp`` package drives for
  netmiko's ``FileTransfer``: the server acknowledges with a NUL byte, reads ``C<mode> <size> <name>``, the
  file's bytes and a NUL, and acknowledges each step; an error is ``\\x01`` and a message). The double's
  ``ScpSink`` decides where the bytes go (its flash, kept in memory).
"""

from __future__ import annotations

import contextlib
import re
import shlex
import socket
import threading
from collections.abc import Callable
from typing import Protocol

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

__all__ = ["CliShell", "ScpSink", "SshCliServer"]


class CliShell(Protocol):
    """One interactive CLI session (one per shell channel)."""

    def greeting(self) -> str:
        """What the device prints when the session opens (ends with the first prompt)."""

    def prompt(self) -> str:
        """The prompt after the last command (``r1#``, ``r1(config)#``...)."""

    def handle(self, line: str) -> str | None:
        """Run one line; its output without the prompt, or ``None`` to end the session."""


class ScpSink(Protocol):
    def __call__(self, path: str, name: str, data: bytes) -> str | None:
        """Store an uploaded file; ``None`` when stored, else the error message the client sees."""


ShellFactory = Callable[[str], CliShell]
"""Make the shell of a session for the user who logged in."""


class _Server(paramiko.ServerInterface):
    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.user = ""
        self.requests: dict[int, tuple[str, str]] = {}
        self.ready = threading.Condition()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        if username == self.username and password == self.password:
            self.user = username
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args: object) -> bool:
        return True

    def check_channel_window_change_request(self, *args: object) -> bool:
        return True

    def _request(self, channel: paramiko.Channel, kind: str, command: str) -> bool:
        with self.ready:
            self.requests[channel.get_id()] = (kind, command)
            self.ready.notify_all()
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        return self._request(channel, "shell", "")

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        return self._request(channel, "exec", command.decode("utf-8", "replace"))

    def wait_request(self, channel: paramiko.Channel, timeout: float) -> tuple[str, str] | None:
        with self.ready:
            self.ready.wait_for(lambda: channel.get_id() in self.requests, timeout)
            return self.requests.pop(channel.get_id(), None)


class SshCliServer:
    """Listen on 127.0.0.1 (ephemeral port); run a shell or an SCP sink per channel."""

    def __init__(self, username: str, password: str, shell: ShellFactory, scp_sink: ScpSink) -> None:
        self.username = username
        self.password = password
        self._shell = shell
        self._scp_sink = scp_sink
        self._host_key = paramiko.RSAKey.generate(2048)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port: int = self._sock.getsockname()[1]
        self._stopped = threading.Event()
        self._transports: list[paramiko.Transport] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name=f"ssh-double-{self.port}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ connections
    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        transport = paramiko.Transport(client)
        with self._lock:
            if self._stopped.is_set():
                client.close()
                return
            self._transports.append(transport)
        transport.add_server_key(self._host_key)
        server = _Server(self.username, self.password)
        try:
            transport.start_server(server=server)
        except (paramiko.SSHException, EOFError, OSError):
            transport.close()
            return
        while transport.is_active() and not self._stopped.is_set():
            channel = transport.accept(timeout=0.5)
            if channel is None:
                continue
            request = server.wait_request(channel, timeout=10)
            if request is None:
                channel.close()
                continue
            kind, command = request
            target = self._run_shell if kind == "shell" else self._run_exec
            threading.Thread(target=target, args=(channel, server.user, command), daemon=True).start()

    def stop(self) -> None:
        """Stop accepting, then close every session. The accept thread is woken (``shutdown`` of the listening
        socket: on Linux ``close`` alone leaves a blocked ``accept`` waiting) and joined before the socket is
        closed, so it can never take a connection meant for a server started after this one."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._sock.close()
        with self._lock:
            transports, self._transports = self._transports, []
        for transport in transports:
            transport.close()

    # ------------------------------------------------------------------ shell
    def _run_shell(self, channel: paramiko.Channel, user: str, _command: str) -> None:
        shell = self._shell(user)
        try:
            channel.sendall(_crlf(shell.greeting()).encode())
            pending = ""
            skip_lf = False
            while True:
                data = channel.recv(4096)
                if not data:
                    return
                for char in data.decode("utf-8", "replace"):
                    if char == "\n" and skip_lf:
                        skip_lf = False
                        continue
                    skip_lf = char == "\r"
                    if char in "\r\n":
                        line, pending = pending, ""
                        output = shell.handle(line)
                        if output is None:
                            channel.sendall(f"{line}\r\n".encode())
                            return
                        body = f"{_crlf(output)}\r\n" if output else ""
                        channel.sendall(f"{line}\r\n{body}{shell.prompt()}".encode())
                    elif char != "\x00":
                        pending += char
        except (OSError, EOFError, paramiko.SSHException):
            return
        finally:
            _close(channel)

    # ------------------------------------------------------------------ scp
    def _run_exec(self, channel: paramiko.Channel, _user: str, command: str) -> None:
        try:
            words = shlex.split(command)
            if len(words) < 3 or words[0] != "scp" or "-t" not in words[1:-1]:
                channel.sendall_stderr(f"% Invalid input: {command}\n".encode())
                channel.send_exit_status(1)
                return
            self._scp_receive(channel, words[-1])
        except (OSError, EOFError, ValueError, paramiko.SSHException):
            return
        finally:
            _close(channel)

    def _scp_receive(self, channel: paramiko.Channel, path: str) -> None:
        channel.sendall(b"\x00")
        while True:
            header = _read_line(channel)
            if header is None or header.startswith(b"E"):
                channel.send_exit_status(0)
                return
            if header.startswith(b"T"):
                channel.sendall(b"\x00")
                continue
            match = re.match(rb"C[0-7]{4} (\d+) (.+)", header)
            if not match:
                channel.sendall(b"\x01scp: protocol error\n")
                channel.send_exit_status(1)
                return
            size, name = int(match.group(1)), match.group(2).decode()
            channel.sendall(b"\x00")
            data = b""
            while len(data) < size + 1:
                chunk = channel.recv(min(32768, size + 1 - len(data)))
                if not chunk:
                    return
                data += chunk
            error = self._scp_sink(path, name, data[:size])
            if error is not None:
                channel.sendall(b"\x01" + error.encode() + b"\n")
                channel.send_exit_status(1)
                return
            channel.sendall(b"\x00")


def _close(channel: paramiko.Channel) -> None:
    """Close a channel whose client may already be gone."""
    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        channel.close()


def _read_line(channel: paramiko.Channel) -> bytes | None:
    line = b""
    while not line.endswith(b"\n"):
        char = channel.recv(1)
        if not char:
            return line or None
        line += char
    return line[:-1]


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")
