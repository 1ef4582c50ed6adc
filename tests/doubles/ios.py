"""A Cisco IOS device double for NAPALM's real ``ios`` driver (netmiko ``cisco_ios`` over SSH, plus SCP).

``start_ios()`` listens on 127.0.0.1 (``tests.doubles.ssh_cli``) and answers every command napalm/ios/ios.py
(napalm 5.2.0) and netmiko 4.8.0 send in the change window:

* session set-up (netmiko ``CiscoIosBase.session_preparation``): ``terminal width 511``,
  ``terminal length 0``, prompt detection on ``r1#``; ``enable``/``disable``; config mode ``r1(config)#``
  for the one-line commands napalm sends there (``file prompt quiet`` / ``no file prompt quiet``).
* files (netmiko ``BaseFileTransfer``, napalm ``_xfer_file``): ``dir`` (file-system autodetection,
  ``Directory of flash:/`` and ``N bytes free``), ``dir flash:/<file>`` (``%Error opening`` when absent),
  ``verify /md5 flash:/<file>``, the SCP sink (refused unless ``ip scp server enable``), ``copy
  running-config flash:/<file>``, ``copy null: flash:/<file>``; the flash is kept in memory.
* ``configure replace flash:/<file> force [revert trigger error] [timer N]`` (Cisco, "Configuration Replace
  and Configuration Rollback": the file replaces the running config; ``revert trigger error`` restores the
  original config when the replace fails; ``timer N`` (minutes, 1-120) reverts to the config archived before
  the replace unless ``configure confirm`` comes first; ``configure revert now`` reverts at once; the
  Rollback Confirmed Change needs the ``archive`` feature (``path``). Feature guide:
  http://www.cisco.com/en/US/docs/ios/12_3t/12_3t7/feature/guide/gtrollbk.html and
  https://www.cisco.com/c/en/us/td/docs/ios-xml/ios/config-mgmt/configuration/xe-3s/asr1000/config-mgmt-xe-3s-asr1000-book/cm-config-rollback.html).
  Without archive the revert options answer ``%Please turn config archive on`` (the text napalm's
  ``commit_config`` looks for). ``show archive`` says ``Archive feature not enabled`` without one and
  ``show archive config rollback timer`` lists ``Time configured`` / ``Timer type`` / ``Timer value`` /
  ``User`` or ``%No Rollback Confirmed Change pending`` (what napalm's ``_get_pending_commits`` parses).
* ``show archive config differences system:running-config flash:/<file>`` (``tests.doubles.ios_config``),
  ``write mem``, ``show running-config [| include X]``, ``show startup-config`` and the getters' ``show``
  commands (``tests.doubles.ios_show``).

Invalid config (the double's rule, ``ios_config.invalid_lines``): a replace whose file has unknown top-level
commands, or no ``version``/``end``, is refused as a whole: the output names the rejected lines and says
``The original configuration has been successfully restored`` (what napalm reads as a failed replace), and
the running config stays as it was.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from tests.doubles import ios_config as cfg
from tests.doubles.base import new_password
from tests.doubles.ios_shell import IosShell
from tests.doubles.ssh_cli import SshCliServer

__all__ = ["IosDouble", "default_baseline", "start_ios"]

FLASH = "flash:"
FLASH_SIZE = 2_142_715_904


def default_baseline(name: str = "r1", peers: Mapping[str, int] | None = None, archive: bool = True) -> str:
    """A small IOSv config as ``show running-config`` shows it; the neighbour's AS is the one in ``peers``."""
    peer, peer_as = next(iter((peers or {"10.0.12.2": 65002}).items()))
    archive_block = "archive\n path flash:archive\n write-memory\n!\n" if archive else ""
    body = f"""!
! Last configuration change at 18:00:00 UTC Wed Dec 2 2026 by admin
!
version 15.9
service timestamps debug datetime msec
service timestamps log datetime msec
service password-encryption
!
hostname {name}
!
boot-start-marker
boot-end-marker
!
{archive_block}enable secret 9 $9$4mN7cLdW1Y9a2k$Jg8nV0pR6hQxT3uE5sZ.yW4bK7fA2dC9eM1oL6iH3vS
!
username admin privilege 15 secret 9 $9$Qk2pV8sN5tR1mX$c7D3fG9hJ2kL5nB8vC1xZ4qW6eR0tY3uI7oP9aS2dF.
!
ip domain name lab.example
ip scp server enable
!
interface GigabitEthernet1
 description to {peer}
 ip address 10.0.12.1 255.255.255.0
!
interface GigabitEthernet2
 ip address 10.0.13.1 255.255.255.0
!
router bgp 65001
 bgp router-id 10.0.13.1
 bgp log-neighbor-changes
 neighbor {peer} remote-as {peer_as}
!
ip forward-protocol nd
!
line vty 0 4
 login local
 transport input ssh
!
end
"""
    return f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n{body}"


