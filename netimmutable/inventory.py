"""Loading the Nornir SimpleInventory of a network repository, validated, and selecting hosts.

The files follow Nornir's SimpleInventory layout (``hosts.yaml``, ``groups.yaml``, ``defaults.yaml``) and
are turned into Nornir's own inventory objects, so group and defaults inheritance is Nornir's. They are read
with netimmutable's safe YAML loader first, so every error names the file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nornir.core import Nornir
from nornir.core.inventory import (
    ConnectionOptions,
    Defaults,
    Group,
    Groups,
    Host,
    Hosts,
    Inventory,
    InventoryElement,
    ParentGroups,
)
from nornir.plugins.runners import ThreadedRunner

from netimmutable.errors import InventoryError
from netimmutable.fileio import refuse_links
from netimmutable.inventory_blocks import read_blocks
from netimmutable.localcache import digest_of
from netimmutable.repo import NetworkRepo
from netimmutable.yamlio import MAX_YAML_BYTES, LocatedDict, load_yaml, to_plain

__all__ = [
    "HOST_NAME_RE",
    "LoadedInventory",
    "host_fields",
    "host_name_problem",
    "load_inventory",
    "make_nornir",
    "select_hosts",
]

HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""Host names become file names (snapshots/<host>.cfg) and git ref names: keep them plain."""


