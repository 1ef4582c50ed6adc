"""The EOS double's state and the CLI that eAPI's ``runCmds`` drives: config sessions, commit timer, files.

Behaviour followed, and where it is written down:

- **Config sessions** (Arista, EOS User Manual, "Configure Session",
  https://www.arista.com/en/um-eos/eos-configure-session): ``configure session <name>`` copies a snapshot of
  the running-config into the session; commands change only the session; ``rollback clean-config`` turns the
  session into the factory-default config; when the session is committed its config is copied into
  running-config, "overwriting any other configuration changes made since the session was created"; ``abort``
  removes it. Sessions live on the device, not in the connection: any later eAPI request (a new driver) sees
  them. ``show configuration sessions`` lists ``maxOpenSessions`` 5 and ``maxSavedSessions`` 1 (the values in
  napalm issue #2166's real outputs); a sixth uncommitted session is refused (the wording of that refusal is
  the double's own). The manual's 24-hour timeout of an uncommitted session is not modelled.
- **Commit timer** (Arista EOS Central, "Config Session Commit Timer", listed at
  https://eos.arista.com/author/7261-skommu/): ``configure session <name> commit timer hh:mm:ss`` applies
  the session and arms a timer; "a second commit of that session" confirms it; without it "the system will
  automatically rollback to the previous state at the end of the timer". ``configure session <name> abort``
  from exec mode while the timer runs also rolls back to the previous config (a user's write-up,
  https://advertisingemergency.net/?p=112, and what NAPALM's ``rollback()`` relies on). The session state
  after an expiry is not documented where we looked: the double forgets the session, and ``abort`` of a name
  it does not know is no error. One commit timer at a time (4.32's output has room for one name only).
- **``show configuration sessions detail``**: before EOS 4.32 a waiting session has ``state``
  ``pendingCommitTimer`` and ``commitBy`` (epoch seconds); from 4.32 every committed session says
  ``committed`` and the waiting one is named by top-level ``commitTimerSessionName`` /
  ``commitTimerExpireTime`` (both outputs as given in napalm issue #2166, which NAPALM 5.2's
  ``_get_pending_commits`` parses). ``eos_version`` picks which form the double speaks.
- **Files**: ``copy <src> <dst>`` between ``running-config``, ``startup-config`` and ``flash:<name>``;
  ``write memory`` = ``copy running-config startup-config``; ``configure replace <url>`` makes running the
  file's config. NAPALM's ``commit_config`` copies startup-config to ``flash:rollback-0`` before every commit
  and ``rollback()`` is ``configure replace flash:rollback-0`` (napalm/eos/eos.py), so EOS's rollback restores
  the startup-config saved before the last commit.
- **Errors**: an eAPI request runs its commands in order and stops at the first that fails, keeping what the
  earlier ones did (no transaction); the error is code 1002 ``CLI command N of M '<cmd>' failed: invalid
  command`` for input the CLI refuses, with ``data`` holding each earlier command's output and then
  ``{"errors": [...]}`` (as in napalm-base issue #254 and aristanetworks/anta PR #1276), 1000 ``could not run
  command`` for a valid command that fails (a missing file, an unknown session), 1003 ``unconverted command``
  for a text-only command asked for in JSON. The ``% ...`` texts of failures are the double's own wording.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.doubles.eos_config import Config, ConfigEditor, InvalidInput, parse_config
from tests.doubles.eos_show import Shows

__all__ = ["CommandFailed", "EosState", "Request", "Session"]

MAX_OPEN_SESSIONS = 5
MAX_SAVED_SESSIONS = 1


class CommandFailed(Exception):
    """A valid command that could not run (eAPI error 1000); ``text`` is what EOS prints (``% ...``)."""

    def __init__(self, text: str, code: int = 1000) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


@dataclass(slots=True)
class Session:
    """One named config session, as ``show configuration sessions`` lists it."""

    name: str
    config: Config
    state: str = "pending"  # pending -> pendingCommitTimer -> completed
    user: str = ""
    completed_at: float = 0.0
    commit_by: float = 0.0
    before_commit: Config | None = None
    timer: threading.Timer | None = None


@dataclass(slots=True)
class EosState:
    """Everything the device keeps between requests. Every method runs under ``lock``."""

    running: Config
    peers: dict[str, int]
    eos_version: str
    startup: str | None = None
    """The startup-config file: the running config's text as ``write memory`` stored it."""
    saved: str = ""
    """``Startup-config last modified at <time> by <user>``, the line ``show startup-config`` puts first."""
    flash: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    boot_time: float = field(default_factory=time.time)
    lock: threading.RLock = field(default_factory=threading.RLock)
    bgp_since: dict[str, float] = field(default_factory=dict)

    @property
    def new_syntax(self) -> bool:
        """EOS 4.32 and later: the commit-timer session is named at the top of the sessions output."""
        major, minor = (int(n) for n in re.findall(r"\d+", self.eos_version)[:2])
        return (major, minor) >= (4, 32)

    # ------------------------------------------------------------------------------ the running config
    def set_running(self, config: Config) -> None:
        with self.lock:
            self.running = config

    def save(self, user: str) -> None:
        """``write memory``: the startup-config file is now the running config."""
        self.startup = self.shows.file_text(self.running)
        self.saved = _saved_line(user)

    def read_file(self, url: str) -> str:
        if url == "running-config":
            return self.shows.file_text(self.running)
        if url == "startup-config":
            if self.startup is None:
                raise CommandFailed("% Error opening startup-config (No such file or directory)")
            return self.startup
        name = _flash_name(url)
        if name not in self.flash:
            raise CommandFailed(f"% Error opening {url} (No such file or directory)")
        return self.flash[name]

    def copy(self, source: str, dest: str, user: str) -> None:
        text = self.read_file(source)
        if dest == "startup-config":
            if source == "running-config":
                self.save(user)
            else:
                self.startup = text
                self.saved = _saved_line(user)
        elif dest == "running-config":
            self.merge_into_running(text)
        else:
            self.flash[_flash_name(dest)] = text

    def merge_into_running(self, text: str) -> None:
        """``copy <file> running-config``: the file's commands applied to the running config (a merge)."""
        editor = self.running.editor()
        for raw in text.splitlines():
            line = raw.strip()
            if line and not line.startswith("!") and line != "end":
                editor.apply(line)

    def replace_running(self, url: str) -> None:
        """``configure replace <url>``: running becomes the file's config (refused whole if invalid)."""
        try:
            config = parse_config(self.read_file(url))
        except InvalidInput as exc:
            raise CommandFailed(f"% Configuration replace failed: {exc}") from exc
        self.set_running(config)

    # ------------------------------------------------------------------------------ sessions
    def open_session(self, name: str, user: str) -> Session:
        session = self.sessions.get(name)
        if session is not None:
            if session.state != "pending":
                raise CommandFailed(f"% Cannot enter session {name} (session has already been committed)")
            return session
        if sum(s.state == "pending" for s in self.sessions.values()) >= MAX_OPEN_SESSIONS:
            raise CommandFailed(
                "% Maximum number of pending sessions has been reached. "
                "Please commit or abort one or more sessions."
            )
        session = Session(name, self.running.copy(), user=user)
        self.sessions[name] = session
        return session

    def session(self, name: str) -> Session:
        found = self.sessions.get(name)
        if found is None:
            raise CommandFailed(f"% Session {name} not found")
        return found

    def pending_timer(self) -> Session | None:
        return next((s for s in self.sessions.values() if s.state == "pendingCommitTimer"), None)

    def commit(self, name: str, timer: float | None, user: str) -> None:
        session = self.session(name)
        if session.state == "pendingCommitTimer":  # the confirm (or, with a timer, a new deadline)
            self._cancel_timer(session)
            if timer is None:
                self._complete(session)
            else:
                self._arm(session, timer)
            return
        if session.state != "pending":
            raise CommandFailed(f"% Session {name} has already been committed")
        if timer is None:
            self.set_running(session.config.copy())
            self._complete(session)
            return
        waiting = self.pending_timer()
        if waiting is not None:
            raise CommandFailed(f"% Session {waiting.name} has a pending commit timer")
        session.before_commit = self.running.copy()
        session.user = user
        self.set_running(session.config.copy())
        session.state = "pendingCommitTimer"
        session.completed_at = time.time()
        self._arm(session, timer)

    def abort(self, name: str) -> None:
        """``configure session <name> abort``: gone; a waiting commit is rolled back first. An unknown name is
        no error (the double's choice: EOS's answer for it is not documented where we looked)."""
        session = self.sessions.get(name)
        if session is None:
            return
        if session.state == "pendingCommitTimer":
            self._revert(session)
        self.sessions.pop(name, None)

    def expire(self, name: str) -> None:
        """The commit timer of ``name`` ran out: the config from before that commit comes back."""
        with self.lock:
            session = self.sessions.get(name)
            if session is not None and session.state == "pendingCommitTimer":
                self._revert(session)
                self.sessions.pop(name, None)

    def fire_timer(self) -> None:
        with self.lock:
            waiting = self.pending_timer()
            if waiting is not None:
                self.expire(waiting.name)

    def stop(self) -> None:
        with self.lock:
            for session in self.sessions.values():
                self._cancel_timer(session)

    def _arm(self, session: Session, seconds: float) -> None:
        session.commit_by = time.time() + seconds
        timer = threading.Timer(seconds, self.expire, args=(session.name,))
        timer.daemon = True
        session.timer = timer
        timer.start()

    @staticmethod
    def _cancel_timer(session: Session) -> None:
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None

    def _revert(self, session: Session) -> None:
        self._cancel_timer(session)
        if session.before_commit is not None:
            self.set_running(session.before_commit)
        session.state = "aborted"

    def _complete(self, session: Session) -> None:
        session.state = "completed"
        session.completed_at = time.time()
        session.before_commit = None
        done = sorted(
            (s for s in self.sessions.values() if s.state == "completed"), key=lambda s: s.completed_at
        )
        for old in done[: max(0, len(done) - MAX_SAVED_SESSIONS)]:
            self.sessions.pop(old.name, None)

    def sessions_json(self, detail: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"sessions": {}, "maxSavedSessions": MAX_SAVED_SESSIONS}
        out["maxOpenSessions"] = MAX_OPEN_SESSIONS
        if self.new_syntax:
            out.update(mergeOnCommit=False, saveToStartupConfigOnCommit=False)
        for s in self.sessions.values():
            entry: dict[str, Any] = {"state": s.state, "description": "", "instances": {}}
            if self.new_syntax and s.state in ("completed", "pendingCommitTimer"):
                entry["state"] = "committed"
            if s.state != "pending":
                entry.update(completedTime=s.completed_at, commitUser=s.user)
            if detail and s.state == "pendingCommitTimer" and not self.new_syntax:
                entry["commitBy"] = s.commit_by
            out["sessions"][s.name] = entry
        waiting = self.pending_timer()
        if waiting is not None and self.new_syntax:
            out.update(commitTimerSessionName=waiting.name, commitTimerExpireTime=waiting.commit_by)
        return out

    def diffs(self, name: str) -> str:
        """``show session-config named <name> diffs``: a unified diff, running-config -> session-config."""
        session = self.session(name)
        lines = difflib.unified_diff(
            self.shows.running_config().splitlines(),
            self.shows.running_config(session.config).splitlines(),
            "system:/running-config",
            f"session:/{name}-session-config",
            lineterm="",
        )
        text = "\n".join(lines)
        return text + "\n" if text else ""

    @property
    def shows(self) -> Shows:
        return Shows(self)


