"""What the frr driver keeps and runs on the router: its working folder, and the shell snippets it sends.

Working folder (``optional_args["workdir"]``, default ``/etc/frr/netimmutable``, mode 0700)::

    candidate.conf    replace candidate (between load_replace_candidate and commit/discard)
    merge.conf        merge candidate
    rollback.conf     running-config before the last commit: what rollback() and the revert timer restore
    rollback.new      the same, while a commit is being applied
    startup.pre       /etc/frr/frr.conf before a commit that still waits for confirm_commit
    pending           token of the pending commit (exists only while a revert timer is armed)
    pending.pid       pid (= process group) of the detached revert timer
    revert.sh         the timer's script; revert.log its output
    lock              flock(1) lock shared by the timer, confirm_commit and rollback

The revert timer runs in its own session (``setsid``) with no tie to the SSH connection, so it fires even
when the connection dropped and the process that committed was killed.
"""

from __future__ import annotations

import re
import shlex

__all__ = [
    "ANSI_RE",
    "DEFAULT_RELOAD",
    "DEFAULT_WORKDIR",
    "REVERT_SCRIPT",
    "Paths",
]

DEFAULT_WORKDIR = "/etc/frr/netimmutable"
DEFAULT_RELOAD = "/usr/lib/frr/frr-reload.py"
STARTUP = "/etc/frr/frr.conf"
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")

REVERT_SCRIPT = """\
#!/bin/sh
# netimmutable frr driver: device-side revert timer, armed by commit_config(revert_in=N).
# usage: revert.sh WORKDIR SECONDS TOKEN RELOAD
# After SECONDS it restores WORKDIR/rollback.conf, unless confirm_commit() or rollback() took the
# pending commit (file WORKDIR/pending holding TOKEN) away first. Runs detached (setsid), independent
# of any SSH session.
set -u
dir=$1 seconds=$2 token=$3 reload=$4
sleep "$seconds"
exec 9>"$dir/lock"
flock 9
[ "$(cat "$dir/pending" 2>/dev/null)" = "$token" ] || exit 0
echo "$(date -u +%FT%TZ) revert timer fired: restoring rollback.conf"
"$reload" --reload --stdout --log-level warning "$dir/rollback.conf"
echo "$(date -u +%FT%TZ) frr-reload exit $?"
# frr-reload.py deletes an interface block line by line and cannot always (an interface the router does
# not have): a block rollback.conf lacks goes whole with `no interface`, then frr-reload.py runs again
removed=$(vtysh -c 'show running-config no-header' | sed -n 's/^interface //p' | while read -r name; do
    grep -qx "interface $name" "$dir/rollback.conf" && continue
    vtysh -c 'configure terminal' -c "no interface $name" >/dev/null && echo "removed interface $name whole"
done)
if [ -n "$removed" ]; then
    echo "$removed"
    "$reload" --reload --stdout --log-level warning "$dir/rollback.conf"
    echo "$(date -u +%FT%TZ) frr-reload exit $? (after removing interface blocks whole)"
fi
rm -f "$dir/pending" "$dir/pending.pid" "$dir/startup.pre"
"""


class Paths:
    """Shell-quoted paths of the working folder, and the snippets that use them."""

    def __init__(self, workdir: str, reload: str) -> None:
        self.workdir = workdir
        self.dir = shlex.quote(workdir)
        self.reload_cmd = shlex.quote(reload)
        self.startup = shlex.quote(STARTUP)
        q = self.q
        self.candidate, self.merge = q("candidate.conf"), q("merge.conf")
        self.rollback, self.rollback_new = q("rollback.conf"), q("rollback.new")
        self.startup_pre, self.pending, self.pending_pid = q("startup.pre"), q("pending"), q("pending.pid")
        self.revert_sh, self.revert_log, self.lock = q("revert.sh"), q("revert.log"), q("lock")

    def q(self, name: str) -> str:
        return shlex.quote(f"{self.workdir}/{name}")

    def raw(self, name: str) -> str:
        return f"{self.workdir}/{name}"

    def pending_state(self) -> str:
        """Prints ``pending``, ``stale`` (a pending file whose timer is gone) or ``none``."""
        return (
            f"if [ -f {self.pending} ]; then p=$(cat {self.pending_pid} 2>/dev/null); "
            f'if [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -q revert.sh /proc/"$p"/cmdline; '
            "then echo pending; else echo stale; fi; else echo none; fi"
        )

    def disarm(self) -> str:
        """Under the lock: stop the revert timer (its whole process group) and drop the pending files.

        Prints ``disarmed`` when a pending commit was taken away, ``none`` otherwise.
        """
        return (
            f"exec 9>{self.lock}; flock 9; "
            f"if [ -f {self.pending} ]; then p=$(cat {self.pending_pid} 2>/dev/null); "
            '[ -n "$p" ] && kill -TERM -- -"$p" 2>/dev/null; '
            f"rm -f {self.pending} {self.pending_pid}; echo disarmed; else echo none; fi"
        )

    def arm(self, seconds: int, token: str) -> str:
        """Start the detached revert timer; prints its pid."""
        return (
            f"echo {shlex.quote(token)} > {self.pending} && "
            f"(setsid sh {self.revert_sh} {self.dir} {int(seconds)} {shlex.quote(token)} {self.reload_cmd} "
            f"</dev/null >>{self.revert_log} 2>&1 & echo $! > {self.pending_pid}) && cat {self.pending_pid}"
        )

    def apply(self, path: str) -> str:
        """frr-reload.py applying ``path`` (a quoted path of this folder); warnings and errors only."""
        return f"{self.reload_cmd} --reload --stdout --log-level warning {path}"

    def diff(self, path: str) -> str:
        """frr-reload.py's semantic diff between the running config and ``path``."""
        return f"{self.reload_cmd} --test --log-level error {path}"