def host_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a host name, or None. A host name becomes file names (``snapshots/<host>.cfg``,
    ``<host>.expect.yaml``), git ref names (``refs/netimmutable/good/<host>``: git refuses ``..``, a
    trailing ``.`` and a ``.lock`` suffix) and lock files (``device-<host>.lock``).

    Examples:
        >>> host_name_problem("r1.lab-2_a"), host_name_problem("r1.lock"), host_name_problem("a..b")
        (None, "ends in '.lock' (git ref and lock names)", "holds '..' (git ref names)")
    """
    if not HOST_NAME_RE.match(name):
        return "letters, digits, '.', '_', '-'; starting with a letter or digit; at most 64 characters"
    if ".." in name:
        return "holds '..' (git ref names)"
    if name.endswith("."):
        return "ends in '.' (git ref names)"
    if name.lower().endswith(".lock"):
        return "ends in '.lock' (git ref and lock names)"
    return None


_ELEMENT_KEYS = frozenset(
    {"hostname", "port", "username", "password", "platform", "groups", "data", "connection_options"}
)
_SECRET_KEYS = frozenset({"password", "secret", "enable_password", "api_key", "token"})
_FILES = ("hosts.yaml", "groups.yaml", "defaults.yaml")


@dataclass(frozen=True, slots=True)
class LoadedInventory:
    """The Nornir inventory plus where each host and group was defined (for located errors)."""

    inventory: Inventory
    host_lines: Mapping[str, int]
    hosts_file: str
    host_inputs: Mapping[str, str] = field(default_factory=dict)
    """Host -> digest of the input bytes its resolved data comes from (its block of ``hosts.yaml``,
    ``groups.yaml``, ``defaults.yaml``, the loader's source); empty when not known. Equal digests mean
    equal resolved data: the render cache skips resolving such a host (see ``render_cache``)."""

    def hosts(self) -> tuple[Host, ...]:
        return tuple(self.inventory.hosts[name] for name in sorted(self.inventory.hosts))

    def line_of(self, host: str) -> int | None:
        return self.host_lines.get(host)


def _mapping(value: Any, what: str, label: str, line: int) -> LocatedDict:
    if value is None:
        result = LocatedDict()
        result.line = line
        return result
    if not isinstance(value, LocatedDict):
        raise InventoryError(f"{what} must be a mapping, got {type(value).__name__}", file=label, line=line)
    return value


def _check_secrets(data: Any, label: str, line: int, path: str) -> None:
    """A credential in a committed inventory file is refused: they come from the environment."""
    if isinstance(data, LocatedDict):
        for key, value in data.items():
            key_line = data.line_of(key)
            if key.lower() in _SECRET_KEYS and value not in (None, ""):
                raise InventoryError(
                    f"{path}{key} holds a credential; credentials never go into committed files",
                    file=label,
                    line=key_line,
                    hint="set NETIMMUTABLE_PASSWORD (or NETIMMUTABLE_PASSWORD_<HOST>), "
                    "or use secret('name') in templates",
                )
            _check_secrets(value, label, key_line, f"{path}{key}.")
    elif isinstance(data, list):
        for item in data:
            _check_secrets(item, label, line, path)


def _connection_options(value: Any, label: str, line: int) -> dict[str, ConnectionOptions]:
    options = _mapping(value, "connection_options", label, line)
    result: dict[str, ConnectionOptions] = {}
    for name, spec in options.items():
        spec_map = _mapping(spec, f"connection_options.{name}", label, options.line_of(name))
        extras = spec_map.get("extras")
        result[name] = ConnectionOptions(
            hostname=spec_map.get("hostname"),
            port=spec_map.get("port"),
            username=spec_map.get("username"),
            platform=spec_map.get("platform"),
            extras=dict(extras) if isinstance(extras, dict) else None,
        )
    return result


def _element_fields(spec: LocatedDict, what: str, label: str) -> dict[str, Any]:
    for key in spec:
        if key not in _ELEMENT_KEYS:
            raise InventoryError(
                f"{what}: unknown key {key!r}; known: {', '.join(sorted(_ELEMENT_KEYS))}",
                file=label,
                line=spec.line_of(key),
                hint="put your own variables under `data:`",
            )
    for key in ("hostname", "username", "platform"):
        if key in spec and spec[key] is not None and not isinstance(spec[key], str):
            raise InventoryError(f"{what}: {key} must be a string", file=label, line=spec.line_of(key))
    port = spec.get("port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
        raise InventoryError(f"{what}: port must be a number 1-65535", file=label, line=spec.line_of("port"))
    groups = spec.get("groups")
    if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) for g in groups)):
        raise InventoryError(
            f"{what}: groups must be a list of names", file=label, line=spec.line_of("groups")
        )
    data = _mapping(spec.get("data"), f"{what}: data", label, spec.line_of("data"))
    return {
        "hostname": spec.get("hostname"),
        "port": port,
        "username": spec.get("username"),
        "platform": spec.get("platform"),
        "data": to_plain(data, sort_keys=True),
        "connection_options": _connection_options(
            spec.get("connection_options"), label, spec.line_of("connection_options")
        ),
    }


def _load_file(repo: NetworkRepo, name: str, required: bool) -> tuple[LocatedDict, str]:
    path = repo.inventory_dir / name
    label = repo.relative(path)
    if not path.exists():
        if required:
            raise InventoryError("inventory file not found", file=label)
        return _mapping(None, name, label, 1), label
    data = load_yaml(path, label)
    root = _mapping(data, "the file", label, 1)
    _check_secrets(root, label, 1, "")
    return root, label


def load_inventory(repo: NetworkRepo, *, processes: int = 1) -> LoadedInventory:
    """Load and validate ``hosts.yaml``, ``groups.yaml`` and ``defaults.yaml`` into a Nornir inventory.

    ``hosts.yaml`` is read block by block (``inventory_blocks``): each host's entry parsed alone, on
    ``processes`` worker processes (0: one per core) when many are new, and cached by its bytes, so an
    unchanged host is not parsed again. A file that cannot be read that way (or has an error) is read
    whole, with the same result and the same located errors. Each file must be a regular file inside the
    repository (no symbolic link on its way).
    """
    for name in _FILES:
        refuse_links(repo.root, repo.inventory_dir / name)
    by_blocks = _load_by_blocks(repo, processes)
    if by_blocks is not None:
        return by_blocks
    hosts_raw, hosts_label = _load_file(repo, "hosts.yaml", required=True)
    defaults, groups = _defaults_and_groups(repo)
    hosts = Hosts()
    host_lines: dict[str, int] = {}
    for name, spec in hosts_raw.items():
        line = hosts_raw.line_of(name)
        fields = _host_element(name, spec, hosts_label, line)
        hosts[name] = _make_host(name, fields, defaults, groups, hosts_label, line)
        host_lines[name] = line
    inventory = Inventory(hosts=hosts, groups=groups, defaults=defaults)
    return LoadedInventory(inventory=inventory, host_lines=host_lines, hosts_file=hosts_label)


def _defaults_and_groups(repo: NetworkRepo) -> tuple[Defaults, Groups]:
    groups_raw, groups_label = _load_file(repo, "groups.yaml", required=False)
    defaults_raw, defaults_label = _load_file(repo, "defaults.yaml", required=False)

    defaults_fields = _element_fields(defaults_raw, "defaults", defaults_label)
    defaults = Defaults(**defaults_fields)

    groups = Groups()
    group_parents: dict[str, tuple[list[str], int]] = {}
    for name, spec in groups_raw.items():
        line = groups_raw.line_of(name)
        fields = _element_fields(
            _mapping(spec, f"group {name}", groups_label, line), f"group {name}", groups_label
        )
        groups[name] = Group(name=name, defaults=defaults, **fields)
        group_parents[name] = (list((spec or {}).get("groups") or []), line)
    for name, (names, line) in group_parents.items():
        groups[name].groups = _parents(groups, names, groups_label, line, f"group {name}")
    return defaults, groups


def _parents(groups: Groups, names: Iterable[str], label: str, line: int, owner: str) -> ParentGroups:
    result = ParentGroups()
    for group_name in names:
        if group_name not in groups:
            raise InventoryError(
                f"{owner} is in group {group_name!r}, which groups.yaml does not define",
                file=label,
                line=line,
            )
        result.append(groups[group_name])
    return result


def _host_element(name: str, spec: Any, label: str, line: int) -> dict[str, Any]:
    """One host's validated fields (``_element_fields``) plus ``groups``, its parent group names."""
    problem = host_name_problem(name)
    if problem is not None:
        raise InventoryError(
            f"host name {name!r} is not a safe file and ref name ({problem})", file=label, line=line
        )
    spec_map = _mapping(spec, f"host {name}", label, line)
    fields = _element_fields(spec_map, f"host {name}", label)
    fields["groups"] = list(spec_map.get("groups") or [])
    return fields


class _LazyHost(Host):
    """A host taken from the block cache: its data is decoded from the cached JSON text when first read.
    A host the render cache answers by its inputs digest is never decoded (most of an incremental load)."""

    __slots__ = ("_data_text",)

    def __init__(self, data_text: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._data_text: str | None = data_text

    @property
    def data(self) -> dict[str, Any]:
        text = object.__getattribute__(self, "_data_text")
        if text is not None:
            _DATA_SLOT.__set__(self, json.loads(text))
            self._data_text = None
        value: dict[str, Any] = _DATA_SLOT.__get__(self)
        return value

    @data.setter
    def data(self, value: dict[str, Any]) -> None:
        _DATA_SLOT.__set__(self, value)
        self._data_text = None


_DATA_SLOT: Any = InventoryElement.__dict__["data"]


def _make_host(
    name: str,
    fields: Mapping[str, Any],
    defaults: Defaults,
    groups: Groups,
    label: str,
    line: int,
    data_text: str | None = None,
) -> Host:
    own = {k: v for k, v in fields.items() if k != "groups"}
    if data_text is None:
        host = Host(name=name, defaults=defaults, **own)
    else:
        host = _LazyHost(data_text, name=name, defaults=defaults, **own)
    host.groups = _parents(groups, fields["groups"], label, line, f"host {name}")
    if not host.platform:
        raise InventoryError(
            f"host {name} has no platform (set `platform:` on the host, a group or defaults)",
            file=label,
            line=line,
            host=name,
        )
    return host


def host_fields(root: LocatedDict, name: str, label: str) -> dict[str, Any]:
    """The validated fields of host ``name`` of a block of ``hosts.yaml`` (``root``: the block parsed
    alone, ``{name: spec}``), in plain form: connection options as mappings. The checks are those of the
    whole-file path; its group names are checked when the inventory is assembled."""
    _check_secrets(root, label, 1, "")
    fields = _host_element(name, root[name], label, root.line_of(name))
    fields["connection_options"] = {
        key: {
            "hostname": opt.hostname,
            "port": opt.port,
            "username": opt.username,
            "platform": opt.platform,
            "extras": opt.extras,
        }
        for key, opt in fields["connection_options"].items()
    }
    return fields


def _load_by_blocks(repo: NetworkRepo, processes: int) -> LoadedInventory | None:
    """``load_inventory`` block by block (see ``inventory_blocks``); None: read the file whole."""
    path = repo.inventory_dir / "hosts.yaml"
    label = repo.relative(path)
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            return None
        raw = path.read_bytes()
        raw.decode("utf-8")
        shared = digest_of(*(_file_bytes(repo, name) for name in ("groups.yaml", "defaults.yaml")))
    except (OSError, UnicodeDecodeError):
        return None
    read = read_blocks(repo, raw, label, processes)
    if read is None:
        return None
    defaults, groups = _defaults_and_groups(repo)
    hosts = Hosts()
    host_lines: dict[str, int] = {}
    host_inputs: dict[str, str] = {}
    for entry in read.entries:
        plain = dict(entry.fields)
        plain["connection_options"] = {
            key: ConnectionOptions(**opt) for key, opt in entry.fields["connection_options"].items()
        }
        hosts[entry.name] = _make_host(
            entry.name, plain, defaults, groups, label, entry.line, entry.data_text
        )
        host_lines[entry.name] = entry.line
        host_inputs[entry.name] = read.cache.inputs_digest(entry.digest, shared)
    read.save()
    inventory = Inventory(hosts=hosts, groups=groups, defaults=defaults)
    return LoadedInventory(
        inventory=inventory, host_lines=host_lines, hosts_file=label, host_inputs=host_inputs
    )


def _file_bytes(repo: NetworkRepo, name: str) -> bytes:
    path = repo.inventory_dir / name
    return path.read_bytes() if path.exists() else b"(absent)"


def _matches(host: Host, key: str, value: str) -> bool:
    if key == "name":
        return host.name == value
    if key == "platform":
        return host.platform == value
    if key in ("groups", "group"):
        return host.has_parent_group(value)
    try:
        actual = host[key]
    except KeyError:
        return False
    if isinstance(actual, bool):
        return str(actual).lower() == value.lower()
    return str(actual) == value


def select_hosts(
    loaded: LoadedInventory,
    limit: Iterable[str] = (),
    filters: Iterable[tuple[str, str]] = (),
) -> tuple[Host, ...]:
    """Hosts named by ``limit`` (all when empty) whose data match every ``key=value`` filter."""
    wanted = tuple(limit)
    unknown = [name for name in wanted if name not in loaded.inventory.hosts]
    if unknown:
        raise InventoryError(
            f"unknown host(s) in --limit: {', '.join(unknown)}",
            file=loaded.hosts_file,
            hint=f"known hosts: {', '.join(sorted(loaded.inventory.hosts)[:20])}",
        )
    hosts = [loaded.inventory.hosts[n] for n in sorted(set(wanted))] if wanted else list(loaded.hosts())
    conditions = tuple(filters)
    return tuple(h for h in hosts if all(_matches(h, k, v) for k, v in conditions))


def make_nornir(hosts: Iterable[Host], loaded: LoadedInventory, workers: int) -> Nornir:
    """A Nornir object over ``hosts`` only, with a threaded runner of ``workers`` threads."""
    selected = Hosts({h.name: h for h in hosts})
    inventory = Inventory(hosts=selected, groups=loaded.inventory.groups, defaults=loaded.inventory.defaults)
    return Nornir(inventory=inventory, runner=ThreadedRunner(num_workers=max(1, workers)))