def _saved_line(user: str) -> str:
    """What ``show startup-config`` says of the last save (two spaces after ``at``, as EOS prints it)."""
    return (
        f"Startup-config last modified at  {time.strftime('%a %b %d %H:%M:%S %Y', time.gmtime())} by {user}"
    )


def _flash_name(url: str) -> str:
    if not url.startswith("flash:") or not re.fullmatch(r"flash:/?[\w.-]+", url):
        raise InvalidInput(url, 0)
    return url.removeprefix("flash:").lstrip("/")


@dataclass(slots=True)
class Request:
    """One eAPI request: a fresh CLI session (exec mode) that its commands move through, in order."""

    state: EosState
    user: str
    fmt: str
    mode: str = "exec"  # exec | enable | session | config
    session: Session | None = None
    editor: ConfigEditor | None = None

    def run(self, command: str) -> dict[str, Any]:
        """One command's result in the request's format; raises ``InvalidInput`` or ``CommandFailed``."""
        line = command.strip()
        words = line.split()
        if not words or line.startswith("!"):
            return self._empty()
        if words[0] == "show":
            return self.state.shows.run(words, self.fmt, self.session)
        if self.mode in ("session", "config"):
            return self._config_mode(line, words)
        return self._exec(line, words)

    def _empty(self) -> dict[str, Any]:
        return {"output": ""} if self.fmt == "text" else {}

    def _message(self, text: str) -> dict[str, Any]:
        return {"output": text + "\n"} if self.fmt == "text" else {"messages": [text]}

    def _exec(self, line: str, words: list[str]) -> dict[str, Any]:  # noqa: PLR0911 - one per command
        st = self.state
        if words == ["enable"]:
            self.mode = "enable"
            return self._empty()
        if words in (["configure"], ["configure", "terminal"]):
            self.mode, self.session, self.editor = "config", None, st.running.editor()
            return self._empty()
        if words[:2] == ["configure", "session"] and len(words) <= 3:
            name = words[2] if len(words) == 3 else f"session{int(time.time() * 1000)}"
            self.session = st.open_session(name, self.user)
            self.mode, self.editor = "session", self.session.config.editor()
            return self._empty()
        if words[:2] == ["configure", "session"] and len(words) == 4 and words[3] == "abort":
            st.abort(words[2])
            return self._empty()
        if words[:2] == ["configure", "session"] and words[3:4] == ["commit"]:
            st.commit(words[2], _timer(line, words[4:]), self.user)
            return self._empty()
        if words[:2] == ["no", "configure"] and len(words) == 4 and words[2] == "session":
            st.abort(words[3])
            return self._empty()
        if words[:2] == ["configure", "replace"] and len(words) in (3, 4) and words[3:] in ([], ["force"]):
            st.replace_running(words[2])
            return self._empty()
        if words[0] == "copy" and len(words) == 3:
            st.copy(words[1], words[2], self.user)
            return self._message("Copy completed successfully.")
        if words in (["write"], ["write", "memory"]):
            st.save(self.user)
            return self._message("Copy completed successfully.")
        raise InvalidInput(line, 0 if words[0] not in ("configure", "copy", "write") else 1)

    def _config_mode(self, line: str, words: list[str]) -> dict[str, Any]:
        st = self.state
        if words == ["end"]:
            self._leave()
        elif words == ["exit"]:
            if self.editor is None or not self.editor.exit():
                self._leave()
        elif self.mode == "session" and words == ["rollback", "clean-config"]:
            assert self.session is not None
            self.session.config.sections.clear()
            self.editor = self.session.config.editor()
        elif self.mode == "session" and words[0] in ("commit", "abort"):
            assert self.session is not None
            name = self.session.name
            self._leave()
            if words[0] == "abort":
                st.abort(name)
            else:
                st.commit(name, _timer(line, words[1:]), self.user)
        else:
            assert self.editor is not None
            self.editor.apply(line)  # configure terminal: the running config itself; a session: its own
        return self._empty()

    def _leave(self) -> None:
        self.mode, self.session, self.editor = "enable", None, None


def _timer(line: str, words: list[str]) -> float | None:
    """``timer hh:mm:ss`` after ``commit`` (EOS takes the time as hh:mm:ss); None for a plain commit."""
    if not words:
        return None
    match = (
        re.fullmatch(r"(\d{1,2}):(\d{2}):(\d{2})", words[1])
        if words[:1] == ["timer"] and len(words) == 2
        else None
    )
    if match is None:
        raise InvalidInput(line, 4)
    h, m, s = (int(g) for g in match.groups())
    seconds = h * 3600 + m * 60 + s
    if seconds < 1 or m > 59 or s > 59:
        raise InvalidInput(line, 5)
    return float(seconds)
