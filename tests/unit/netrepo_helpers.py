"""Building small network repositories (real git repos) in temporary folders for the foundation's tests.

Plain functions, not fixtures, so each test says what it builds. The small network here uses a made-up
platform ``demo``: two hosts, groups and defaults inheritance, an include, a macro, network filters and an
expectations template.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from click.testing import CliRunner, Result

from netimmutable.cli import main
from netimmutable.repo import NetworkRepo, open_repo
from netimmutable.scaffold import init_repo

__all__ = [
    "SMALL_NETWORK",
    "commit_all",
    "git",
    "head",
    "make_netrepo",
    "run_cli",
    "snapshot_files",
    "write_files",
]

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.net",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.net",
}

SMALL_NETWORK: dict[str, str] = {
    "inventory/defaults.yaml": """\
platform: demo
data:
  domain: example.net
""",
    "inventory/groups.yaml": """\
core:
  data:
    role: core
    ntp: [10.0.0.1, 10.0.0.2]
edge:
  data:
    role: edge
    ntp: [10.0.0.3]
""",
    "inventory/hosts.yaml": """\
a1:
  hostname: 192.0.2.1
  groups: [core]
  data:
    loopback: 10.1.0.1/32
    links:
      - {name: eth1, address: 10.0.12.1/30}
b2:
  hostname: 192.0.2.2
  groups: [edge]
  data:
    loopback: 10.1.0.2/32
    links:
      - {name: eth1, address: 10.0.12.2/30}
""",
    "templates/demo/main.j2": """\
{% import "demo/macros.j2" as m %}
hostname {{ host.name }}
domain {{ domain }}
! role {{ role }}
{% for server in ntp %}
ntp server {{ server }}
{% endfor %}
{% include "demo/links.j2" %}
{{ m.loopback(loopback) -}}
end
""",
    "templates/demo/links.j2": """\
{% for link in links %}
interface {{ link.name }}
 ip address {{ link.address | address }} {{ link.address | netmask }}
 ! peer {{ link.address | peer_address }} in {{ link.address | network }}
{% endfor %}
""",
    "templates/demo/macros.j2": """\
{% macro loopback(addr) %}
interface lo
 ip address {{ addr | address }}/{{ addr | prefixlen }}
{% endmacro %}
""",
    "templates/demo/expect.j2": """\
- get_facts:
    hostname: {{ host.name }}
""",
}


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` with a fixed identity; return stdout."""
    env = {**os.environ, **_GIT_ENV}
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--no-verify", "-m", message)
    return head(root)


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def make_netrepo(
    root: Path, files: Mapping[str, str | bytes] | None = None, *, remove: Sequence[str] = ()
) -> NetworkRepo:
    """``netimmutable init`` a repo at ``root``, write ``files`` (default: the small network), commit them."""
    init_repo(root)
    for rel in remove:
        (root / rel).unlink()
    write_files(root, SMALL_NETWORK if files is None else files)
    commit_all(root, "test network")
    return open_repo(root)


def snapshot_files(root: Path, snapshots_dir: str = "snapshots") -> dict[str, bytes]:
    """Every file of ``snapshots/`` except dot files: name -> bytes."""
    folder = root / snapshots_dir
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def run_cli(args: Sequence[str], *, color: bool = False) -> Result:
    """Invoke ``netimmutable`` in-process (stdout and stderr kept apart)."""
    return CliRunner().invoke(main, list(args), color=color, catch_exceptions=False)
