"""The lab's on-disk state (``<repo>/.netimmutable/lab/state.json``) and the connections file it writes.

The state is written as the lab is built, step by step, so a lab that failed half way up can still be
torn down: it lists every namespace (with its inode) and every process (with the inode of its network
namespace) the lab created.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netimmutable.fileio import atomic_write_text
from netimmutable.lab.model import LabKind
from netimmutable.lab.netns import Tracked

__all__ = ["LabState", "connections_path", "lab_dir", "load_state", "save_state", "write_connections"]

STATE_FILE = "state.json"


def lab_dir(repo_root: Path) -> Path:
    return repo_root / ".netimmutable" / "lab"


def connections_path(repo_root: Path) -> Path:
    return repo_root / ".netimmutable" / "connections.yaml"


@dataclass(slots=True)
class LabState:
    kind: LabKind
    repo_root: str
    namespaces: dict[str, int] = field(default_factory=dict)
    """namespace name -> inode, in creation order."""
    routers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """router name -> {namespace, mgmt_address, holder, bgp_peers}."""
    processes: list[Tracked] = field(default_factory=list)
    connections_sha256: str | None = None
    started_at: str | None = None
    up_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def track(self, proc: Tracked) -> None:
        if proc not in self.processes:
            self.processes.append(proc)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "repo_root": self.repo_root,
            "namespaces": self.namespaces,
            "routers": self.routers,
            "processes": [
                {"pid": p.pid, "netns_inode": p.netns_inode, "what": p.what} for p in self.processes
            ],
            "connections_sha256": self.connections_sha256,
            "started_at": self.started_at,
            "up_seconds": self.up_seconds,
            "extra": self.extra,
        }


def save_state(repo_root: Path, state: LabState) -> None:
    folder = lab_dir(repo_root)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / STATE_FILE, json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n")


def load_state(repo_root: Path) -> LabState | None:
    path = lab_dir(repo_root) / STATE_FILE
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    return LabState(
        kind=raw["kind"],
        repo_root=raw["repo_root"],
        namespaces={str(k): int(v) for k, v in raw.get("namespaces", {}).items()},
        routers=dict(raw.get("routers", {})),
        processes=[
            Tracked(int(p["pid"]), int(p["netns_inode"]), str(p["what"])) for p in raw.get("processes", [])
        ],
        connections_sha256=raw.get("connections_sha256"),
        started_at=raw.get("started_at"),
        up_seconds=raw.get("up_seconds"),
        extra=dict(raw.get("extra", {})),
    )


def write_connections(repo_root: Path, hosts: dict[str, dict[str, Any]]) -> str:
    """Write ``connections.yaml`` (CONTRACTS.md format); returns the sha256 of what was written."""
    path = connections_path(repo_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# written by `netimmutable lab up`; removed by `netimmutable lab down`\n" + yaml.safe_dump(
        {"hosts": hosts}, sort_keys=True, default_flow_style=False
    )
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def remove_connections(repo_root: Path, sha256: str | None) -> None:
    """Remove ``connections.yaml`` if it is still the one the lab wrote (a hand-edited file is kept)."""
    path = connections_path(repo_root)
    if sha256 is None or not path.is_file():
        return
    if hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
        path.unlink()
