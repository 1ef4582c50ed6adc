"""NAPALM driver for FRRouting over SSH: full replace through ``frr-reload.py``, a device-side revert timer.

    >>> from napalm import get_network_driver                                  # doctest: +SKIP
    >>> dev = get_network_driver("frr")("10.255.200.1", "root", "",
    ...     optional_args={"key_file": "id_ed25519", "known_hosts": "known_hosts"})  # doctest: +SKIP

optional_args: ``port`` (22), ``key_file``, ``known_hosts`` (default ``~/.ssh/known_hosts``; host keys
are always verified), ``workdir`` (``/etc/frr/netimmutable``), ``frr_reload`` (path of frr-reload.py).

Guarantees: a candidate with a syntax error is refused at load time and the router is untouched; a commit
that fails part way (frr-reload.py is not transactional) or does not converge restores the pre-commit
configuration and raises ``CommitError`` with the device's text; ``commit_config(revert_in=N)`` arms a timer
that runs on the router and restores the previous configuration after N seconds unless ``confirm_commit``
came first, even if the SSH session is gone; a pending commit is not written to the startup config.

``get_facts``, ``get_interfaces`` and ``get_interfaces_ip`` all read ``show interface json``: one read
serves the others asked within ``READ_REUSE`` seconds (the getters of one check round), and every commit,
confirm and rollback forgets it. ``read_together`` (netimmutable's extension to NAPALM, used by its check
rounds) reads what several getters need in one SSH exec and one vtysh start; each of them answers from that
read once, when asked within ``READ_REUSE`` seconds.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from napalm.base import NetworkDriver
from napalm.base.exceptions import (
    CommandErrorException,
    CommitError,
    MergeConfigException,
    ReplaceConfigException,
)

from netimmutable.drivers.frr import getters
from netimmutable.drivers.frr import round_read as rr
from netimmutable.drivers.frr.device import ANSI_RE, DEFAULT_RELOAD, DEFAULT_WORKDIR, REVERT_SCRIPT, Paths
from netimmutable.drivers.frr.reload_diff import undeletable_interfaces, without_defaults
from netimmutable.drivers.frr.transport import CommandResult, SshOptions, SshTransport

READ_REUSE = 0.25
"""Seconds a read serves the getters of one check round (a round asks them within milliseconds; rounds are
``settle_interval`` apart): ``show interface json`` the interface getters, a ``read_together`` read the
getters it was asked for."""

__all__ = ["FrrDriver"]

CandidateKind = Literal["replace", "merge"]
_SECRET_RE = re.compile(r"^(\s*\S.*?\b(?:password|authentication-key|key-string)\s+)(\S+)", re.MULTILINE)


class FrrDriver(NetworkDriver):  # type: ignore[misc]  # napalm is untyped
    """NAPALM ``NetworkDriver`` for FRRouting routers (driver name ``frr``)."""

    platform = "frr"

    def __init__(
        self,
        hostname: str,
        username: str,
        password: str,
        timeout: int = 60,
        optional_args: dict[str, Any] | None = None,
    ) -> None:
        args = dict(optional_args or {})
        self.hostname = hostname
        self.username = username
        self.password = password
        self.timeout = timeout
        self.optional_args = args
        self._ssh = SshTransport(
            SshOptions(
                hostname=hostname,
                username=username,
                password=password,
                port=int(args.get("port", 22)),
                timeout=float(timeout),
                key_file=args.get("key_file"),
                known_hosts=args.get("known_hosts"),
            )
        )
        self._paths = Paths(
            str(args.get("workdir", DEFAULT_WORKDIR)), str(args.get("frr_reload", DEFAULT_RELOAD))
        )
        self._candidate: tuple[CandidateKind, str] | None = None
        self._interfaces_read: tuple[float, dict[str, Any]] | None = None
        """(monotonic time, ``show interface json``) of the last read (see READ_REUSE)."""
        self._together: rr.RoundRead | None = None
        """The last ``read_together`` read."""
        self.commit_notes: tuple[str, ...] = ()
        """What the last ``commit_config`` or ``rollback`` had to do beyond frr-reload.py (its fallback), for
        the person reading the outcome; () when frr-reload.py alone did it."""

    # ------------------------------------------------------------------ session
    def open(self) -> None:
        self._ssh.open()
        self._ssh.check(f"umask 077 && mkdir -p {self._paths.dir} && chmod 700 {self._paths.dir}")

    def close(self) -> None:
        self._ssh.close()

    def is_alive(self) -> dict[str, bool]:
        return {"is_alive": self._ssh.is_alive}

    def _vtysh(self, *commands: str) -> str:
        args = " ".join(f"-c {shlex.quote(c)}" for c in commands)
        return self._ssh.check(f"vtysh {args}").stdout

    def _vtysh_json(self, command: str) -> dict[str, Any]:
        text = self._vtysh(command).strip()
        try:
            data = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise CommandErrorException(
                f"{self.hostname}: `{command}` did not return JSON: {text[:200]}"
            ) from exc
        if not isinstance(data, dict):
            raise CommandErrorException(f"{self.hostname}: `{command}` returned {type(data).__name__}")
        return data

    def _vtysh_leading_json(self, *commands: str) -> tuple[list[dict[str, Any]], str]:
        """Run ``commands`` in ONE vtysh (each start costs ~25 ms, more than the SSH round trip): the
        outputs of the leading JSON commands, in order, and the text after them (what a last, non-JSON
        command printed). A JSON command that printed nothing or no object would shift the outputs, so
        then every command runs alone (the one-command path and its errors)."""
        text = self._vtysh(*commands)
        wanted = sum(1 for c in commands if c.endswith(" json"))
        split = rr.leading_json(text, wanted)
        if split is None:
            docs = [self._vtysh_json(c) for c in commands[:wanted]]
            return docs, "".join(self._vtysh(c) for c in commands[wanted:])
        return split

    def read_together(self, getters: Sequence[str]) -> None:
        """Read now what ``getters`` need (of ``get_facts``, ``get_interfaces``, ``get_interfaces_ip``,
        ``get_bgp_neighbors``, ``get_bgp_neighbors_detail`` and ``get_config`` of the running config;
        others are ignored) in one SSH exec and one vtysh start (``round_read``): each of them asked within
        ``READ_REUSE`` seconds answers from this read, once; asked again, or later, it reads the router as
        usual. netimmutable's extension to NAPALM, for the getters of one check round (asked within
        milliseconds of each other, so their answers are of one moment). When the last read is that recent
        and none of ``getters`` has answered from it yet, it serves them: nothing is read again.

        Anything unexpected (vtysh failing, a daemon not running, an output that is not what the commands
        print) keeps nothing: each getter then reads on its own, with its own errors. A lost connection
        raises."""
        names = {g for g in getters if g in rr.NEEDS}
        last = self._together
        if last is not None and names <= last.left and time.monotonic() - last.at <= READ_REUSE:
            return
        self._together = None
        command = rr.read_command(names)
        if command is None:
            return
        out = self._ssh.run(command.shell).stdout
        now = time.monotonic()
        read = rr.split_read(command, out, now, names)
        if read is not None and rr.INTERFACES in read.docs:
            self._interfaces_read = (now, copy.deepcopy(read.docs[rr.INTERFACES]))
        self._together = read

    def _take(self, getter: str) -> rr.RoundRead | None:
        """The ``read_together`` read ``getter`` answers from now (once), if any."""
        read = self._together
        if read is None or getter not in read.left or time.monotonic() - read.at > READ_REUSE:
            return None
        read.left.discard(getter)
        return read

    def cli(self, commands: list[str], encoding: str = "text") -> dict[str, str]:
        if encoding != "text":
            raise NotImplementedError(f"encoding {encoding!r} (only 'text')")
        self._forget_reads()  # a command may change what the router runs
        return {command: self._vtysh(command) for command in commands}

    # ------------------------------------------------------------------ candidates
    @staticmethod
    def _text(filename: str | None, config: str | None, exc: type[Exception]) -> str:
        if config is not None:
            return config
        if filename is None:
            raise exc("give either filename or config")
        try:
            return Path(filename).read_text(encoding="utf-8")
        except OSError as err:
            raise exc(f"cannot read {filename}: {err}") from err

    def _load(self, kind: CandidateKind, text: str, exc: type[Exception]) -> None:
        path = self._paths.candidate if kind == "replace" else self._paths.merge
        self._discard_files()
        self._ssh.write_file(self._paths.raw("candidate.conf" if kind == "replace" else "merge.conf"), text)
        check = self._ssh.run(f"vtysh --dryrun --inputfile {path}")
        if not check.ok or "% " in check.output:
            self._discard_files()
            raise exc(f"{self.hostname}: the candidate was refused (router untouched):\n{check.output}")
        self._candidate = (kind, text)

    def load_replace_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        self._load("replace", self._text(filename, config, ReplaceConfigException), ReplaceConfigException)

    def load_merge_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        self._load("merge", self._text(filename, config, MergeConfigException), MergeConfigException)

    def _discard_files(self) -> None:
        self._ssh.check(f"rm -f {self._paths.candidate} {self._paths.merge} {self._paths.rollback_new}")
        self._candidate = None

    def discard_config(self) -> None:
        self._discard_files()

    def compare_config(self) -> str:
        """FRR's own semantic diff (frr-reload.py --test) for a replace candidate, without the adds of lines
        that restate a default FRR never shows (they are no change); the lines for a merge."""
        if self._candidate is None:
            return ""
        kind, text = self._candidate
        if kind == "merge":
            return text.strip()
        result = self._ssh.run(self._paths.diff(self._paths.candidate))
        if not result.ok:
            raise CommandErrorException(
                f"{self.hostname}: frr-reload.py --test failed:\n{_clean(result.output)}"
            )
        return without_defaults(_clean(result.stdout), text)

    def _residual(self, path: str, target: str) -> str | None:
        """What frr-reload.py still finds between the running config and ``path`` (holding ``target``),
        defaults FRR never shows left out: '' when converged, None when the diff itself failed."""
        result = self._ssh.run(self._paths.diff(path))
        if not result.ok:
            return None
        return without_defaults(_clean(result.stdout), target)

    def _replace(self, path: str, target: str) -> str | None:
        """Make the running config ``path`` (holding ``target``) with frr-reload.py, and check it converged.

        Judged by the result, not by frr-reload.py's exit status: it reports a failure when it could not
        delete a line even where the block then went away by itself. When an ``interface`` block the target
        does not have is left (frr-reload.py deletes such blocks line by line and some lines cannot be
        deleted so), the fallback removes the block whole (``no interface NAME``) and applies again.
        Returns what went wrong (None: converged); ``commit_notes`` says what the fallback did."""
        applied = self._ssh.run(self._paths.apply(path))
        problem = _apply_problem(applied)
        left = self._residual(path, target)
        notes: list[str] = []
        if left:
            removed = []
            for header in undeletable_interfaces(left, target):
                gone = self._ssh.run(f"vtysh -c 'configure terminal' -c {shlex.quote('no ' + header)}")
                if _apply_problem(gone) is None:
                    removed.append(header)
            if removed:
                notes.append(
                    "frr-reload.py could not remove " + ", ".join(f"`{h}`" for h in removed) + " (no such "
                    "interface on the router); removed whole with `no interface` instead"
                )
                again = _apply_problem(self._ssh.run(self._paths.apply(path)))
                left = self._residual(path, target)
                problem = again if left else problem
        if left == "":
            if problem is not None:
                first = problem.strip().splitlines()[0] if problem.strip() else problem
                notes.append(f"frr-reload.py reported a failure ({first}) yet the running config matches")
            self.commit_notes = (*self.commit_notes, *notes)
            return None
        if left is None:
            return problem or "frr-reload.py --test failed after applying"
        return (problem + "\n" if problem else "") + (
            "the configuration did not converge; frr-reload.py still shows:\n" + left
        )

    # ------------------------------------------------------------------ commit
    def _pending_state(self) -> str:
        return self._ssh.check(self._paths.pending_state()).stdout.strip()

    def has_pending_commit(self) -> bool:
        state = self._pending_state()
        if state == "stale":  # the timer is gone (e.g. the router rebooted): nothing can revert any more
            self._ssh.check(
                f"rm -f {self._paths.pending} {self._paths.pending_pid} {self._paths.startup_pre}"
            )
        return state == "pending"

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        self._forget_reads()
        self.commit_notes = ()
        if self._candidate is None:
            return  # nothing loaded: nothing to do, the router is not touched
        if revert_in is not None and int(revert_in) < 1:
            raise CommitError(f"{self.hostname}: revert_in must be at least 1 second, got {revert_in}")
        if self.has_pending_commit():
            raise CommitError(
                f"{self.hostname}: a commit is pending confirmation; confirm or roll back first"
            )
        p = self._paths
        kind, text = self._candidate
        self._ssh.check(
            f"vtysh -c 'show running-config no-header' > {p.rollback_new} && cp {p.startup} {p.startup_pre}"
        )
        if kind == "replace":
            problem = self._replace(p.candidate, text)
        else:
            problem = _apply_problem(self._ssh.run(f"vtysh -f {p.merge}"))
        if problem is not None:
            self._restore_after_failed_commit(problem)
        self._ssh.check(f"mv -f {p.rollback_new} {p.rollback}")
        if revert_in is None:
            self._ssh.check(f"vtysh -c 'write memory' >/dev/null && rm -f {p.startup_pre}")
        else:
            # the pending configuration is not persisted: a reboot before confirm also reverts
            self._ssh.check(f"cp {p.startup_pre} {p.startup}")
            self._ssh.write_file(p.raw("revert.sh"), REVERT_SCRIPT)
            self._ssh.check(p.arm(int(revert_in), secrets.token_hex(8)))
        self._discard_files()

    def _restore_after_failed_commit(self, problem: str) -> None:
        p = self._paths
        restore = self._replace(p.rollback_new, self._ssh.read_file(p.raw("rollback.new")))
        if restore is None:
            restore = _apply_problem(self._ssh.run(f"cp {p.startup_pre} {p.startup}"))
        self._discard_files()
        if restore is not None:
            raise CommitError(
                f"{self.hostname}: commit failed AND restoring the previous configuration failed; the router "
                f"needs a person.\ncommit: {problem}\nrestore: {restore}"
            )
        self._ssh.check(f"rm -f {p.startup_pre}")
        raise CommitError(
            f"{self.hostname}: commit failed, previous configuration restored. Device said:\n{problem}"
        )

    def confirm_commit(self) -> None:
        self._forget_reads()
        p = self._paths
        if self._pending_state() != "pending":
            raise CommitError(f"{self.hostname}: no pending commit to confirm")
        outcome = self._ssh.check(p.disarm()).stdout.strip()
        if outcome != "disarmed":
            raise CommitError(f"{self.hostname}: the revert timer fired before confirm_commit; not confirmed")
        self._ssh.check(f"vtysh -c 'write memory' >/dev/null && rm -f {p.startup_pre}")

    def rollback(self) -> None:
        """Restore the configuration from before the last commit (disarming a pending revert timer)."""
        self._forget_reads()
        self.commit_notes = ()
        p = self._paths
        self._ssh.check(p.disarm())
        if not self._ssh.run(f"test -f {p.rollback}").ok:
            raise CommitError(f"{self.hostname}: nothing to roll back to (no commit made by this driver)")
        problem = self._replace(p.rollback, self._ssh.read_file(p.raw("rollback.conf")))
        self._ssh.check(f"rm -f {p.startup_pre}")
        if problem is not None:
            raise CommitError(
                f"{self.hostname}: rollback did not restore the previous configuration:\n{problem}"
            )

    # ------------------------------------------------------------------ getters
    def get_config(
        self, retrieve: str = "all", full: bool = False, sanitized: bool = False, format: str = "text"
    ) -> dict[str, str]:
        """running: ``show running-config no-header``; startup: /etc/frr/frr.conf; candidate: as loaded.

        Running and startup have the same shape: no "Building configuration" header, the ``frr version``
        line first, ``end`` last (FRR writes frr.conf without the final ``end``; it is added here), so a
        saved configuration compares equal to the running one.
        """
        del full, format  # FRR has one text format; there are no hidden defaults to add
        result = {"running": "", "startup": "", "candidate": ""}
        read = self._take("get_config") if retrieve == "running" else None
        if read is not None:
            result["running"] = read.running
        elif retrieve in ("all", "running"):
            result["running"] = self._vtysh(rr.RUNNING)
        if retrieve in ("all", "startup"):
            result["startup"] = _with_end(self._ssh.check(f"cat {self._paths.startup}").stdout)
        if retrieve in ("all", "candidate") and self._candidate is not None:
            result["candidate"] = self._candidate[1]
        if sanitized:
            result = {k: _SECRET_RE.sub(r"\1<removed>", v) for k, v in result.items()}
        return result

    def _interfaces_json(self, doc: dict[str, Any] | None = None) -> dict[str, Any]:
        """`show interface json`: ``doc`` just read, else the last read when recent enough, else read now."""
        now = time.monotonic()
        if doc is None:
            last = self._interfaces_read
            if last is not None and now - last[0] <= READ_REUSE:
                return copy.deepcopy(last[1])
            doc = self._vtysh_json(rr.INTERFACES)
        self._interfaces_read = (now, copy.deepcopy(doc))
        return doc

    def _forget_reads(self) -> None:
        self._interfaces_read = None
        self._together = None

    def get_facts(self) -> dict[str, Any]:
        read = self._take("get_facts")
        if read is not None:
            return getters.facts(read.version, copy.deepcopy(read.docs[rr.INTERFACES]), read.uptime)
        (interfaces,), version = self._vtysh_leading_json(rr.INTERFACES, rr.VERSION)
        interfaces = self._interfaces_json(interfaces)
        return getters.facts(version, interfaces, rr.uptime_of(self._ssh.run(rr.UPTIME).stdout))

    def get_interfaces(self) -> dict[str, dict[str, Any]]:
        self._take("get_interfaces")  # answered by the interface read (it came with the read_together)
        return getters.interfaces(self._interfaces_json())

    def get_interfaces_ip(self) -> dict[str, Any]:
        self._take("get_interfaces_ip")
        return getters.interfaces_ip(self._interfaces_json())

    def get_bgp_neighbors(self) -> dict[str, Any]:
        read = self._take("get_bgp_neighbors")
        if read is not None:
            return getters.bgp_neighbors(read.docs[rr.NEIGHBORS], read.docs[rr.SUMMARY])
        (neighbors, summary), _ = self._vtysh_leading_json(rr.NEIGHBORS, rr.SUMMARY)
        return getters.bgp_neighbors(neighbors, summary)

    def get_bgp_neighbors_detail(self, neighbor_address: str = "") -> dict[str, Any]:
        read = self._take("get_bgp_neighbors_detail")
        neighbors = read.docs[rr.NEIGHBORS] if read is not None else self._vtysh_json(rr.NEIGHBORS)
        return getters.bgp_neighbors_detail(neighbors, neighbor_address)


def _with_end(text: str) -> str:
    if not text.strip() or text.rstrip().splitlines()[-1].strip() == "end":
        return text
    return text.rstrip("\n") + "\nend\n"


def _clean(text: str) -> str:
    return ANSI_RE.sub("", text)


def _apply_problem(result: CommandResult) -> str | None:
    """The device's text when an apply failed (exit status, or vtysh's ``%`` error lines), else None."""
    text = _clean(result.output)
    if not result.ok or any(line.lstrip().startswith("%") for line in text.splitlines()):
        return text or f"exit status {result.exit_status}"
    return None
