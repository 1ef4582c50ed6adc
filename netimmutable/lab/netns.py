"""Linux network namespaces, veth links and the processes the lab starts in them.

Everything here shells out to iproute2, util-linux (``unshare``, ``nsenter``) and friends; nothing is
done in the caller's own namespaces except the one management veth end. Every process the lab starts is
recorded as a ``Tracked`` pid together with the inode of the network namespace it lives in, so teardown
never signals a pid the kernel has since given to someone else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from netimmutable.errors import LabError

__all__ = [
    "NETNS_DIR",
    "Tracked",
    "add_netns",
    "alive",
    "delete_netns",
    "list_netns",
    "netns_inode",
    "netns_pids",
    "nsenter",
    "run",
    "spawn_holder",
    "stop_tracked",
    "wait_pid_file",
]

NETNS_DIR = Path("/run/netns")
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Holders started by this process, kept so they are reaped (no zombies, no ResourceWarning) at teardown."""


@dataclass(frozen=True, slots=True)
class Tracked:
    """A process the lab started: its pid and the inode of its network namespace when it was started."""

    pid: int
    netns_inode: int
    what: str


def run(
    args: Sequence[str], *, check: bool = True, timeout: float = 30.0, input_text: str | None = None
) -> str:
    """Run a command; on failure raise ``LabError`` with its output. Returns stdout."""
    try:
        proc = subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, check=False, input=input_text
        )
    except FileNotFoundError as exc:
        raise LabError(f"command not found: {args[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"command timed out after {timeout:.0f} s: {' '.join(args)}") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise LabError(f"`{' '.join(args)}` failed (exit {proc.returncode}): {detail}")
    return proc.stdout


def list_netns() -> tuple[str, ...]:
    if not NETNS_DIR.is_dir():
        return ()
    return tuple(sorted(p.name for p in NETNS_DIR.iterdir()))


def netns_inode(name: str) -> int:
    return (NETNS_DIR / name).stat().st_ino


def add_netns(name: str) -> int:
    """Create a namespace with its loopback up; returns its inode."""
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    return netns_inode(name)


def delete_netns(name: str) -> None:
    if name in list_netns():
        run(["ip", "netns", "del", name])


def netns_pids(name: str) -> tuple[int, ...]:
    """Pids of the processes living in namespace ``name`` (all of them were started by the lab)."""
    if name not in list_netns():
        return ()
    out = run(["ip", "netns", "pids", name], check=False)
    return tuple(int(tok) for tok in out.split() if tok.isdigit())


def wait_pid_file(
    path: Path, *, what: str, timeout: float, log: Path | None = None, host: str | None = None
) -> int:
    """The pid a daemon wrote to ``path``, once the file holds a number and that process runs.

    Daemons create their pid file before they write it (and may write it after they fork), so a file that
    exists can still be empty for a moment: poll until it is complete, for at most ``timeout`` seconds,
    then raise a ``LabError`` that says what did not start and where its log is.
    """
    deadline = time.monotonic() + timeout
    text = ""
    while True:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            text = ""
        if text.isdigit() and Path(f"/proc/{text}").exists():
            return int(text)
        if time.monotonic() > deadline:
            seen = f"it holds {text!r}" if text else "it is missing or empty"
            where = f"; see {log}" if log is not None else ""
            raise LabError(f"{what} did not start within {timeout:.0f} s ({path}: {seen}){where}", host=host)
        time.sleep(0.02)


def _pid_netns_inode(pid: int) -> int | None:
    try:
        return Path(f"/proc/{pid}/ns/net").stat().st_ino
    except OSError:  # gone, or a zombie without namespaces
        return None


def alive(proc: Tracked) -> bool:
    """True while ``proc`` still runs in the namespace it was started in (pid reuse safe)."""
    return _pid_netns_inode(proc.pid) == proc.netns_inode


def _zombie(pid: int) -> bool:
    """True while ``pid`` is a process that has exited but was not reaped by its parent yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")


def _gone(proc: Tracked) -> bool:
    """True once ``proc`` neither runs nor waits to be reaped. A daemon that forked away is reaped by init
    (or the nearest subreaper), which may take a moment after it exits."""
    return not alive(proc) and not _zombie(proc.pid)


def spawn_holder(netns: str, log: Path) -> int:
    """Start a process that owns a fresh mount+UTS namespace inside ``netns`` and just sleeps.

    ``ip netns exec`` and ``unshare`` both exec, so the returned pid is the sleeping process itself:
    ``nsenter -t PID -n -m -u`` then runs anything in that router's namespaces.
    """
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                netns,
                "unshare",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "--",
                "sleep",
                "infinity",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    # wait until the exec chain reached `sleep` inside its own mount namespace
    deadline = time.monotonic() + 5.0
    host_mnt = Path("/proc/self/ns/mnt").stat().st_ino
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"namespace holder for {netns} exited with {proc.returncode}; see {log}")
        try:
            mnt = Path(f"/proc/{proc.pid}/ns/mnt").stat().st_ino
            exe = str(Path(f"/proc/{proc.pid}/exe").readlink())
        except FileNotFoundError:
            mnt, exe = host_mnt, ""
        if mnt != host_mnt and exe.endswith("sleep"):
            _CHILDREN[proc.pid] = proc
            return proc.pid
        time.sleep(0.01)
    raise LabError(f"namespace holder for {netns} did not start within 5 s; see {log}")


def nsenter(
    pid: int, args: Sequence[str], *, check: bool = True, timeout: float = 60.0, input_text: str | None = None
) -> str:
    """Run a command in the network, mount and UTS namespaces of ``pid``."""
    return run(
        ["nsenter", "-t", str(pid), "-n", "-m", "-u", "--", *args],
        check=check,
        timeout=timeout,
        input_text=input_text,
    )


def stop_tracked(procs: Iterable[Tracked], *, grace: float = 3.0, reap_timeout: float = 30.0) -> None:
    """SIGTERM each still-alive tracked process, SIGKILL what is left after ``grace`` seconds, then wait
    (at most ``reap_timeout`` seconds) until every one of them is reaped: on return none is left, not even as
    a zombie, or a ``LabError`` names the ones that are."""
    procs = list(procs)
    pending = [p for p in procs if alive(p)]
    for proc in pending:
        _signal(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if alive(p)]
        time.sleep(0.05)
    for proc in pending:
        _signal(proc, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if alive(p)]
        time.sleep(0.05)
    if pending:
        raise LabError("processes did not stop: " + ", ".join(f"{p.what} (pid {p.pid})" for p in pending))
    for proc in procs:
        child = _CHILDREN.pop(proc.pid, None)
        if child is not None:
            child.wait(timeout=grace)  # ours: reap it now
    unreaped = [p for p in procs if not _gone(p)]
    deadline = time.monotonic() + reap_timeout
    while unreaped and time.monotonic() < deadline:
        time.sleep(0.05)
        unreaped = [p for p in unreaped if not _gone(p)]
    if unreaped:
        raise LabError(
            f"processes stopped but were not reaped by their parent within {reap_timeout:.0f} s: "
            + ", ".join(f"{p.what} (pid {p.pid})" for p in unreaped),
            hint="their parent (usually init) is not collecting exited children: `ps -o ppid= -p PID`",
        )


def _signal(proc: Tracked, sig: signal.Signals) -> None:
    if not alive(proc):
        return
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        return
