"""Rendering complete device configurations (and expectations) into ``snapshots/``.

Each host is rendered by ``render_host`` (sandboxed Jinja2, ``StrictUndefined``), through the render
cache and on every core (``render_pool``). Rendering is all-or-nothing: when any selected host fails,
nothing is written. ``refresh_snapshots`` streams: each host's changed files go to temporary files beside
their snapshots as the host's result arrives (its text is then dropped), and are renamed over the
snapshots only once every host rendered.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nornir.core.inventory import Host

from netimmutable.errors import RenderError, RepoError
from netimmutable.fileio import StagedFiles, refuse_links
from netimmutable.inventory import LoadedInventory, load_inventory, select_hosts
from netimmutable.render_cache import (
    InputsKey,
    SnapshotTable,
    StatKey,
    inputs_key,
    read_verified,
    stat_key,
)
from netimmutable.render_host import (
    CONFIG_SUFFIX,
    EXPECT_SUFFIX,
    RenderedHost,
    expectation_failures,
    make_environment,
)
from netimmutable.render_pool import KnownHost, iter_rendered
from netimmutable.repo import NetworkRepo

__all__ = [
    "CONFIG_SUFFIX",
    "EXPECT_SUFFIX",
    "RenderSummary",
    "RenderedHost",
    "SnapshotStatus",
    "compare_snapshots",
    "expectation_failures",
    "make_environment",
    "refresh_snapshots",
    "render_hosts",
    "write_snapshots",
]


@dataclass(frozen=True, slots=True)
class SnapshotStatus:
    """How ``snapshots/`` compares with what the current inputs render."""

    stale: tuple[str, ...]
    missing: tuple[str, ...]
    orphaned: tuple[str, ...]

    @property
    def current(self) -> bool:
        return not (self.stale or self.missing or self.orphaned)


def _combined(failures: Sequence[RenderError]) -> RenderError:
    """One error naming every failed host, the first one's location first (host order)."""
    first = failures[0]
    more = "".join(f"\n  {f}" for f in failures[1:])
    suffix = f"\n{len(failures)} host(s) failed; nothing was written:{more}" if more else ""
    return RenderError(
        first.message + suffix, host=first.host, file=first.file, line=first.line, hint=first.hint
    )


def render_hosts(
    repo: NetworkRepo,
    hosts: Iterable[Host],
    *,
    processes: int = 0,
    inputs: Mapping[str, str] | None = None,
) -> tuple[RenderedHost, ...]:
    """Render every host; raise one RenderError naming every failure when any host fails.

    A host whose resolved data, loaded templates and snapshots are unchanged since it was last rendered
    takes its artifacts from ``snapshots/`` instead (see ``render_cache``): the result is byte for byte the
    same. The others are rendered on ``processes`` worker processes (0: one per core; see
    ``render_pool``), with the same result as in one process.
    """
    rendered: list[RenderedHost] = []
    failures: list[RenderError] = []
    for item in iter_rendered(repo, tuple(hosts), processes=processes, inputs=inputs):
        if isinstance(item, RenderError):
            failures.append(item)
        elif isinstance(item, RenderedHost):
            rendered.append(item)
    if failures:
        raise _combined(failures)
    return tuple(rendered)


_ARTIFACT_RE = re.compile(rf"^(?P<host>.+?)({re.escape(EXPECT_SUFFIX)}|{re.escape(CONFIG_SUFFIX)})$")


def _existing_artifacts(snapshots_dir: Path) -> dict[str, str]:
    """File name -> host name for every artifact file in snapshots/."""
    if not snapshots_dir.is_dir():
        return {}
    found: dict[str, str] = {}
    with os.scandir(snapshots_dir) as entries:
        for entry in entries:
            match = _ARTIFACT_RE.match(entry.name)
            if match and entry.is_symlink():
                refuse_links(snapshots_dir.parent, Path(entry.path))  # raises: named, with what to do
            if match and entry.is_file():
                found[entry.name] = match.group("host")
    return found


def compare_snapshots(
    repo: NetworkRepo, rendered: Sequence[RenderedHost], all_hosts: Iterable[str] | None
) -> SnapshotStatus:
    """Compare rendered artifacts with the files in snapshots/.

    ``all_hosts`` is every inventory host when the whole inventory was rendered (then files of other hosts are
    orphaned); ``None`` for a limited render (orphans are not judged).
    """
    return _compare(repo, rendered, all_hosts)[0]