def _stamp(when: float) -> str:
    dt = datetime.fromtimestamp(when, UTC)
    return f"{dt:%H:%M:%S} UTC {dt:%a %b} {dt.day} {dt.year}"


@dataclass
class _Pending:
    archived: list[str]
    user: str
    minutes: int
    configured: float
    timer: threading.Timer


class IosDouble:
    """The device state; ``IosShell`` sessions call into it under ``lock``."""

    platform = "ios"
    hostname = "127.0.0.1"
    username = "admin"

    def __init__(
        self,
        name: str = "r1",
        peers: Mapping[str, int] | None = None,
        baseline: str | None = None,
        archive: bool = True,
        seconds_per_minute: float = 60.0,
    ) -> None:
        self.name = name
        self.peers: Mapping[str, int] = dict(peers or {"10.0.12.2": 65002})
        self.baseline = baseline or default_baseline(name, self.peers, archive)
        self.password = new_password()
        self.seconds_per_minute = seconds_per_minute
        """Real seconds per minute of revert timer (60 on a device; a test may shorten it)."""
        self.lock = threading.RLock()
        self.booted = time.time()
        self.flash: dict[str, bytes] = {}
        self.archive_files: list[str] = []
        self.pending: _Pending | None = None
        self.log: list[str] = []
        """Every exec and config line the sessions ran, in order (for the tests to assert on)."""
        self._up_since: dict[str, float] = {}
        self._body: list[str] = []
        self._changed = (self.booted, "admin")
        self.set_body(cfg.body_of(self.baseline), "admin")
        self.startup: list[str] = list(self._body)
        self._server = SshCliServer(
            self.username, self.password, lambda user: IosShell(self, user), self._scp
        )
        self.optional_args: dict[str, object] = {"port": self._server.port}

    # ------------------------------------------------------------------ DeviceDouble
    def running(self) -> str:
        with self.lock:
            return self.show_running()

    def set_running(self, config: str) -> None:
        with self.lock:
            self.set_body(cfg.body_of(config), "console")

    def has_pending(self) -> bool:
        with self.lock:
            return self.pending is not None

    def fire_timer(self) -> None:
        with self.lock:
            if self.pending is not None:
                self.revert_now()

    def stop(self) -> None:
        with self.lock:
            if self.pending is not None:
                self.pending.timer.cancel()
        self._server.stop()

    # ------------------------------------------------------------------ state
    @property
    def serial(self) -> str:
        return "9" + hashlib.sha256(self.name.encode()).hexdigest()[:9].upper()

    def domain(self) -> str | None:
        return next((n.text.split()[3] for n in self.tree if n.text.startswith("ip domain name ")), None)

    @property
    def tree(self) -> list[cfg.Node]:
        return cfg.parse(self._body)

    def set_body(self, body: list[str], user: str) -> None:
        self._body = list(body)
        self._changed = (time.time(), user)
        current = cfg.bgp(self.tree)
        wanted = {
            n.address
            for n in (current.neighbors if current else [])
            if not n.shutdown and self.peers.get(n.address) == n.remote_as
        }
        now = time.time()
        self._up_since = {a: self._up_since.get(a, now) for a in wanted}

    def config_text(self) -> str:
        """The config as a file holds it (``copy running-config flash:x``): headers from ``!`` on."""
        when, user = self._changed
        return (
            f"!\n! Last configuration change at {_stamp(when)} by {user}\n!\n" + "\n".join(self._body) + "\n"
        )

    def show_running(self) -> str:
        text = self.config_text()
        return f"Building configuration...\n\nCurrent configuration : {len(text)} bytes\n{text}"

    def show_startup(self) -> str:
        text = f"!\n! NVRAM config last updated at {_stamp(self._changed[0])}\n!\n" + "\n".join(self.startup)
        return f"Using {len(text)} out of 262144 bytes\n{text}\n"

    def write_memory(self) -> str:
        self.startup = list(self._body)
        return "Building configuration...\n[OK]"

    def configure_line(self, line: str, user: str) -> str:
        """One line in ``configure terminal``: the double knows one-line top-level commands only."""
        text = line.strip()
        target = text[3:] if text.startswith("no ") else text
        if not target or cfg.invalid_lines([target]) or target.split()[0] in ("interface", "router", "line"):
            return f"{' ' * (len(line) - len(line.lstrip()))}^\n% Invalid input detected at '^' marker.\n"
        body = [ln for ln in self._body if ln != target]
        if not text.startswith("no "):
            body.insert(body.index("end") if "end" in body else len(body), target)
        if body != self._body:
            self.set_body(body, user)
        return ""

    def up_since(self) -> dict[str, float]:
        return dict(self._up_since)

    # ------------------------------------------------------------------ flash
    @staticmethod
    def flash_name(path: str) -> str | None:
        m = re.fullmatch(r"flash:/?([^/]*)", path.strip("'\""))
        return m.group(1) if m else None

    def _scp(self, path: str, name: str, data: bytes) -> str | None:
        with self.lock:
            if not cfg.has_line(self.tree, "ip scp server enable"):
                return "Privileged denied"
            target = self.flash_name(path)
            if target is None:
                return f"%Error opening {path} (Invalid file system)"
            self.flash[target or name] = data
            return None

    def dir(self, path: str) -> str:
        name = self.flash_name(path or FLASH)
        if name is None:
            return f"%Error opening {path} (No such device)"
        if name and name not in self.flash:
            return f"%Error opening {FLASH}/{name} (No such file or directory)"
        names = [name] if name else sorted(self.flash)
        when = datetime.fromtimestamp(self._changed[0], UTC)
        rows = [f"Directory of {FLASH}/{name}", ""]
        for i, n in enumerate(names, start=1):
            size = len(self.flash[n])
            rows.append(f"{i:>5}  -rw-{size:>12}  {when:%b %d %Y %H:%M:%S} +00:00  {n}")
        used = sum(len(v) for v in self.flash.values())
        rows += ["", f"{FLASH_SIZE} bytes total ({FLASH_SIZE - used - 10_000_000} bytes free)"]
        return "\n".join(rows)

    def md5(self, path: str) -> str:
        name = self.flash_name(path)
        if not name or name not in self.flash:
            return f"%Error opening {path} (No such file or directory)"
        digest = hashlib.md5(self.flash[name], usedforsecurity=False).hexdigest()
        return f"...............Done!\nverify /md5 ({path}) = {digest}"

    def read_source(self, path: str) -> list[str] | None:
        """A config source named by ``show archive config differences`` / ``configure replace``."""
        if path in ("system:running-config", "system:/running-config", "running-config"):
            return list(self._body)
        if path in ("nvram:startup-config", "nvram:/startup-config", "startup-config"):
            return list(self.startup)
        name = self.flash_name(path)
        if not name or name not in self.flash:
            return None
        return cfg.body_of(self.flash[name].decode("utf-8", "replace"))

    # ------------------------------------------------------------------ replace, revert, confirm
    def archive_enabled(self) -> bool:
        return cfg.archive_path(self.tree) is not None

    def _archive_now(self) -> None:
        base = cfg.archive_path(self.tree) or f"{FLASH}archive"
        dt = datetime.now(UTC)
        name = (
            f"{base}-{dt:%b}-{dt.day:>2}-{dt:%H-%M-%S}.{dt.microsecond // 1000:03d}-{len(self.archive_files)}"
        )
        self.archive_files = [*self.archive_files, name.replace(" ", "-")][-10:]

    def _replace_refusal(self, path: str, opts: str) -> str | None:
        """Why ``configure replace <path> <opts>`` cannot start (None when it can)."""
        timer = re.search(r"\btimer? (\d+)", opts)
        reverts = "revert" in opts.split() or timer is not None
        refusal = None
        if "force" not in opts.split():
            refusal = "% The double supports 'configure replace <url> force' only (napalm always sends force)"
        elif reverts and not self.archive_enabled():
            refusal = "%Please turn config archive on before using Rollback Confirmed Change."
        elif self.pending is not None and reverts:
            refusal = "%Rollback Confirmed Change in progress: 'configure confirm' or 'configure revert now'"
        elif timer is not None and not 1 <= int(timer.group(1)) <= 120:
            refusal = f"% Invalid timer value {timer.group(1)} (1-120 minutes)"
        elif self.read_source(path) is None:
            refusal = f"%Error opening {path} (No such file or directory)"
        elif not cfg.is_valid_file(self.read_source(path) or []):
            refusal = (
                f"%Error: {path} is not a valid config file (it must begin with 'version' and end with 'end')"
            )
        return refusal

    def configure_replace(self, command: str, user: str) -> str:
        m = re.fullmatch(r"configure replace (\S+)(.*)", command.strip())
        if not m:
            return "% Incomplete command."
        path, opts = m.group(1), m.group(2)
        refusal = self._replace_refusal(path, opts)
        if refusal is not None:
            return refusal
        lines = self.read_source(path) or []
        timer = re.search(r"\btimer? (\d+)", opts)
        minutes = int(timer.group(1)) if timer else None
        bad = cfg.invalid_lines(lines)
        if bad:
            rejected = "".join(f"{ln}\n ^\n% Invalid input detected at '^' marker.\n" for ln in bad)
            return (
                f"{rejected}\n{len(bad)} command(s) were rejected: the replace was not completed.\n"
                "The original configuration has been successfully restored."
            )
        before = list(self._body)
        if minutes is not None:
            self._archive_now()
            timer_obj = threading.Timer(minutes * self.seconds_per_minute, self._timer_fired)
            timer_obj.daemon = True
            self.pending = _Pending(before, user, minutes, time.time(), timer_obj)
            timer_obj.start()
        self.set_body(lines, user)
        return "Total number of passes: 1\nRollback Done"

    def _timer_fired(self) -> None:
        with self.lock:
            if self.pending is not None and self.pending.timer is threading.current_thread():
                self.revert_now()

    def revert_now(self) -> str:
        pending = self.pending
        if pending is None:
            return "%No Rollback Confirmed Change pending"
        pending.timer.cancel()
        self.pending = None
        self.set_body(pending.archived, pending.user)
        return "Rollback Done"

    def confirm(self) -> str:
        if self.pending is None:
            return "%No Rollback Confirmed Change pending"
        self.pending.timer.cancel()
        self.pending = None
        return ""

    def show_rollback_timer(self) -> str:
        if self.pending is None:
            return "%No Rollback Confirmed Change pending"
        p = self.pending
        left = max(0.0, p.minutes * 60 - (time.time() - p.configured))
        return (
            f"Time configured(or Reset): {_stamp(p.configured)}\n"
            "Timer type: Revert timer\n"
            f"Timer value: {p.minutes} min\n"
            f"Time remaining: {int(left // 60)} min {int(left % 60)} sec\n"
            f"User: {p.user}"
        )

    def show_archive(self) -> str:
        path = cfg.archive_path(self.tree)
        if path is None:
            return "Archive feature not enabled"
        rows = [
            "The maximum archive configurations allowed is 10.",
            f"There are currently {len(self.archive_files)} archive configurations saved.",
            f"The next archive file will be named {path}-<timestamp>-{len(self.archive_files)}",
            " Archive #  Name",
        ]
        for i in range(1, 11):
            name = self.archive_files[i - 1] if i <= len(self.archive_files) else ""
            recent = " <- Most Recent" if i == len(self.archive_files) else ""
            rows.append(f"   {i:<9}{name}{recent}".rstrip())
        return "\n".join(rows)


@contextmanager
def start_ios(
    name: str = "r1",
    peers: Mapping[str, int] | None = None,
    baseline: str | None = None,
    archive: bool = True,
    seconds_per_minute: float = 60.0,
) -> Iterator[IosDouble]:
    """An IOS double on 127.0.0.1 (an ephemeral port, in ``optional_args["port"]``), stopped on exit."""
    double = IosDouble(name, peers, baseline, archive, seconds_per_minute)
    try:
        yield double
    finally:
        double.stop()
