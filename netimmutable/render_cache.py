"""Which artifacts each host rendered to, so an unchanged host is not rendered again.

A host's key is a digest of everything its rendering can see: every file under ``templates/``, the host's
own fields and data, those of its groups (recursively) and of the defaults, netimmutable's rendering
source and the Jinja2 version. The entry records the digest of each artifact it rendered to. On the next
render, a host whose key is unchanged and whose files in ``snapshots/`` still have exactly those digests
takes its artifacts from those files; any other host is rendered. A hit therefore returns byte for byte
what rendering would return (rendering is deterministic), and a hand-edited or missing snapshot is
always rendered again.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from nornir.core.inventory import Host

from netimmutable import __version__
from netimmutable.localcache import digest_of, read_entry, source_digest, write_entry
from netimmutable.repo import NetworkRepo

__all__ = ["CachedRender", "RenderCache"]

_ENTRY = "render.json"
_ATTRS = ("hostname", "port", "username", "platform")  # never the password


@dataclass(frozen=True, slots=True)
class CachedRender:
    platform: str
    template: str
    files: dict[str, str]
    """File name -> content."""
    expect_template: str | None


def _templates_digest(templates_dir: Path) -> str | None:
    """Digest of every file (path and bytes) under ``templates_dir``; None when it cannot be taken safely."""
    parts: list[bytes | str] = []
    try:
        for folder, dirs, files in os.walk(templates_dir):
            if any(Path(folder, d).is_symlink() for d in dirs):
                return None  # a linked folder could lead anywhere: do not cache
            dirs.sort()
            for name in sorted(files):
                path = Path(folder, name)
                parts += [path.relative_to(templates_dir).as_posix(), path.read_bytes()]
    except OSError:
        return None
    return digest_of(*parts)


def _own(element: Any, name: str) -> Any:
    return object.__getattribute__(element, name)


def _options(element: Any) -> tuple[Any, ...]:
    options = _own(element, "connection_options")
    return tuple(
        (name, *(_own(opt, a) for a in _ATTRS), _own(opt, "extras")) for name, opt in sorted(options.items())
    )


@dataclass(slots=True)
class RenderCache:
    """One ``render_hosts`` call's view of the render cache."""

    repo: NetworkRepo
    env_key: str | None
    entries: dict[str, Any] = field(default_factory=dict)
    changed: bool = False
    _group_keys: dict[int, str] = field(default_factory=dict)

    @classmethod
    def open(cls, repo: NetworkRepo) -> RenderCache:
        loaded = read_entry(repo.local_dir, _ENTRY)
        templates = _templates_digest(repo.templates_dir)
        env_key = None
        if templates is not None:
            env_key = digest_of(
                __version__,
                sys.version,
                metadata.version("jinja2"),
                source_digest("render.py", "render_cache.py", "filters.py", "secretref.py"),
                str(repo.templates_dir),
                templates or "",
            )
        hosts = loaded.get("hosts") if loaded else None
        return cls(repo=repo, env_key=env_key, entries=hosts if isinstance(hosts, dict) else {})

    def _element_key(self, element: Any) -> str:
        return repr(
            (
                tuple(_own(element, a) for a in _ATTRS),
                _own(element, "data"),
                _options(element),
                tuple(self._group_key(g) for g in _own(element, "groups")),
            )
        )

    def _group_key(self, group: Any) -> str:
        known = self._group_keys.get(id(group))
        if known is None:
            known = self._group_keys[id(group)] = f"{group.name}:{self._element_key(group)}"
        return known

    def key(self, host: Host) -> str | None:
        if self.env_key is None:
            return None
        defaults = host.defaults
        defaults_key = repr(
            (tuple(_own(defaults, a) for a in _ATTRS), _own(defaults, "data"), _options(defaults))
        )
        return digest_of(self.env_key, host.name, self._element_key(host), defaults_key)

    def lookup(self, host: Host, key: str | None) -> CachedRender | None:
        entry = self.entries.get(host.name)
        if key is None or not isinstance(entry, dict) or entry.get("key") != key:
            return None
        try:
            files: dict[str, str] = {}
            for name, digest in entry["files"].items():
                raw = (self.repo.snapshots_dir / name).read_bytes()
                if hashlib.sha256(raw).hexdigest() != digest:
                    return None
                files[name] = raw.decode("utf-8")
            return CachedRender(
                platform=entry["platform"],
                template=entry["template"],
                files=files,
                expect_template=entry["expect_template"],
            )
        except (OSError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            return None

    def record(
        self,
        host: Host,
        key: str | None,
        platform: str,
        template: str,
        expect_template: str | None,
        files: dict[str, str],
    ) -> None:
        if key is None:
            return
        self.entries[host.name] = {
            "key": key,
            "platform": platform,
            "template": template,
            "expect_template": expect_template,
            "files": {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in files.items()},
        }
        self.changed = True

    def save(self) -> None:
        if self.changed:
            write_entry(self.repo.local_dir, _ENTRY, {"hosts": self.entries})