def _compare(
    repo: NetworkRepo, rendered: Sequence[RenderedHost], all_hosts: Iterable[str] | None
) -> tuple[SnapshotStatus, dict[str, StatKey]]:
    """``compare_snapshots``, with the stat (taken before reading) of each file it read and found equal."""
    stale: list[str] = []
    missing: list[str] = []
    equal: dict[str, StatKey] = {}
    for item in rendered:
        read = {name for name, _, _ in item.seen}  # read and hashed while rendering: equal
        for name, content in item.files().items():
            if name in read:
                continue
            refuse_links(repo.root, repo.snapshots_dir / name)
            try:
                raw, stat = read_verified(repo.snapshots_dir / name)
            except FileNotFoundError:
                missing.append(name)
                continue
            if raw != content.encode("utf-8"):
                stale.append(name)
            else:
                equal[name] = stat
    orphaned: list[str] = []
    if all_hosts is not None:
        expected = {name for item in rendered for name in item.files()}
        orphaned = sorted(f for f in _existing_artifacts(repo.snapshots_dir) if f not in expected)
    status = SnapshotStatus(
        stale=tuple(sorted(stale)), missing=tuple(sorted(missing)), orphaned=tuple(orphaned)
    )
    return status, equal


def write_snapshots(repo: NetworkRepo, rendered: Sequence[RenderedHost], status: SnapshotStatus) -> int:
    """Bring snapshots/ in line with ``rendered``: write stale and missing files, remove orphans.

    Returns how many files changed. Each file is written atomically (temp file + rename).
    """
    return len(_write_changed(repo, rendered, status)) + len(status.orphaned)


