"""Which artifacts each host rendered to, so a host whose render inputs did not change is not rendered again.

A host's key is a digest of exactly what its rendering reads:

- its *resolved data*: what ``template_context`` hands the templates (the host's name, hostname, platform,
  group names and every data key after Nornir's group and defaults inheritance, in that order);
- the *templates it loaded* while rendering: every name the Jinja2 environment was asked for (entry
  template, includes, imports, macros, ``extends``; also names asked for and not found, and the default
  ``<platform>/expect.j2`` it looked for), each with the sha256 of the bytes it compiled (``None``:
  absent). They are recorded in the entry and checked against the files on the next render;
- the settings that affect rendering (``render:`` limits, the templates folder), netimmutable's version
  and rendering source, the Python and Jinja2 versions.

So an edit of one host re-renders that host; of a group or the defaults, the hosts whose resolved data
changed; of a template, the hosts that loaded it; a template nobody loads re-renders nobody. Resolving
and digesting 2,000 hosts' data costs about 0.7 s, so the entry also records the host's *inputs digest*
(``LoadedInventory.host_inputs``: the bytes of its block of ``hosts.yaml``, of ``groups.yaml`` and
``defaults.yaml``): when it is unchanged the recorded resolved digest is taken as it is.

The entry records the digest of each artifact it rendered to. On the next render, a host whose key and
templates are unchanged and whose files in ``snapshots/`` still have exactly those digests takes its
artifacts from those files (or, through the stat table below, knows them without reading); any other host
is rendered. A hit therefore returns byte for byte what rendering would return (rendering is
deterministic), and a hand-edited or missing snapshot is always rendered again.

``snapshots.json`` is a stat table of ``snapshots/``, like git's index: for each artifact file, its sha256
and (size, mtime_ns, ctime_ns, inode) taken right after netimmutable wrote it, or before it read and hashed
it. A file whose stat still matches its entry is not read again, unless the entry is *racy*: its mtime or
ctime is not strictly older than the table file's own mtime (the file system's clock when the table was
written), since a change in that same clock tick would leave the stat unchanged. An edit in place always
moves ctime (``os.utime`` cannot set it), so a hand edit of the same size with a forged mtime is caught.
The table also names the inputs of the last complete render (``inputs_key``: the bytes of the settings,
inventory and templates, and netimmutable's source and versions) when every artifact of that render is in
it: a command seeing the same inputs and matching files knows ``snapshots/`` is current without loading the
inventory or keying any host.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from jinja2.exceptions import TemplateNotFound
from jinja2.loaders import split_template_path
from nornir.core.inventory import Host

from netimmutable import __version__
from netimmutable.errors import InputError
from netimmutable.fileio import refuse_links
from netimmutable.inventory_cache import InventoryCache
from netimmutable.localcache import (
    cache_enabled,
    digest_of,
    read_entry,
    read_stamped_entry,
    source_digest,
    write_entry,
)
from netimmutable.repo import NetworkRepo
from netimmutable.settings import SETTINGS_FILE

__all__ = [
    "CachedRender",
    "InputsKey",
    "RenderCache",
    "SnapshotTable",
    "StatKey",
    "inputs_key",
    "read_verified",
    "resolved_digest",
    "stat_key",
]

StatKey = tuple[int, int, int, int]
"""(size, mtime_ns, ctime_ns, inode) of a file."""

_ENTRY = "render.json"
_TABLE = "snapshots.json"


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def read_verified(path: Path) -> tuple[bytes, StatKey]:
    """The file's bytes and its stat taken *before* reading: a change after that stat moves its ctime.
    A symbolic link is not followed (OSError): callers treat it as not cacheable, or refuse it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        return handle.read(), stat_key(st)


@dataclass(frozen=True, slots=True)
class CachedRender:
    platform: str
    template: str
    files: dict[str, str]
    """File name -> content."""
    expect_template: str | None
    seen: tuple[tuple[str, str, StatKey], ...] = ()
    """(file name, sha256, stat before it was read) of each snapshot file the hit was read from."""


_TemplatesProbe = tuple[tuple[str, StatKey], ...]


def _templates_state(templates_dir: Path) -> tuple[str, _TemplatesProbe] | None:
    """Digest of every file (path and bytes) under ``templates_dir``, and each file's stat taken before it
    was read (the probe: an edit moves it even when it is undone); None when it cannot be taken safely."""
    parts: list[bytes | str] = []
    probe: list[tuple[str, StatKey]] = []
    try:
        for folder, dirs, files in os.walk(templates_dir):
            if any(Path(folder, d).is_symlink() for d in dirs):
                return None  # a linked folder could lead anywhere: do not cache
            dirs.sort()
            for name in sorted(files):
                path = Path(folder, name)
                if path.is_symlink():
                    return None  # rendering refuses it: never answer from the cache
                relative = path.relative_to(templates_dir).as_posix()
                raw, stat = read_verified(path)
                parts += [relative, raw]
                probe.append((relative, stat))
    except OSError:
        return None
    return digest_of(*parts), tuple(probe)


