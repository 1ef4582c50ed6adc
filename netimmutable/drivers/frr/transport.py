"""SSH transport of the frr driver: run shell commands and write files on the router, with verified host keys.

Host keys are always verified: against ``known_hosts`` when given, else the user's ``~/.ssh/known_hosts``;
an unknown or changed key refuses the connection (paramiko ``RejectPolicy``).
"""

from __future__ import annotations

import shlex
import socket
from dataclasses import dataclass
from pathlib import Path

import paramiko
from napalm.base.exceptions import CommandErrorException, ConnectionException

__all__ = ["CommandResult", "SshOptions", "SshTransport"]


@dataclass(frozen=True, slots=True)
class SshOptions:
    hostname: str
    username: str
    password: str | None
    port: int = 22
    timeout: float = 60.0
    key_file: str | None = None
    known_hosts: str | None = None


@dataclass(frozen=True, slots=True)
class CommandResult:
    command: str
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def output(self) -> str:
        """stdout and stderr together, as a person reads the device's answer."""
        return "\n".join(part for part in (self.stdout.rstrip("\n"), self.stderr.rstrip("\n")) if part)


class SshTransport:
    """One SSH connection to a router; every call opens a fresh exec channel on it."""

    def __init__(self, options: SshOptions) -> None:
        self.options = options
        self._client: paramiko.SSHClient | None = None

    def open(self) -> None:
        opts = self.options
        client = paramiko.SSHClient()
        try:
            if opts.known_hosts:
                client.load_host_keys(str(Path(opts.known_hosts).expanduser()))
            else:
                client.load_system_host_keys()
        except OSError as exc:
            raise ConnectionException(f"{opts.hostname}: cannot read known_hosts: {exc}") from exc
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                opts.hostname,
                port=opts.port,
                username=opts.username,
                password=opts.password or None,
                key_filename=str(Path(opts.key_file).expanduser()) if opts.key_file else None,
                timeout=opts.timeout,
                banner_timeout=opts.timeout,
                auth_timeout=opts.timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except (paramiko.SSHException, OSError) as exc:
            client.close()
            raise ConnectionException(
                f"cannot connect to {opts.username}@{opts.hostname}:{opts.port}: {type(exc).__name__}: {exc}"
            ) from exc
        transport = client.get_transport()
        if transport is not None and isinstance(transport.sock, socket.socket):
            # Every call is a short request/answer exchange on its own channel: without TCP_NODELAY, Nagle's
            # algorithm holds the exec request back until the router's delayed ACK (~40 ms per call).
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    @property
    def is_alive(self) -> bool:
        transport = self._client.get_transport() if self._client else None
        return bool(transport and transport.is_active())

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CommandResult:
        """Run ``command`` in the router's shell; the exit status is returned, not raised."""
        if self._client is None or not self.is_alive:
            raise ConnectionException(f"{self.options.hostname}: not connected (call open() first)")
        try:
            chan_in, chan_out, chan_err = self._client.exec_command(
                command, timeout=timeout or self.options.timeout
            )
            if stdin is not None:
                chan_in.write(stdin)
            chan_in.channel.shutdown_write()
            out = chan_out.read().decode("utf-8", errors="replace")
            err = chan_err.read().decode("utf-8", errors="replace")
            status = chan_out.channel.recv_exit_status()
        except (TimeoutError, paramiko.SSHException, OSError) as exc:
            raise ConnectionException(
                f"{self.options.hostname}: SSH failed running {command!r}: {exc}"
            ) from exc
        return CommandResult(command, status, out, err)

    def check(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CommandResult:
        """Like ``run`` but a non-zero exit status raises ``CommandErrorException`` with the device's text."""
        result = self.run(command, stdin=stdin, timeout=timeout)
        if not result.ok:
            raise CommandErrorException(
                f"{self.options.hostname}: `{command}` exited {result.exit_status}: {result.output}"
            )
        return result

    def write_file(self, path: str, text: str) -> None:
        """Write ``text`` to ``path`` on the router (mode 0600), atomically via a temporary file."""
        quoted, tmp = shlex.quote(path), shlex.quote(path + ".tmp")
        self.check(f"umask 077 && cat > {tmp} && mv -f {tmp} {quoted}", stdin=text)

    def read_file(self, path: str) -> str:
        return self.check(f"cat {shlex.quote(path)}").stdout
