"""A network repo with the example network, released, and a sim lab of its four routers running it.

Used by the records, plan and recover tests (plain functions: each test says what it builds).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from netimmutable.artifacts import commit_release, open_git
from netimmutable.drivers.sim.lab import SimLab
from netimmutable.inventory import load_inventory
from netimmutable.journal import Journal, journal_path
from netimmutable.render import compare_snapshots, render_hosts, write_snapshots
from netimmutable.repo import NetworkRepo, open_repo
from netimmutable.scaffold import init_repo

GOOD_CHANGE = {"inventory/hosts.yaml": ("description: to r2, peer: r2", "description: to r2 link, peer: r2")}
"""r1: a new interface description (expectations follow): verifies."""
BAD_CHANGE = {
    "inventory/hosts.yaml": (
        "{address: 10.255.12.2, remote_as: 65002",
        "{address: 10.255.12.2, remote_as: 65099",
    )
}
"""r1: a wrong remote AS for r2: the session never comes up, r1's expectations fail."""

__all__ = [
    "BAD_CHANGE",
    "GOOD_CHANGE",
    "ROUTERS",
    "Net",
    "git",
    "make_net",
    "release",
    "run_python",
    "start_python",
]

ROUTERS = ("r1", "r2", "r3", "r4")
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.net",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.net",
}
ROOT = Path(__file__).resolve().parents[2]


def git(root: Path, *args: str) -> str:
    env = {**os.environ, **_GIT_ENV}
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True)
    return done.stdout


@dataclass(frozen=True)
class Net:
    root: Path
    lab: SimLab
    first: str
    """The first release (every router runs it)."""

    @property
    def repo(self) -> NetworkRepo:
        return open_repo(self.root)

    def artifact(self, host: str) -> str:
        return (self.root / "snapshots" / f"{host}.cfg").read_text()


def release(root: Path, message: str, edit: dict[str, tuple[str, str]] | None = None) -> str:
    """Edit files (path -> (old, new) text replacement), render every host and commit a release."""
    for rel, (old, new) in (edit or {}).items():
        path = root / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))
    repo = open_repo(root)
    loaded = load_inventory(repo)
    rendered = render_hosts(repo, loaded.hosts())
    write_snapshots(repo, rendered, compare_snapshots(repo, rendered, [h.name for h in loaded.hosts()]))
    gitrepo = open_git(repo)
    with gitrepo.config_writer() as cfg:
        cfg.set_value("user", "name", "Test Author")
        cfg.set_value("user", "email", "author@example.net")
    result = commit_release(repo, gitrepo, rendered, message)
    assert result.release is not None
    return result.release.sha


def make_net(tmp: Path) -> Net:
    root = tmp / "net"
    init_repo(root, example=True)
    settings = root / "netimmutable.yaml"
    text = settings.read_text()
    assert "settle_timeout: 60 " in text
    assert "soak: auto " in text
    text = text.replace("settle_timeout: 60 ", "settle_timeout: 1\n  settle_interval: 0.1 #")
    settings.write_text(text.replace("soak: auto ", "soak: 0 #"))
    first = release(root, "first release")
    lab = SimLab(root / ".netimmutable" / "lab" / "sim")
    connections: dict[str, dict[str, object]] = {"hosts": {}}
    for host in ROUTERS:
        lab.create(host, (root / "snapshots" / f"{host}.cfg").read_text())
        connections["hosts"][host] = lab.connection_entry(host)
    (root / ".netimmutable" / "connections.yaml").write_text(yaml.safe_dump(connections))
    return Net(root, lab, first)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def start_python(code: str, *args: str) -> subprocess.Popen[str]:
    """Start ``code`` in a fresh interpreter (another process), the repository on its path.
    Finish with ``proc.communicate()`` (it closes the pipes)."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in another process to its end."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def dead_run_journal(repo: NetworkRepo, run_id: str, release: str, host: str, **details: str | int) -> None:
    """The journal of a run that died after beginning the commit on ``host``: its process is gone."""
    journal = Journal.open(repo, run_id, release=release)
    journal.before(host, "commit", release=release, **details)
    journal.abandon()
    path = journal_path(repo, run_id)
    lines = path.read_text().splitlines()
    head = json.loads(lines[0])
    head["pid"] = 2**30  # no such process
    path.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")
