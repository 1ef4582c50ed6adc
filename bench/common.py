"""What every benchmark shares: timing, the result model, and the machine description."""

from __future__ import annotations

import gc
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "BenchResult",
    "Figure",
    "Ratio",
    "Timing",
    "machine_info",
    "quiet",
    "timed",
]


@dataclass(slots=True)
class Timing:
    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def timed() -> Iterator[Timing]:
    """Wall and process CPU seconds of the block (after a full collection: earlier garbage is not billed)."""
    gc.collect()
    result = Timing()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result.wall = time.perf_counter() - wall0
        result.cpu = time.process_time() - cpu0


@contextmanager
def quiet() -> Iterator[None]:
    """Swallow what the measured code prints (the CLI's human output)."""
    with Path(os.devnull).open("w") as sink, redirect_stdout(sink), redirect_stderr(sink):
        yield


@dataclass(slots=True)
class Figure:
    name: str
    value: float
    unit: str
    note: str = ""


@dataclass(slots=True)
class Ratio:
    """``value`` = numerator / denominator; ``passed`` compares it with ``limit`` using ``op``."""

    name: str
    value: float
    op: Literal["<=", ">=", "<"]
    limit: float
    numerator: str
    denominator: str
    passed: bool = False

    def __post_init__(self) -> None:
        if self.op == "<=":
            self.passed = self.value <= self.limit
        elif self.op == ">=":
            self.passed = self.value >= self.limit
        else:
            self.passed = self.value < self.limit

    @property
    def target(self) -> str:
        return f"{self.op} {self.limit:g}"


@dataclass(slots=True)
class BenchResult:
    name: str
    status: Literal["ok", "skipped", "error"] = "ok"
    reason: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def figure(self, name: str, value: float, unit: str, note: str = "") -> None:
        self.figures.append(Figure(name, value, unit, note))

    def ratio(
        self,
        name: str,
        numerator: tuple[str, float],
        denominator: tuple[str, float],
        op: Literal["<=", ">=", "<"],
        limit: float,
    ) -> Ratio:
        value = numerator[1] / denominator[1] if denominator[1] else float("inf")
        item = Ratio(name, value, op, limit, numerator[0], denominator[0])
        self.ratios.append(item)
        return item

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for ratio, item in zip(self.ratios, data["ratios"], strict=True):
            item["target"] = ratio.target
        return data


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_version() -> str:
    try:
        out = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.strip().removeprefix("git version ")


def _cpu_model() -> str:
    try:
        with Path("/proc/cpuinfo").open() as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    from netimmutable import __version__

    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "load_average": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "versions": {
            "netimmutable": __version__,
            "jinja2": _version("jinja2"),
            "nornir": _version("nornir"),
            "nornir_jinja2": _version("nornir-jinja2"),
            "nornir_utils": _version("nornir-utils"),
            "napalm": _version("napalm"),
            "pyyaml": _version("pyyaml"),
            "gitpython": _version("gitpython"),
            "git": _git_version(),
        },
    }


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
