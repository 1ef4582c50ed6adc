"""A sim device server: many simulated devices answering on one TCP port, outside netimmutable's process.

``python -m netimmutable.lab.sim_server --lab DIR`` serves every device of the sim lab folder ``DIR`` (the
folder ``SimLab`` and ``lab up --sim`` write, so one fleet works in process and through a server alike). A
``sim`` connection whose ``optional_args`` has ``server: "127.0.0.1:PORT"`` talks to it (see
``netimmutable.drivers.sim.remote``; the wire format is ``netimmutable.drivers.sim.wire``).

Each connection is one device session, run by the ``sim`` driver's own code on the server: the same state
files, knobs (latency, commit latency, injected faults, unreachable), revert deadlines and BGP derivation.
The latency of a call is honoured without blocking: the server does the call's work, then answers at
``request time + latency`` (``asyncio``), so one process serves thousands of sessions waiting in parallel.
Counters (``stats`` request, and printed at exit): calls, device seconds (the latency answered), sessions,
the server's CPU, and how late answers went out past their due time (the server's own backlog: when that
grows, start more servers).

No authentication: it binds to 127.0.0.1 unless told otherwise; expose it only on a network you trust.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from netimmutable.drivers.sim.driver import SimDriver
from netimmutable.drivers.sim.state import LabStore, valid_host
from netimmutable.drivers.sim.wire import HEADER, WireError, decode, encode, frame, frame_size, parse_frame

__all__ = ["ServerStats", "SimServer", "SpawnedServer", "main", "spawn"]

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent.parent
_EXAMPLES = """
examples:
  python -m netimmutable.lab.sim_server --lab .netimmutable/lab/sim --port 7001
  python -m netimmutable.lab.sim_server --lab /tmp/fleet/.netimmutable/lab/sim --port 0 --port-file port.txt

then, in .netimmutable/connections.yaml:
  hosts:
    r1: {driver: sim, optional_args: {server: "127.0.0.1:7001"}}
