"""The validated inventory, cached by the bytes of ``hosts.yaml``, ``groups.yaml`` and ``defaults.yaml``.

Parsing YAML is most of the time of a large render (PyYAML constructs every value in Python, about
1 MB/s even with libyaml); an inventory that loaded and validated once loads and validates the same way
from the same bytes. The entry holds each element's own fields and parent groups, exactly what
``load_inventory`` built, and is rebuilt into the same Nornir objects. Only plain JSON data is cached
(an inventory holding dates, binary values or ordered pairs is simply never cached).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nornir.core.inventory import (
    ConnectionOptions,
    Defaults,
    Group,
    Groups,
    Host,
    Hosts,
    Inventory,
    ParentGroups,
)

from netimmutable import __version__
from netimmutable.localcache import digest_of, entry_text, read_entry, source_digest, write_entry
from netimmutable.repo import NetworkRepo

__all__ = ["INVENTORY_FILES", "InventoryCache"]

INVENTORY_FILES = ("hosts.yaml", "groups.yaml", "defaults.yaml")
_ENTRY = "inventory.json"
_ATTRS = ("hostname", "port", "username", "password", "platform")
_Probe = tuple[tuple[str, int, int, int], ...]


def _own(element: Any, name: str) -> Any:
    """An element's own attribute (Nornir's Host resolves hostname/platform/... through its groups)."""
    return object.__getattribute__(element, name)


def _options(element: Any) -> dict[str, dict[str, Any]]:
    options: dict[str, ConnectionOptions] = _own(element, "connection_options")
    return {
        name: {**{a: _own(opt, a) for a in _ATTRS}, "extras": _own(opt, "extras")}
        for name, opt in options.items()
    }


def _fields(element: Any, with_groups: bool = True) -> dict[str, Any]:
    fields: dict[str, Any] = {a: _own(element, a) for a in _ATTRS}
    fields["data"] = _own(element, "data")
    fields["connection_options"] = _options(element)
    if with_groups:
        fields["groups"] = [g.name for g in _own(element, "groups")]
    return fields


def _rebuild_options(spec: dict[str, dict[str, Any]]) -> dict[str, ConnectionOptions]:
    return {name: ConnectionOptions(**opt) for name, opt in spec.items()}


def _rebuild(entry: dict[str, Any]) -> tuple[Inventory, dict[str, int], str]:
    d = entry["defaults"]
    defaults = Defaults(
        data=d["data"],
        connection_options=_rebuild_options(d["connection_options"]),
        **{a: d[a] for a in _ATTRS},
    )
    groups = Groups()
    for name, g in entry["groups"].items():
        groups[name] = Group(
            name=name,
            defaults=defaults,
            data=g["data"],
            connection_options=_rebuild_options(g["connection_options"]),
            **{a: g[a] for a in _ATTRS},
        )
    for name, g in entry["groups"].items():
        groups[name].groups = ParentGroups(groups[p] for p in g["groups"])
    hosts = Hosts()
    for name, h in entry["hosts"].items():
        host = Host(
            name=name,
            defaults=defaults,
            data=h["data"],
            connection_options=_rebuild_options(h["connection_options"]),
            **{a: h[a] for a in _ATTRS},
        )
        host.groups = ParentGroups(groups[p] for p in h["groups"])
        hosts[name] = host
    return Inventory(hosts=hosts, groups=groups, defaults=defaults), entry["host_lines"], entry["hosts_file"]


@dataclass(slots=True)
class InventoryCache:
    """One ``load_inventory`` call's view of the cache: the input key taken before parsing."""

    repo: NetworkRepo
    key: str | None
    probe: _Probe | None

    @classmethod
    def open(cls, repo: NetworkRepo) -> InventoryCache:
        probe, key = cls._key(repo)
        return cls(repo=repo, key=key, probe=probe)

    @staticmethod
    def _key(repo: NetworkRepo) -> tuple[_Probe | None, str | None]:
        parts: list[bytes | str] = [
            __version__,
            source_digest("inventory.py", "inventory_cache.py", "yamlio.py"),
        ]
        probe: list[tuple[str, int, int, int]] = []
        try:
            for name in INVENTORY_FILES:
                path = repo.inventory_dir / name
                parts.append(repo.relative(path))
                if not path.exists():
                    parts.append("(absent)")
                    continue
                stat = path.stat()
                probe.append((name, stat.st_mtime_ns, stat.st_size, stat.st_ino))
                parts.append(path.read_bytes())
        except OSError:
            return None, None
        return tuple(probe), digest_of(*parts)

    def load(self) -> tuple[Inventory, dict[str, int], str] | None:
        if self.key is None:
            return None
        entry = read_entry(self.repo.local_dir, _ENTRY)
        if entry is None or entry.get("key") != self.key:
            return None
        try:
            return _rebuild(entry)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def store(self, inventory: Inventory, host_lines: dict[str, int], hosts_file: str) -> None:
        """Cache what was just loaded, when the files did not change while they were parsed."""
        if self.key is None:
            return
        probe, key = self._key(self.repo)
        if probe != self.probe or key != self.key:
            return
        entry: dict[str, Any] = {
            "key": self.key,
            "defaults": _fields(inventory.defaults, with_groups=False),
            "groups": {name: _fields(g) for name, g in inventory.groups.items()},
            "hosts": {name: _fields(h) for name, h in inventory.hosts.items()},
            "host_lines": host_lines,
            "hosts_file": hosts_file,
        }
        try:
            text = entry_text(entry)
            back = json.loads(text)
            back.pop("format")
            # JSON keeps str/int/float/bool/None/list/dict exactly; what it would change (a tuple from
            # !!omap, NaN) compares unequal, and such an inventory is not cached. Data values are plain
            # (to_plain); connection option extras may hold located dicts: those are checked type by type.
            if (
                back != entry
                or not _same(back["defaults"], entry["defaults"])
                or not all(
                    _same(back[kind][name]["connection_options"], element["connection_options"])
                    for kind in ("groups", "hosts")
                    for name, element in entry[kind].items()
                )
            ):
                return
        except (TypeError, ValueError, RecursionError):
            return
        write_entry(self.repo.local_dir, _ENTRY, text)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``==`` alone says ``[1] == (1,)`` is False but
    ``{"a": 1} == LocatedDict(a=1)`` is True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