@dataclass(frozen=True, slots=True)
class RenderSummary:
    """What ``refresh_snapshots`` did."""

    hosts: int
    status: SnapshotStatus
    """How snapshots/ compared with the render before anything was written."""
    written: int
    """Files written or removed (0 with ``write=False``)."""
    digests: Mapping[str, str]
    """File name -> sha256 (hex) of every rendered artifact."""
    inventory: LoadedInventory | None = field(default=None, compare=False, repr=False)
    """The inventory the render loaded (None: answered from the stat table without loading it)."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _current_from_table(repo: NetworkRepo, table: SnapshotTable, key: InputsKey) -> RenderSummary | None:
    """A complete render's result without rendering, when the inputs are those of the table's complete
    render and every artifact file in snapshots/ is (by stat, or by hashing a changed or racy one) what
    that render wrote; None otherwise (then render as usual)."""
    if table.inputs is None or table.inputs != key.digest:
        return None
    snapshots = repo.snapshots_dir
    found = 0
    refreshed = False
    try:
        with os.scandir(snapshots) as entries:
            for entry in entries:
                name = entry.name
                if not _ARTIFACT_RE.match(name):
                    continue
                known = table.files.get(name)
                if known is None or not entry.is_file(follow_symlinks=False):
                    return None  # an orphan, or not a plain file: let the full check judge it
                found += 1
                if table.digest_if_unchanged(name, stat_key(entry.stat(follow_symlinks=False))) is None:
                    raw, stat = read_verified(snapshots / name)
                    if hashlib.sha256(raw).hexdigest() != known[0]:
                        return None
                    table.files[name] = (known[0], stat)
                    refreshed = True
    except OSError:
        return None
    if found != len(table.files):
        return None  # a file is missing
    if refreshed:
        table.save(repo)
    return RenderSummary(
        hosts=table.hosts,
        status=SnapshotStatus(stale=(), missing=(), orphaned=()),
        written=0,
        digests={name: digest for name, (digest, _) in table.files.items()},
    )


def refresh_snapshots(
    repo: NetworkRepo,
    limit: Sequence[str] = (),
    filters: Sequence[tuple[str, str]] = (),
    *,
    write: bool = True,
    processes: int = 0,
) -> RenderSummary:
    """Render the selected hosts (all by default), compare with snapshots/ and (``write``) bring it in line.

    A complete render whose inputs are byte for byte those of the last complete render, with every file
    in snapshots/ unchanged since (the stat table in ``render_cache``), is answered without loading the
    inventory. Anything else renders (through the per-host cache, on ``processes`` worker processes, 0: one
    per core) and records the stat table again. Results are streamed: a changed file is staged as its
    host's result arrives, and every staged file is renamed into place only when no host failed.
    """
    whole = not limit and not filters
    key = inputs_key(repo)
    table = SnapshotTable.load(repo)
    if whole and key is not None:
        current = _current_from_table(repo, table, key)
        if current is not None:
            return current
    loaded = load_inventory(repo, processes=processes)
    hosts = select_hosts(loaded, limit, filters)
    if write:
        repo.snapshots_dir.mkdir(parents=True, exist_ok=True)
    stream = _Stream(repo, write)
    with StagedFiles() as staged:
        stream.consume(
            iter_rendered(repo, hosts, processes=processes, inputs=loaded.host_inputs, table=table), staged
        )
        if stream.failures:
            staged.discard()
            raise _combined(stream.failures)
        orphaned: list[str] = []
        if whole:
            orphaned = sorted(f for f in _existing_artifacts(repo.snapshots_dir) if f not in stream.digests)
        status = SnapshotStatus(
            stale=tuple(sorted(stream.stale)), missing=tuple(sorted(stream.missing)), orphaned=tuple(orphaned)
        )
        written: dict[str, StatKey] = {}
        if write:
            try:
                paths = staged.commit()
            except OSError as exc:
                raise _write_failed(repo, exc) from None
            written = {path.name: stat_key(path.stat()) for path in paths}
            for name in orphaned:
                (repo.snapshots_dir / name).unlink(missing_ok=True)
    digests = stream.digests
    verified = dict(stream.verified)
    for name, stat in written.items():
        verified[name] = (digests[name], stat)
    if key is not None and inputs_key(repo) == key:  # the inputs did not change while rendering
        _record(repo, table, key, whole, stream.hosts, digests, verified)
    return RenderSummary(
        hosts=stream.hosts,
        status=status,
        written=len(written) + len(orphaned) if write else 0,
        digests=digests,
        inventory=loaded,
    )


class _Stream:
    """What ``refresh_snapshots`` keeps of the rendered hosts: digests and stats, never their texts."""

    def __init__(self, repo: NetworkRepo, write: bool) -> None:
        self.repo = repo
        self.write = write
        self.hosts = 0
        self.failures: list[RenderError] = []
        self.stale: list[str] = []
        self.missing: list[str] = []
        self.digests: dict[str, str] = {}
        self.verified: dict[str, tuple[str, StatKey]] = {}
        """File name -> (sha256, stat) of each file known to hold its artifact now."""

    def consume(self, items: Iterable[RenderedHost | KnownHost | RenderError], staged: StagedFiles) -> None:
        for item in items:
            if isinstance(item, RenderError):
                self.failures.append(item)
                continue
            self.hosts += 1
            for name, digest, stat in item.seen:  # read or vouched for while looking the host up
                self.digests[name] = digest
                self.verified[name] = (digest, stat)
            if isinstance(item, RenderedHost):
                self._compare(item, staged)

    def _compare(self, item: RenderedHost, staged: StagedFiles) -> None:
        read = {name for name, _, _ in item.seen}
        snapshots = self.repo.snapshots_dir
        for name, content in item.files().items():
            if name in read:
                continue
            self.digests[name] = digest = _sha256(content)
            refuse_links(self.repo.root, snapshots / name)
            try:
                raw, stat = read_verified(snapshots / name)
            except FileNotFoundError:
                self.missing.append(name)
            else:
                if raw == content.encode("utf-8"):
                    self.verified[name] = (digest, stat)
                    continue
                self.stale.append(name)
            if self.failures or not self.write:
                continue  # nothing will be written: no need to stage
            try:
                staged.stage(snapshots / name, content)
            except OSError as exc:  # a full disk: the files staged so far are removed, none renamed
                raise _write_failed(self.repo, exc) from None


def _write_failed(repo: NetworkRepo, exc: OSError) -> RepoError:
    name = Path(exc.filename).name if exc.filename else "a snapshot"
    return RepoError(
        f"cannot write ({exc.strerror or exc}): nothing in {repo.settings.snapshots_dir}/ was changed",
        file=f"{repo.settings.snapshots_dir}/{name}",
        hint="free space on the repository's disk, then run the command again",
    )


def _write_changed(
    repo: NetworkRepo, rendered: Sequence[RenderedHost], status: SnapshotStatus
) -> dict[str, StatKey]:
    """``write_snapshots``, returning each written file's stat taken right after it was written."""
    repo.snapshots_dir.mkdir(parents=True, exist_ok=True)
    changed = set(status.stale) | set(status.missing)
    try:
        with StagedFiles() as staged:  # all or none: a full disk leaves snapshots/ as it was
            for item in rendered:
                for name, content in item.files().items():
                    if name in changed:
                        staged.stage(repo.snapshots_dir / name, content)
            paths = staged.commit()
    except OSError as exc:
        raise _write_failed(repo, exc) from None
    written = {path.name: stat_key(path.stat()) for path in paths}
    for name in status.orphaned:
        (repo.snapshots_dir / name).unlink(missing_ok=True)
    return written


def _record(
    repo: NetworkRepo,
    table: SnapshotTable,
    key: InputsKey,
    whole: bool,
    hosts: int,
    digests: Mapping[str, str],
    verified: dict[str, tuple[str, StatKey]],
) -> None:
    """Update the stat table after a render of inputs ``key``: entries of the files just written or read.

    The table names ``key`` as its complete render only when every artifact of a complete render is in it
    (a --check that found a stale or missing file leaves it unnamed). A limited render adds entries only
    to a table of the same inputs (its artifacts are then that complete render's).
    """
    if whole:
        inputs = key.digest if len(verified) == len(digests) else None
        SnapshotTable(inputs=inputs, hosts=hosts, files=verified, stamp=0).save(repo)
    elif table.inputs == key.digest and verified:
        table.forget_racy()  # entries not verified by this command must stay racy
        table.files.update(verified)
        table.save(repo)
