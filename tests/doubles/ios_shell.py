"""One CLI session on the IOS double: the exec modes and the commands napalm's ``ios`` driver sends.

Modes and prompts as netmiko's ``cisco_ios`` driver expects them (netmiko/cisco/cisco_ios.py,
netmiko/cisco_base_connection.py): user exec ``r1>``, privileged exec ``r1#`` (``enable`` asks ``Password:``,
``disable`` leaves), global configuration ``r1(config)#`` (``configure terminal`` prints ``Enter configuration
commands, one per line.  End with CNTL/Z.``; ``end``/``exit`` leave). A user with ``privilege 15`` starts in
privileged exec, so napalm's ``enable()`` finds ``#`` and sends nothing. Unknown commands answer
``% Invalid input detected at '^' marker.`` (the text napalm's ``_send_command`` tests for).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.doubles import ios_config as cfg
from tests.doubles import ios_show as show

if TYPE_CHECKING:
    from tests.doubles.ios import IosDouble

__all__ = ["IosShell"]

INVALID = "% Invalid input detected at '^' marker."
QUIET_SHOWS = {
    "show bgp ipv4 multicast neighbors",
    "show bgp ipv6 unicast neighbors",
    "show bgp ipv6 multicast neighbors",
    "show bgp vpnv4 unicast all neighbors",
    "show bgp vpnv6 unicast all neighbors",
    "show bgp ipv4 mdt all neighbors",
    "show ipv6 interface",
}


class IosShell:
    """The ``CliShell`` of one SSH session (``tests.doubles.ssh_cli``)."""

    def __init__(self, device: IosDouble, user: str) -> None:
        self.device = device
        self.user = user
        self.mode = "enable"
        self._asking_password = False

    def greeting(self) -> str:
        return f"\n{self.prompt()}"

    def prompt(self) -> str:
        if self._asking_password:
            return "Password: "
        suffix = {"exec": ">", "enable": "#", "config": "(config)#"}[self.mode]
        return f"{self.device.name}{suffix}"

    def handle(self, line: str) -> str | None:
        if self._asking_password:
            self._asking_password = False
            granted = line == self.device.password
            self.mode = "enable" if granted else self.mode
            return "" if granted else "% Access denied"
        command = " ".join(line.split())
        if not command:
            return ""
        with self.device.lock:
            self.device.log.append(f"{self.mode}: {command}")
            if self.mode == "config":
                return self._config(line, command)
            if command in ("exit", "logout", "quit"):
                return None
            if self.mode == "exec":
                return self._user_exec(command)
            return self._privileged(command)

    # ------------------------------------------------------------------ modes
    def _user_exec(self, command: str) -> str:
        if command in ("enable", "en"):
            self._asking_password = True
            return ""
        if command.startswith("terminal "):
            return ""
        return INVALID

    def _config(self, line: str, command: str) -> str:
        if command in ("end", "exit"):
            self.mode = "enable"
            return ""
        return self.device.configure_line(line, self.user)

    def _privileged(self, command: str) -> str:
        pipe = re.fullmatch(r"(.*?) \| (?:i|inc|include) (.+)", command)
        if pipe:
            output = self._privileged(pipe.group(1))
            return "\n".join(ln for ln in output.splitlines() if re.search(pipe.group(2), ln))
        exact = self._exact().get(command)
        if exact is not None:
            return exact()
        for prefix, run in self._prefixed():
            if command.startswith(prefix):
                return run(command[len(prefix) :].strip())
        return INVALID

    def _exact(self) -> dict[str, Callable[[], str]]:
        d = self.device
        save = d.write_memory
        table: dict[str, Callable[[], str]] = {
            "disable": lambda: self._enter("exec"),
            "enable": lambda: "",
            "configure terminal": lambda: self._enter("config"),
            "configure confirm": d.confirm,
            "configure revert now": d.revert_now,
            "write mem": save,
            "write memory": save,
            "copy running-config startup-config": save,
            "dir": lambda: d.dir(""),
            "show running-config": d.show_running,
            "show startup-config": d.show_startup,
            "show version": lambda: show.show_version(d.name, time.time() - d.booted, d.serial),
            "show hosts": lambda: show.show_hosts(d.domain()),
            "show ip interface brief": lambda: show.show_ip_interface_brief(cfg.interfaces(d.tree)),
            "show interfaces": lambda: show.show_interfaces(cfg.interfaces(d.tree)),
            "show ip interface": lambda: show.show_ip_interface(cfg.interfaces(d.tree)),
            "show bgp all summary": lambda: show.bgp_summary(cfg.bgp(d.tree), d.up_since()),
            "show bgp ipv4 unicast neighbors": lambda: show.bgp_neighbors(cfg.bgp(d.tree), d.up_since()),
            "show archive": d.show_archive,
            "show archive config rollback timer": d.show_rollback_timer,
        }
        table.update({cmd: lambda: "" for cmd in QUIET_SHOWS})
        return table

    def _prefixed(self) -> list[tuple[str, Callable[[str], str]]]:
        d = self.device
        return [
            ("terminal ", lambda _rest: ""),
            ("configure replace ", lambda rest: d.configure_replace(f"configure replace {rest}", self.user)),
            ("copy ", lambda rest: self._copy(rest.split())),
            ("dir ", d.dir),
            ("verify /md5 ", d.md5),
            ("show archive config differences ", lambda rest: self._differences(*rest.split()[:2])),
            ("show archive config incremental-diffs ", lambda rest: self._incremental(rest.split()[0])),
        ]

    def _enter(self, mode: str) -> str:
        self.mode = mode
        return "Enter configuration commands, one per line.  End with CNTL/Z." if mode == "config" else ""

    def _copy(self, args: list[str]) -> str:
        d = self.device
        if len(args) != 2:
            return INVALID
        src, dst = args
        if dst in ("running-config", "system:running-config", "system:/running-config"):
            return self._merge(src)
        name = d.flash_name(dst)
        if name is None or not name:
            return f"%Error opening {dst} (Invalid file system)"
        if not cfg.has_line(d.tree, "file prompt quiet"):
            # napalm's _file_prompt_quiet decorator configures it first; a prompt is not simulated
            return f"Destination filename [{name}]? \n% The double needs 'file prompt quiet' for copy"
        if src in ("running-config", "system:running-config", "system:/running-config"):
            data = d.config_text().encode()
        elif src == "null:":
            data = b""
        elif src in ("startup-config", "nvram:startup-config"):
            data = d.show_startup().split("\n", 1)[1].encode()
        else:
            source = d.flash_name(src)
            if not source or source not in d.flash:
                return f"%Error opening {src} (No such file or directory)"
            data = d.flash[source]
        d.flash[name] = data
        return f"{len(data)} bytes copied in 0.021 secs ({len(data) * 47} bytes/sec)"

    def _merge(self, src: str) -> str:
        """``copy <file> running-config``: the file's lines merged in, unknown ones rejected."""
        d = self.device
        lines = d.read_source(src)
        if lines is None:
            return f"%Error opening {src} (No such file or directory)"
        bad = set(cfg.invalid_lines(lines))
        good = [n for n in cfg.parse(lines) if n.text not in bad]
        d.set_body([*cfg.render(cfg.merge(d.tree, good)), "end"], self.user)
        errors = "".join(f"{ln}\n ^\n{INVALID}\n" for ln in sorted(bad))
        return f"{errors}{sum(len(ln) + 1 for ln in lines)} bytes copied in 0.031 secs"

    def _incremental(self, path: str) -> str:
        """``show archive config incremental-diffs <file>``: the file's lines the running config lacks."""
        lines = self.device.read_source(path)
        if lines is None:
            return f"%Error opening {path} (No such file or directory)"
        missing = cfg.contextual_diff(self.device.tree, cfg.merge(self.device.tree, cfg.parse(lines)))
        if not missing:
            return "!List of Commands:\nend\n!No changes were found"
        return "!List of Commands:\n" + "\n".join(ln.replace("+", "", 1) for ln in missing) + "\nend"

    def _differences(self, base: str, new: str) -> str:
        d = self.device
        old_lines, new_lines = d.read_source(base), d.read_source(new)
        for path, lines in ((base, old_lines), (new, new_lines)):
            if lines is None:
                return f"%Error opening {path} (No such file or directory)"
        assert old_lines is not None and new_lines is not None
        diff = cfg.contextual_diff(cfg.parse(old_lines), cfg.parse(new_lines))
        if not diff:
            return "!Contextual Config Diffs:\n!No changes were found"
        return "!Contextual Config Diffs:\n" + "\n".join(diff)
