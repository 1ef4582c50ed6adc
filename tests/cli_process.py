"""`netimmutable` run as its own process, for tests that signal or kill it mid-run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def spawn_cli(*args: str, new_session: bool = False) -> subprocess.Popen[str]:
    """Start ``python -m netimmutable ARGS`` with this checkout's package; ``new_session``: in a process group
    of its own, like a shell's foreground job, so ``os.killpg`` is what a terminal's Ctrl-C does."""
    return subprocess.Popen(
        [sys.executable, "-m", "netimmutable", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def read_until(proc: subprocess.Popen[str], marker: str) -> str:
    """Its standard error up to and including the first line holding ``marker`` (fails if it never comes)."""
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never came; it printed:\n{''.join(seen)}")
