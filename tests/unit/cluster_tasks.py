"""Module-level task functions the cluster tests send to real ``dask worker`` processes (importable there
through ``PYTHONPATH``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from netimmutable.cluster import host_from_payload


def describe(payload: dict[str, Any]) -> dict[str, Any]:
    """What the worker made of the payload: the rebuilt host, its password (from the worker's own
    environment) and the worker's PID."""
    host = host_from_payload(payload)
    return {
        "name": host.name,
        "hostname": host.hostname,
        "platform": host.platform,
        "password": host.password,
        "site": host.get("site"),
        "pid": os.getpid(),
    }


def slow(payload: dict[str, Any]) -> dict[str, Any]:
    """Announce the start (a file per attempt), sleep, return the PID."""
    marks = Path(payload["marks"])
    (marks / f"{payload['name']}.{os.getpid()}").write_text("started")
    time.sleep(float(payload["sleep"]))
    return {"pid": os.getpid()}


def boom(payload: dict[str, Any]) -> None:
    raise ValueError(f"bad payload for {payload['name']}")