def _env_key(repo: NetworkRepo) -> str:
    """Digest of what every host's rendering shares besides its data and templates: netimmutable's
    rendering source and versions, the templates folder and the render settings."""
    return digest_of(
        __version__,
        sys.version,
        metadata.version("jinja2"),
        source_digest(
            "render_host.py", "render_cache.py", "filters.py", "secretref.py", "sandbox.py", "normalize.py"
        ),
        str(repo.templates_dir),
        repr(repo.settings.render),  # a lower limit must judge renders made under a higher one
    )


def _plain_default(value: Any) -> str:
    """A value JSON does not know (a YAML timestamp), spelled with its type."""
    return f"{type(value).__name__}:{value!r}"


def resolved_digest(host: Host) -> str:
    """Digest of what ``template_context(host)`` gives the templates: name, hostname, platform, group
    names and the data after inheritance, keys in the order templates iterate them."""
    payload = [
        host.name,
        host.hostname,
        host.platform,
        [group.name for group in host.groups],
        list(host.items()),
    ]
    return digest_of(json.dumps(payload, default=_plain_default, ensure_ascii=False))


_LINK = "(link)"
"""The digest of a template file reached through a symbolic link: never equal to a recorded one."""


@dataclass(slots=True)
class RenderCache:
    """One render's view of the render cache."""

    repo: NetworkRepo
    env_key: str | None
    entries: dict[str, Any] = field(default_factory=dict)
    changed: bool = False
    _templates: dict[str, str | None] = field(default_factory=dict)
    _resolved: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, repo: NetworkRepo) -> RenderCache:
        loaded = read_entry(repo.local_dir, _ENTRY)
        hosts = loaded.get("hosts") if loaded else None
        env_key = _env_key(repo) if cache_enabled() else None
        return cls(repo=repo, env_key=env_key, entries=hosts if isinstance(hosts, dict) else {})

    def template_digest(self, name: str) -> str | None:
        """sha256 of template ``name`` as the loader would read it now; None when there is no such file."""
        if name in self._templates:
            return self._templates[name]
        digest: str | None
        try:
            pieces = split_template_path(name)
            path = self.repo.templates_dir.joinpath(*pieces)
            refuse_links(self.repo.root, path)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except TemplateNotFound:  # a name with "..": never a file
            digest = None
        except InputError:
            digest = _LINK
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            digest = None
        except OSError:
            digest = _LINK  # unreadable: let rendering say why
        self._templates[name] = digest
        return digest

    def resolved(self, host: Host, inputs: str | None) -> str:
        """The host's resolved-data digest: the recorded one when its inputs digest is unchanged."""
        entry = self.entries.get(host.name)
        if inputs is not None and isinstance(entry, dict) and entry.get("inputs") == inputs:
            recorded = entry.get("resolved")
            if isinstance(recorded, str):
                return recorded
        known = self._resolved.get(host.name)
        if known is None:
            known = self._resolved[host.name] = resolved_digest(host)
        return known

    def lookup(
        self, host: Host, inputs: str | None, table: SnapshotTable | None = None
    ) -> CachedRender | None:
        """The host's artifacts when its key, its templates and its snapshot files are unchanged.

        With ``table``, a file whose stat matches its (not racy) entry is not read: the hit's ``files``
        then lacks it, and ``seen`` names it with its digest and stat."""
        entry = self.entries.get(host.name)
        if self.env_key is None or not isinstance(entry, dict):
            return None
        try:
            resolved = self.resolved(host, inputs)
            if entry["key"] != digest_of(self.env_key, resolved):
                return None
            deps = entry["deps"]
            if not isinstance(deps, dict) or not deps:
                return None
            if any(self.template_digest(name) != digest for name, digest in deps.items()):
                return None
            if inputs is not None and entry.get("inputs") != inputs:
                entry["inputs"] = inputs  # the resolved data did not change: remember the new inputs
                self.changed = True
            return self._read(entry, table)
        except (OSError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            return None

    def _read(self, entry: dict[str, Any], table: SnapshotTable | None) -> CachedRender | None:
        files: dict[str, str] = {}
        seen: list[tuple[str, str, StatKey]] = []
        snapshots = self.repo.snapshots_dir
        for name, digest in entry["files"].items():
            if table is not None:
                try:
                    stat = stat_key(os.lstat(snapshots / name))
                except FileNotFoundError:
                    return None
                if table.digest_if_unchanged(name, stat) == digest:
                    seen.append((name, digest, stat))
                    continue
            raw, stat = read_verified(snapshots / name)
            if hashlib.sha256(raw).hexdigest() != digest:
                return None
            files[name] = raw.decode("utf-8")
            seen.append((name, digest, stat))
        return CachedRender(
            platform=entry["platform"],
            template=entry["template"],
            files=files,
            expect_template=entry["expect_template"],
            seen=tuple(seen),
        )

    def record(
        self,
        host: str,
        inputs: str | None,
        resolved: str,
        loaded: Mapping[str, str | None],
        rendered: tuple[str, str, str | None, Mapping[str, str]],
    ) -> None:
        """Remember a host just rendered: ``rendered`` is (platform, template, expect_template, file name
        -> sha256); ``loaded`` the templates it loaded (name -> sha256, None: absent)."""
        if self.env_key is None:
            return
        platform, template, expect_template, files = rendered
        self.entries[host] = {
            "key": digest_of(self.env_key, resolved),
            "inputs": inputs,
            "resolved": resolved,
            "deps": dict(loaded),
            "platform": platform,
            "template": template,
            "expect_template": expect_template,
            "files": dict(files),
        }
        self.changed = True

    def save(self) -> None:
        if self.changed:
            write_entry(self.repo.local_dir, _ENTRY, {"hosts": self.entries})


@dataclass(frozen=True, slots=True)
class InputsKey:
    """Everything a complete render depends on, taken before (and again after) rendering."""

    digest: str
    probe: tuple[Any, ...]
    """Stat data of the input files: a render is recorded only when it did not change meanwhile."""


def inputs_key(repo: NetworkRepo) -> InputsKey | None:
    """The inputs of a complete render of ``repo``; None when they cannot be keyed (the cache is off, a
    templates folder links elsewhere, a file is unreadable)."""
    inventory = InventoryCache.open(repo)
    templates = _templates_state(repo.templates_dir)
    if inventory.key is None or templates is None:
        return None
    try:
        settings, settings_stat = read_verified(repo.root / SETTINGS_FILE)
    except OSError:
        return None
    digest = digest_of(
        "complete render",
        settings,
        inventory.key,
        _env_key(repo),
        templates[0],
        metadata.version("nornir"),
        str(repo.snapshots_dir),
    )
    # the probe catches an input changed and changed back while a render read it: its bytes would be the
    # same before and after, its stat not (an edit moves mtime and ctime; ctime cannot be set back)
    return InputsKey(digest=digest, probe=(inventory.probe, settings, settings_stat, templates[1]))


@dataclass(slots=True)
class SnapshotTable:
    """The stat table of ``snapshots/`` (see the module docstring)."""

    inputs: str | None
    """The inputs key of the complete render whose every artifact ``files`` holds, or None."""
    hosts: int
    files: dict[str, tuple[str, StatKey]]
    """File name -> (sha256 of its bytes, its stat when written or verified)."""
    stamp: int
    """mtime_ns of the table file when read (0: no table)."""

    @classmethod
    def load(cls, repo: NetworkRepo) -> SnapshotTable:
        empty = cls(inputs=None, hosts=0, files={}, stamp=0)
        loaded = read_stamped_entry(repo.local_dir, _TABLE)
        if loaded is None:
            return empty
        data, stamp = loaded
        try:
            inputs = data["inputs"]
            hosts = data["hosts"]
            files: dict[str, tuple[str, StatKey]] = {
                name: (digest, (size, mtime, ctime, ino))
                for name, (digest, size, mtime, ctime, ino) in data["files"].items()
            }
        except (KeyError, TypeError, ValueError, AttributeError):
            return empty
        # A stat that is not four ints never equals a file's (that file is hashed); a digest must be hex.
        if not (inputs is None or isinstance(inputs, str)) or type(hosts) is not int:
            return empty
        if not all(type(digest) is str and len(digest) == 64 for digest, _ in files.values()):
            return empty
        return cls(inputs=inputs, hosts=hosts, files=files, stamp=stamp)

    def digest_if_unchanged(self, name: str, stat: StatKey) -> str | None:
        """The recorded sha256 of ``name`` when ``stat`` matches its entry and the entry is not racy."""
        entry = self.files.get(name)
        if entry is None or entry[1] != stat:
            return None
        if stat[1] >= self.stamp or stat[2] >= self.stamp:
            return None  # racy: changed in the clock tick the table was written in?
        return entry[0]

    def forget_racy(self) -> None:
        """Drop the entries that are racy now: saving the table again would make them look older than it
        (git smudges such entries in its index for the same reason)."""
        self.files = {
            name: entry
            for name, entry in self.files.items()
            if entry[1][1] < self.stamp and entry[1][2] < self.stamp
        }

    def save(self, repo: NetworkRepo) -> None:
        write_entry(
            repo.local_dir,
            _TABLE,
            {
                "inputs": self.inputs,
                "hosts": self.hosts,
                "files": {name: [digest, *stat] for name, (digest, stat) in sorted(self.files.items())},
            },
        )
