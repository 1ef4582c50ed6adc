"""Real routers: deploying one changed FRR router end to end vs the bare NAPALM call sequence.

Needs root and the FRR lab (``netimmutable.lab``: Debian packages frr, frr-pythontools, openssh-server).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.common import BenchResult

__all__ = ["run"]


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    missing = [tool for tool in ("vtysh", "ip", "sshd") if shutil.which(tool) is None]
    if missing:
        return (
            f"FRR lab not available: {', '.join(missing)} not installed "
            "(apt-get install frr frr-pythontools openssh-server)"
        )
    try:
        import netimmutable.lab  # noqa: F401
    except ImportError as exc:
        return f"netimmutable.lab cannot be imported: {exc}"
    return None


def run(work: Path, quick: bool) -> BenchResult:
    del work, quick
    why = _unavailable() or "not implemented yet (the lab comparison is still to be written)"
    return BenchResult("frr", status="skipped", reason=why)
