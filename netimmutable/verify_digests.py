"""Digests of normalized artifacts, remembered between verifies (``.netimmutable/cache/verify-digests.json``).

A scheduled verify compares thousands of devices with the same release night after night; normalizing each
artifact again (``netimmutable.normalize``) only to report the digest of a device that runs it byte for byte
is most of verify's own CPU per device. This cache keeps ``config_digest(normalize(artifact))`` keyed by a
digest of the artifact's text, its platform, the ``ignore_lines`` patterns and netimmutable's normalization
source, so a changed rule, setting or artifact is a miss.

It is only consulted when the running config equals the artifact byte for byte, which decides "in sync" by
itself; the cache supplies the digest that the report shows, never the verdict. A config that references
secrets is never cached (its normalized form depends on the values). Like every local cache, it is safe to
delete and ``NETIMMUTABLE_NO_CACHE=1`` turns it off.

Examples:
    >>> digests = ArtifactDigests({}, "rules-1")
    >>> digests.get("hostname r1\\n", "frr", ()) is None
    True
    >>> digests.add("hostname r1\\n", "frr", (), "sha256:ab")
    >>> digests.get("hostname r1\\n", "frr", ()), digests.get("hostname r1\\n", "frr", ("^x",))
    ('sha256:ab', None)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from netimmutable.localcache import digest_of, read_entry, source_digest, write_entry

if TYPE_CHECKING:
    from netimmutable.repo import NetworkRepo
    from netimmutable.verify_model import VerifiedHost


class _Baseline(Protocol):
    @property
    def config(self) -> str | None: ...


__all__ = ["ENTRY", "MAX_ENTRIES", "ArtifactDigests", "known_digest", "remember_digests"]

ENTRY = "verify-digests.json"
MAX_ENTRIES = 200_000
"""Entries kept in the file (the most recently used ones): far more than one fleet's artifacts."""
_SOURCES = ("normalize.py", "masking.py", "secretforms.py", "secretref.py", "drivers/platform_names.py")


@lru_cache(maxsize=1)
def _rules() -> str:
    return source_digest(*_SOURCES)


class ArtifactDigests:
    """The cache's entries (artifact key -> digest) and the ones this run used or added."""

    def __init__(self, entries: dict[str, str], rules: str) -> None:
        self._entries = entries
        self._rules = rules
        self._used: dict[str, str] = {}
        self._added = False
        self._lock = threading.Lock()

    @classmethod
    def load(cls, local_dir: Path) -> ArtifactDigests:
        """The entries of ``local_dir``'s cache made by these normalization rules (none when absent)."""
        rules = _rules()
        data = read_entry(local_dir, ENTRY)
        entries = data.get("entries") if data is not None and data.get("rules") == rules else None
        valid = isinstance(entries, dict) and all(isinstance(v, str) for v in entries.values())
        return cls(dict(entries) if valid and isinstance(entries, dict) else {}, rules)

    def _key(self, config: str, platform: str, extra: Sequence[str]) -> str:
        return digest_of(self._rules, platform, "\n".join(extra), config)[:40]

    def get(self, config: str, platform: str, extra: Sequence[str]) -> str | None:
        key = self._key(config, platform, extra)
        found = self._entries.get(key)
        if found is not None:
            with self._lock:
                self._used[key] = found
        return found

    def only(self, config: str, platform: str, extra: Sequence[str]) -> ArtifactDigests | None:
        """A cache holding just this artifact's entry (for a task sent to a cluster worker), or None."""
        found = self.get(config, platform, extra)
        if found is None:
            return None
        return ArtifactDigests({self._key(config, platform, extra): found}, self._rules)

    def __getstate__(self) -> tuple[dict[str, str], str]:
        return self._entries, self._rules

    def __setstate__(self, state: tuple[dict[str, str], str]) -> None:
        self._entries, self._rules = state
        self._used, self._added, self._lock = {}, False, threading.Lock()  # nothing used yet over there

    def add(self, config: str, platform: str, extra: Sequence[str], digest: str) -> None:
        key = self._key(config, platform, extra)
        with self._lock:
            self._added = self._added or self._entries.get(key) != digest
            self._entries[key] = digest
            self._used[key] = digest

    def save(self, local_dir: Path) -> None:
        """Write the entries back when this run added any: this run's first, then older ones, up to
        ``MAX_ENTRIES``."""
        if not self._added:
            return
        entries = dict(self._used)
        for key, value in self._entries.items():
            if len(entries) >= MAX_ENTRIES:
                break
            entries.setdefault(key, value)
        write_entry(local_dir, ENTRY, {"rules": self._rules, "entries": entries})


def known_digest(
    digests: ArtifactDigests | None,
    secrets: Mapping[str, str],
    config: str,
    running: str,
    platform: str,
    extra: Sequence[str],
) -> str | None:
    """The digest of the normalized artifact from an earlier run, when the device runs it byte for byte
    (never with secrets: their values shape the normalized form)."""
    if digests is None or secrets or running != config:
        return None
    return digests.get(config, platform, extra)


def remember_digests(
    repo: NetworkRepo,
    digests: ArtifactDigests | None,
    secrets: Mapping[str, str],
    extra: Sequence[str],
    results: Iterable[VerifiedHost],
    baselines: Mapping[str, _Baseline],
) -> None:
    """Keep the digests of the artifacts this run normalized (text compared) for the next run."""
    if digests is None or secrets:
        return
    for result in results:
        config = baselines[result.host].config
        if result.compared_by == "text" and result.expected_digest and config is not None:
            digests.add(config, result.platform, extra, result.expected_digest)
    digests.save(repo.local_dir)
