"""What the lab API returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["LabKind", "LabRouterStatus", "LabStatus"]

LabKind = Literal["frr", "sim"]


@dataclass(frozen=True, slots=True)
class LabRouterStatus:
    name: str
    mgmt_address: str
    running: bool
    bgp_established: int
    """BGP sessions of this router in state Established."""
    bgp_configured: int
    """BGP sessions the inventory configures on this router."""
    namespace: str | None = None
    """Network namespace (real lab only)."""

    @property
    def healthy(self) -> bool:
        return self.running and self.bgp_established >= self.bgp_configured


@dataclass(frozen=True, slots=True)
class LabStatus:
    repo_root: Path
    up: bool
    kind: LabKind | None = None
    routers: tuple[LabRouterStatus, ...] = ()
    connections_file: Path | None = None
    started_at: str | None = None
    """UTC time (ISO 8601) the lab came up."""
    up_seconds: float | None = None
    """How long `lab up` took, BGP convergence included."""
    already_up: bool = False
    """`lab up` found this lab up and touched nothing (``--rebuild`` builds it anew)."""

    @property
    def healthy(self) -> bool:
        return self.up and all(r.healthy for r in self.routers)

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": str(self.repo_root),
            "up": self.up,
            "healthy": self.healthy,
            "kind": self.kind,
            "started_at": self.started_at,
            "up_seconds": self.up_seconds,
            "already_up": self.already_up,
            "connections_file": str(self.connections_file) if self.connections_file else None,
            "routers": [
                {
                    "name": r.name,
                    "mgmt_address": r.mgmt_address,
                    "namespace": r.namespace,
                    "running": r.running,
                    "bgp_established": r.bgp_established,
                    "bgp_configured": r.bgp_configured,
                }
                for r in self.routers
            ],
        }
