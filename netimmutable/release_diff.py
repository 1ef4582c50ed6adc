"""Per-device diffs of rendered artifacts between two releases: what change-management reviewers read."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from netimmutable.artifacts import host_of
from netimmutable.render import CONFIG_SUFFIX, EXPECT_SUFFIX

__all__ = ["HostDiff", "diff_artifacts", "format_json", "format_markdown", "format_text"]

Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class HostDiff:
    host: str
    change: Change
    added: int
    removed: int
    expectations_changed: bool
    diff: str
    """Unified diff of the rendered config (and of the expectations, when they changed)."""


def _unified(old: str | None, new: str | None, name: str, a_label: str, b_label: str) -> tuple[str, int, int]:
    old_lines = (old or "").splitlines(keepends=True)
    new_lines = (new or "").splitlines(keepends=True)
    lines = list(
        difflib.unified_diff(
            old_lines,
            new_lines,
            fromfile=f"{a_label}/{name}" if old is not None else "/dev/null",
            tofile=f"{b_label}/{name}" if new is not None else "/dev/null",
            n=3,
        )
    )
    added = sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++"))
    removed = sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))
    text = "".join(ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines)
    return text, added, removed


def diff_artifacts(
    old: Mapping[str, str], new: Mapping[str, str], a_label: str = "a", b_label: str = "b"
) -> tuple[HostDiff, ...]:
    """Diffs per host between two artifact sets (file name -> content); unchanged hosts are left out."""
    hosts = sorted({host_of(f) for f in (*old, *new)})
    result: list[HostDiff] = []
    for host in hosts:
        cfg, exp = f"{host}{CONFIG_SUFFIX}", f"{host}{EXPECT_SUFFIX}"
        if old.get(cfg) == new.get(cfg) and old.get(exp) == new.get(exp):
            continue
        cfg_diff, added, removed = _unified(old.get(cfg), new.get(cfg), cfg, a_label, b_label)
        exp_changed = old.get(exp) != new.get(exp)
        exp_diff = _unified(old.get(exp), new.get(exp), exp, a_label, b_label)[0] if exp_changed else ""
        change: Change = "added" if cfg not in old else "removed" if cfg not in new else "changed"
        result.append(HostDiff(host, change, added, removed, exp_changed, cfg_diff + exp_diff))
    return tuple(result)


def format_text(diffs: Sequence[HostDiff], a: str, b: str) -> str:
    if not diffs:
        return f"no device changes between {a} and {b}\n"
    out = [f"{len(diffs)} device(s) differ between {a} and {b}\n\n"]
    out.append(f"{'host':<24} {'change':<8} {'+lines':>7} {'-lines':>7}  expectations\n")
    for d in diffs:
        exp = "changed" if d.expectations_changed else "-"
        out.append(f"{d.host:<24} {d.change:<8} {d.added:>7} {d.removed:>7}  {exp}\n")
    for d in diffs:
        out.append(f"\n=== {d.host} ({d.change}, +{d.added} -{d.removed})\n{d.diff}")
    return "".join(out)


def format_markdown(diffs: Sequence[HostDiff], a: str, b: str) -> str:
    """Ready to paste as a merge-request comment: a summary table, one collapsible section per host."""
    if not diffs:
        return f"**netimmutable**: no device changes between `{a}` and `{b}`.\n"
    out = [
        f"### netimmutable: {len(diffs)} device(s) change between `{a}` and `{b}`\n\n",
        "| host | change | lines added | lines removed | expectations |\n|---|---|---:|---:|---|\n",
    ]
    for d in diffs:
        exp = "changed" if d.expectations_changed else "-"
        out.append(f"| `{d.host}` | {d.change} | {d.added} | {d.removed} | {exp} |\n")
    for d in diffs:
        fence = "````" if "```" in d.diff else "```"
        out.append(
            f"\n<details><summary><code>{d.host}</code>: {d.change}, +{d.added} -{d.removed}</summary>\n\n"
            f"{fence}diff\n{d.diff}{fence}\n\n</details>\n"
        )
    return "".join(out)


def format_json(diffs: Sequence[HostDiff], a: str, b: str) -> str:
    payload = {"schema": "netimmutable.diff/1", "from": a, "to": b, "hosts": [asdict(d) for d in diffs]}
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"