"""


@dataclass
class ServerStats:
    """What the server did since it started (the ``stats`` request returns these)."""

    calls: int = 0
    """Device calls answered (``open`` included, as in process), whatever their outcome."""
    device_seconds: float = 0.0
    """Sum of the latency the calls were answered with: the device time of the model."""
    sessions: int = 0
    open_sessions: int = 0
    errors: int = 0
    """Requests answered with an error (device errors and bad requests)."""
    late_max_s: float = 0.0
    late_sum_s: float = 0.0
    """How far past its due time an answer went out (the server's own backlog)."""
    cpu_s: float = 0.0


class _Served(SimDriver):
    """The ``sim`` driver as the server runs it: the answer time is recorded, not slept for."""

    def __init__(self, hostname: str, lab: LabStore) -> None:
        super().__init__(hostname, optional_args={"lab_dir": str(lab.root)})
        self._lab = lab  # one cached lab for every session of the server
        self.due = 0.0
        self.latency = 0.0

    def _answer(self, seconds: float, started: float) -> None:
        self.due, self.latency = started + seconds, seconds


def _device_methods() -> frozenset[str]:
    return frozenset(
        name for name in dir(SimDriver) if getattr(getattr(SimDriver, name), "sim_device_call", False)
    )


class _BadRequest(Exception):
    pass


class SimServer:
    """Serves the devices of one sim lab folder (see the module docstring)."""

    def __init__(self, lab_dir: Path) -> None:
        self.lab = LabStore(Path(lab_dir).absolute(), cache=True)
        if not self.lab.exists:
            raise ValueError(f"{self.lab.root} is not a sim lab folder (no {self.lab.root}/.sim-lab marker)")
        self.stats = ServerStats()
        self.methods = _device_methods() - {"open"}

    def snapshot(self) -> dict[str, Any]:
        self.stats.cpu_s = time.process_time()
        return asdict(self.stats)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: requests in order, each answered once; the session ends with the connection."""
        session: _Served | None = None
        try:
            while True:
                try:
                    header = await reader.readexactly(HEADER.size)
                    request = parse_frame(await reader.readexactly(frame_size(header)))
                except asyncio.IncompleteReadError:
                    return  # the client went away (between requests or in the middle of one)
                except WireError as exc:  # the stream cannot be resynchronized: answer, then hang up
                    self.stats.errors += 1
                    writer.write(frame(_failure("ProtocolError", str(exc))))
                    await writer.drain()
                    return
                reply, session = self._serve(request, session)
                if session is not None and session.due:
                    late = time.monotonic() - session.due
                    if late < 0:
                        await asyncio.sleep(-late)
                    else:
                        self.stats.late_max_s = max(self.stats.late_max_s, late)
                        self.stats.late_sum_s += late
                    session.due = 0.0
                writer.write(frame(reply))
                await writer.drain()
        except (ConnectionError, OSError):
            return  # the client reset the connection; its session ends below
        finally:
            if session is not None:
                session.close()
                self.stats.open_sessions -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _serve(
        self, request: dict[str, Any], session: _Served | None
    ) -> tuple[dict[str, Any], _Served | None]:
        try:
            return self._dispatch(request, session)
        except _BadRequest as exc:
            self.stats.errors += 1
            return _failure("BadRequest", str(exc)), session

    def _dispatch(
        self, request: dict[str, Any], session: _Served | None
    ) -> tuple[dict[str, Any], _Served | None]:
        op = request.get("op")
        if op == "stats":
            return {"ok": True, "result": self.snapshot()}, session
        if op == "open":
            if session is not None:
                raise _BadRequest(f"this connection already has a session with {session.hostname}")
            host = request.get("host")
            try:
                name = valid_host(host) if isinstance(host, str) else None
            except ValueError as exc:
                raise _BadRequest(str(exc)) from None
            if name is None:
                raise _BadRequest('open needs a host name ("host": "r1")')
            device = _Served(name, self.lab)
            reply = self._run(device, "open", [], {})
            if reply["ok"]:
                self.stats.sessions += 1
                self.stats.open_sessions += 1
                return reply, device
            return reply, None
        if op == "close":
            if session is not None:
                session.close()
                self.stats.open_sessions -= 1
            return {"ok": True, "result": None}, None
        if op != "call":
            raise _BadRequest(f"unknown op {op!r}; known: open, call, close, stats")
        if session is None:
            raise _BadRequest('no session on this connection: send {"op": "open", "host": ...} first')
        method, args, kwargs = request.get("method"), request.get("args", []), request.get("kwargs", {})
        if not isinstance(method, str) or method not in self.methods:
            raise _BadRequest(f"unknown method {method!r}; known: {', '.join(sorted(self.methods))}")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise _BadRequest("args must be a list and kwargs an object")
        return self._run(session, method, decode(args), decode(kwargs)), session

    def _run(self, device: _Served, method: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        device.due = 0.0
        try:
            result = getattr(device, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every device error goes back to the client, by class name
            self.stats.errors += 1
            reply = _failure(type(exc).__name__, str(exc))
        else:
            reply = {"ok": True, "result": encode(result)}
        self.stats.calls += 1
        self.stats.device_seconds += device.latency
        device.latency = 0.0
        return reply


def _failure(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"type": kind, "message": message}}


async def serve(server: SimServer, bind: str, port: int, port_file: Path | None) -> None:
    """Listen until SIGTERM or SIGINT; announce ``listening on HOST:PORT`` (stdout, and ``port_file``)."""
    listener = await asyncio.start_server(server.handle, bind, port, limit=1 << 20, backlog=4096)
    actual = listener.sockets[0].getsockname()[1]
    if port_file is not None:
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(f"{actual}\n", encoding="utf-8")
        tmp.replace(port_file)
    print(f"sim server: listening on {bind}:{actual}, lab {server.lab.root}", flush=True)  # noqa: T201
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with listener:
        await stop.wait()
    print(f"sim server: stopped; {json.dumps(server.snapshot())}", flush=True)  # noqa: T201


class SpawnedServer:
    """A sim server in a child process (``spawn``): its address, its stats, and ``stop`` (by its PID)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.pid = process.pid
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.log = log

    def stats(self) -> dict[str, Any]:
        """The server's counters (``ServerStats``), asked over its own protocol."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(frame({"op": "stats"}))
            body = _recv(sock, frame_size(_recv(sock, HEADER.size)))
        reply = parse_frame(body)
        if reply.get("ok") is not True:
            raise RuntimeError(f"sim server {self.address}: stats refused: {reply}")
        result: dict[str, Any] = reply["result"]
        return result

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` s; returns the exit code."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout)
        return int(self.process.returncode)

    def __enter__(self) -> SpawnedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the sim server closed the connection")
        data += chunk
    return data


def spawn(lab_dir: Path, workdir: Path, *, timeout: float = 60.0, name: str = "sim-server") -> SpawnedServer:
    """Start ``python -m netimmutable.lab.sim_server`` on a free loopback port for ``lab_dir``; returns once
    it listens (its output goes to ``workdir/<name>.log``). The caller stops it (``stop``, or ``with``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port_file, log = workdir / f"{name}.port", workdir / f"{name}.log"
    port_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "netimmutable.lab.sim_server", "--lab", str(lab_dir)]
    command += ["--port-file", str(port_file)]
    env = dict(os.environ)  # the child imports this very package, wherever it was imported from here
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(_PACKAGE_PARENT), env.get("PYTHONPATH"))))
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
            raise RuntimeError(f"sim server did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.02)
    return SpawnedServer(process, int(port_file.read_text().strip()), log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m netimmutable.lab.sim_server",
        description="Serve the simulated devices of a sim lab folder on one TCP port (see the module doc).",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--lab", type=Path, required=True, help="the sim lab folder (holds .sim-lab)")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free port)")
    parser.add_argument("--port-file", type=Path, help="write the port here once listening")
    args = parser.parse_args(argv)
    try:
        server = SimServer(args.lab)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    asyncio.run(serve(server, args.bind, args.port, args.port_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
