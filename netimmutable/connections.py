"""How to reach each host: ``.netimmutable/connections.yaml`` plus credentials from the environment.

Connection settings are local (written by ``lab up`` or by hand, never committed; a regular file, never a
symbolic link) and are applied over the inventory for device access only; rendering never sees them.
Passwords never come from files:

- ``$NETIMMUTABLE_PASSWORD_<HOST>`` (host name upper-cased, ``-`` and ``.`` as ``_``), else
- ``$NETIMMUTABLE_PASSWORD``, else
- the system keyring (service ``netimmutable``, user = host name, then ``default``) when ``keyring`` is
  installed, else
- none: fine for key authentication (``optional_args.key_file``) and simulated devices, otherwise
  ``CredentialsError`` when the device is opened.

Examples:
    >>> password_variable("edge-1.lon")
    'NETIMMUTABLE_PASSWORD_EDGE_1_LON'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nornir.core.inventory import ConnectionOptions, Host
from nornir.core.plugins.connections import ConnectionPluginRegister

from netimmutable import napalm_connection
from netimmutable.drivers.platform_names import napalm_driver
from netimmutable.errors import InventoryError
from netimmutable.fileio import refuse_links
from netimmutable.localcache import digest_of, read_entry, source_digest, write_entry
from netimmutable.repo import NetworkRepo
from netimmutable.yamlio import LocatedDict, load_yaml, to_plain

__all__ = [
    "CONNECTION",
    "KEYLESS_DRIVERS",
    "driver_name",
    "lookup_password",
    "password_variable",
    "prepare_hosts",
]

CONNECTION = "napalm"
KEYLESS_DRIVERS = frozenset({"sim", "mock"})
"""Drivers that need no credentials."""
_CACHE_ENTRY = "connections.json"
_ENTRY_KEYS = frozenset({"hostname", "port", "username", "driver", "optional_args", "timeout"})

if CONNECTION not in ConnectionPluginRegister.available:
    ConnectionPluginRegister.auto_register()
napalm_connection.register(CONNECTION)


def password_variable(host: str) -> str:
    return "NETIMMUTABLE_PASSWORD_" + re.sub(r"[^A-Za-z0-9]", "_", host).upper()


def lookup_password(host: str) -> str | None:
    """The password for ``host`` from the environment or the keyring; None when there is none."""
    for variable in (password_variable(host), "NETIMMUTABLE_PASSWORD"):
        value = os.environ.get(variable)
        if value:
            return value
    try:
        import keyring  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    for user in (host, "default"):
        value = keyring.get_password("netimmutable", user)
        if value:
            return str(value)
    return None


def _load_entries(repo: NetworkRepo) -> Mapping[str, Any]:
    """The validated entries of connections.yaml; from the local cache when its bytes loaded before (a
    fleet's file is parsed once, not on every verify: PyYAML builds ~1 MB/s)."""
    path = repo.connections_file
    refuse_links(repo.root, path)  # a link (even a dangling one) is refused, never followed nor "no file"
    if not path.exists():
        return {}
    raw = path.read_bytes()
    key = digest_of(source_digest("connections.py", "yamlio.py"), raw)
    cached = read_entry(repo.local_dir, _CACHE_ENTRY)
    if cached is not None and cached.get("key") == key and isinstance(cached.get("hosts"), dict):
        hosts: dict[str, Any] = cached["hosts"]
        return hosts
    entries = _parse_entries(repo, path)
    if path.read_bytes() == raw:  # what was parsed is what was keyed
        write_entry(repo.local_dir, _CACHE_ENTRY, {"key": key, "hosts": to_plain(entries)})
    return entries


def _parse_entries(repo: NetworkRepo, path: Path) -> Mapping[str, Any]:
    label = repo.relative(path)
    data = load_yaml(path, label)
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("hosts", {}), dict):
        raise InventoryError("expected a mapping with a `hosts:` mapping", file=label)
    hosts: Mapping[str, Any] = data.get("hosts") or {}
    for name, entry in hosts.items():
        line = hosts.line_of(name) if isinstance(hosts, LocatedDict) else None
        if not isinstance(entry, dict):
            raise InventoryError(f"entry for {name} must be a mapping", file=label, line=line)
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise InventoryError(
                f"entry for {name}: unknown key(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_ENTRY_KEYS))}",
                file=label,
                line=line,
            )
        if "password" in (entry.get("optional_args") or {}):
            raise InventoryError(
                f"entry for {name}: passwords never go into files; use ${password_variable(name)}",
                file=label,
                line=line,
            )
    return hosts


def driver_name(host: Host, params: ConnectionOptions | None = None) -> str:
    """The NAPALM driver used for ``host`` (connections.yaml ``driver``, else the host's platform; netutils'
    names such as ``cisco_ios`` mapped to NAPALM's, see ``netimmutable.drivers.platform_names``).
    ``params``: the host's connection parameters when the caller has them at hand."""
    params = params or host.get_connection_parameters(CONNECTION)
    return napalm_driver(str(params.platform or host.platform))


def prepare_hosts(repo: NetworkRepo, hosts: Sequence[Host]) -> None:
    """Apply connections.yaml and credentials to the Nornir hosts, in place (device access only)."""
    entries = _load_entries(repo)
    for host in hosts:
        entry: Mapping[str, Any] = entries.get(host.name) or {}
        host.hostname = entry.get("hostname") or host.hostname or host.name
        if entry.get("port"):
            host.port = int(entry["port"])
        username = entry.get("username") or host.username or os.environ.get("NETIMMUTABLE_USERNAME")
        host.username = username
        existing = host.get_connection_parameters(CONNECTION)
        extras: dict[str, Any] = dict(existing.extras or {})
        optional_args = dict(extras.get("optional_args") or {})
        optional_args.update(entry.get("optional_args") or {})
        extras["optional_args"] = optional_args
        if entry.get("timeout"):
            extras["timeout"] = int(entry["timeout"])
        driver = napalm_driver(str(entry.get("driver") or existing.platform or host.platform))
        host.connection_options[CONNECTION] = ConnectionOptions(
            hostname=host.hostname,
            port=host.port,
            username=username,
            platform=driver,
            extras=extras,
        )
        host.password = None if driver in KEYLESS_DRIVERS else lookup_password(host.name)
