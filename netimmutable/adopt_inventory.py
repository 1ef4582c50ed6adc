"""The inventory side of ``adopt``: the hosts to add (from a ``hosts.yaml``-style file or a Nornir
SimpleInventory folder) and the edits adopt makes to ``inventory/hosts.yaml`` and ``groups.yaml``, as text
(comments and layout stay).

A Nornir inventory folder holds ``hosts.yaml`` and, optionally, ``groups.yaml`` and ``defaults.yaml``. Each
host's platform is resolved as Nornir does (the host's own, else its groups' in order, each group before
its parent groups, else the defaults'), and written on the added host; groups it names that the repository's
``groups.yaml`` lacks are appended to it (with their ``platform``, ``groups`` and ``data``: connection
details and credentials never come into committed files).

Examples:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "hosts.yaml").write_text("r6: {hostname: 192.0.2.6, groups: [edge]}\\n")
    >>> _ = (folder / "groups.yaml").write_text("edge: {groups: [site]}\\nsite: {platform: eos}\\n")
    >>> found = read_hosts_to_add(folder, known=set(), known_groups=set())
    >>> found.hosts["r6"], sorted(found.groups)
    ({'platform': 'eos', 'hostname': '192.0.2.6', 'groups': ['edge']}, ['edge', 'site'])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netimmutable.errors import InputError
from netimmutable.inventory import HOST_NAME_RE

__all__ = ["HostsToAdd", "add_groups", "append_host", "read_hosts_to_add", "set_data"]

_GROUP_FIELDS = ("platform", "groups", "data")
"""What an added group brings into groups.yaml (never connection details or credentials)."""


@dataclass(frozen=True, slots=True)
class HostsToAdd:
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Host name -> the entry to append (``platform`` resolved, ``hostname``, ``groups``)."""
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Groups the added hosts need that the repository's groups.yaml lacks -> their definition."""


def _read_mapping(path: Path, what: str, required: bool) -> dict[Any, Any]:
    if not required and not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the {what}: {exc}", file=str(path)) from None
    if data is None and not required:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"the {what} must be a mapping", file=str(path))
    return data


def _platform(
    spec: Mapping[str, Any],
    groups: Mapping[str, Any],
    defaults: Mapping[str, Any],
    seen: tuple[str, ...] = (),
) -> Any:
    """Nornir's resolution: the element's own ``platform``, else each of its groups' (depth first, in
    order), else the defaults'."""
    if spec.get("platform") is not None:
        return spec["platform"]
    for group in spec.get("groups") or ():
        if isinstance(group, str) and group not in seen and isinstance(groups.get(group), dict):
            found = _platform(groups[group], groups, {}, (*seen, group))
            if found is not None:
                return found
    return defaults.get("platform")


def _needed_groups(names: list[str], groups: Mapping[str, Any], known: set[str], file: str) -> list[str]:
    """``names`` and their parent groups that the repository lacks, each once, parents after children."""
    out: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop(0)
        if name in known or name in out:
            continue
        spec = groups.get(name)
        if not isinstance(spec, dict):
            raise InputError(
                f"group {name!r} is neither in the repository's inventory nor in the inventory to add",
                file=file,
            )
        out.append(name)
        todo.extend(str(g) for g in spec.get("groups") or ())
    return out


def read_hosts_to_add(path: Path, known: set[str], known_groups: set[str]) -> HostsToAdd:
    """The hosts of ``path`` (a hosts.yaml-style file, or a Nornir inventory folder) that are not in
    ``known``, with the groups they need that are not in ``known_groups``."""
    folder = path if path.is_dir() else None
    hosts_file = folder / "hosts.yaml" if folder else path
    data = _read_mapping(hosts_file, "hosts to add", required=True)
    groups = _read_mapping(folder / "groups.yaml", "groups", required=False) if folder else {}
    defaults = _read_mapping(folder / "defaults.yaml", "defaults", required=False) if folder else {}
    found = HostsToAdd()
    for name, given in data.items():
        if str(name) in known:
            continue
        if not isinstance(name, str) or not HOST_NAME_RE.match(name):
            raise InputError(f"host name {name!r} is not valid", file=str(hosts_file))
        spec: Mapping[str, Any] = given if isinstance(given, dict) else {}
        platform = _platform(spec, groups, defaults)
        if not isinstance(platform, str) or not platform:
            where = "its own, its groups' nor the defaults'" if folder else "its own"
            raise InputError(
                f"no platform ({where}): give at least its platform", file=str(hosts_file), host=name
            )
        entry: dict[str, Any] = {"platform": platform}
        if isinstance(spec.get("hostname"), str):
            entry["hostname"] = spec["hostname"]
        if isinstance(spec.get("groups"), list):
            entry["groups"] = [str(g) for g in spec["groups"]]
            needed = _needed_groups(entry["groups"], groups, known_groups | set(found.groups), str(path))
            for group in needed:
                found.groups[group] = {k: groups[group][k] for k in _GROUP_FIELDS if k in groups[group]}
        found.hosts[name] = entry
    return found


def _append(file: Path, block: Mapping[str, Any]) -> None:
    text = file.read_text(encoding="utf-8") if file.exists() else ""
    dumped = yaml.safe_dump(dict(block), sort_keys=False)
    file.write_text(text + ("" if not text or text.endswith("\n") else "\n") + dumped, "utf-8")


def append_host(hosts_file: Path, host: str, entry: Mapping[str, Any], template: str) -> None:
    """Append ``host`` to hosts.yaml with ``entry`` and the data key ``template``."""
    _append(hosts_file, {host: {**entry, "data": {"template": template}}})


def add_groups(groups_file: Path, groups: Mapping[str, Mapping[str, Any]]) -> None:
    """Append ``groups`` to groups.yaml."""
    if groups:
        _append(groups_file, groups)


def set_data(hosts_file: Path, host: str, key: str, value: str) -> None:
    """Add ``key: value`` (YAML text) to ``host``'s data in hosts.yaml, editing its block as text."""
    text = hosts_file.read_text(encoding="utf-8") if hosts_file.exists() else ""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if re.match(rf"{re.escape(host)}:\s*(#.*)?$", ln)), None)
    if start is None:
        raise InputError(
            f"{host} is not a block of its own in hosts.yaml (flow style?): add `{key}: {value}` to its data "
            "by hand",
            file=str(hosts_file),
            host=host,
        )
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in (" ", "\t", "\n", "#")), len(lines)
    )
    data_at = next((i for i in range(start + 1, end) if re.match(r"  data:\s*(#.*)?$", lines[i])), None)
    if data_at is None:
        lines.insert(start + 1, f"  data:\n    {key}: {value}\n")
    else:
        lines.insert(data_at + 1, f"    {key}: {value}\n")
    hosts_file.write_text("".join(lines), encoding="utf-8")
