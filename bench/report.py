"""The printed table and ``bench/results.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.common import BenchResult

__all__ = ["format_table", "write_results"]


def _value(value: float, unit: str) -> str:
    if math.isinf(value) or math.isnan(value):
        return str(value)
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit in ("hosts/s", "calls"):
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def format_table(results: list[BenchResult]) -> str:
    lines: list[str] = []
    for res in results:
        lines.append("")
        head = f"== {res.name}"
        if res.status != "ok":
            lines.append(f"{head}: {res.status}: {res.reason}")
            continue
        inputs = ", ".join(f"{k}={v}" for k, v in res.inputs.items())
        lines.append(f"{head} ({res.seconds:.0f} s)  {inputs}")
        for fig in res.figures:
            lines.append(f"  {fig.name:<44} {_value(fig.value, fig.unit):>16}  {fig.note}")
        for ratio in res.ratios:
            verdict = "PASS" if ratio.passed else "MISS"
            lines.append(
                f"  ratio {ratio.name:<38} {ratio.value:>10.3f}x  target {ratio.target:<7} {verdict}"
                f"  ({ratio.numerator} / {ratio.denominator})"
            )
        lines.extend(f"  note: {note}" for note in res.notes)
    return "\n".join(lines)


def write_results(
    path: Path, machine: dict[str, Any], args: dict[str, Any], results: list[BenchResult]
) -> None:
    ratios = [r for res in results for r in res.ratios]
    data = {
        "machine": machine,
        "run": args,
        "benchmarks": {res.name: res.to_json() for res in results},
        "summary": {
            "ratios": len(ratios),
            "passed": sum(r.passed for r in ratios),
            "missed": [f"{res.name}: {r.name}" for res in results for r in res.ratios if not r.passed],
            "skipped": {res.name: res.reason for res in results if res.status == "skipped"},
            "errors": {res.name: res.reason for res in results if res.status == "error"},
        },
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
