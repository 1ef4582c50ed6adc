"""Rendering many hosts: the render cache first, then the hosts left rendered on every core, in host order.

Each host is looked up in the render cache (``render_cache``: its resolved data and the templates it
loaded last time); the hosts that miss are rendered by a pool of forked processes (``procpool``), each
with its own sandboxed environment, and the results come back in the hosts' order: what is written,
printed and raised is exactly what one process rendering them one after the other would give. A worker
returns each host's artifacts (or its error, as data), the templates it loaded and its resolved-data
digest; the parent records them in the cache and hands each result on at once, so a caller that writes
and forgets them (``refresh_snapshots``) never holds more than the pool's window of rendered configs.

Fewer than ``POOL_MIN_HOSTS`` hosts to render (a one-host edit, a ``--limit``) are rendered in process:
starting workers costs more than it saves there (measured in docs/performance.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nornir.core.inventory import Host

from netimmutable.errors import RenderError
from netimmutable.procpool import ordered_map
from netimmutable.render_cache import CachedRender, RenderCache, SnapshotTable, resolved_digest
from netimmutable.render_host import (
    CONFIG_SUFFIX,
    EXPECT_SUFFIX,
    RenderedHost,
    make_environment,
    render_one,
)
from netimmutable.repo import NetworkRepo
from netimmutable.sandbox import RenderSandbox

__all__ = ["POOL_MIN_HOSTS", "KnownHost", "iter_rendered"]

POOL_MIN_HOSTS = 16
"""Hosts to render below which no worker process is started."""


@dataclass(frozen=True, slots=True)
class KnownHost:
    """A cache hit whose snapshot files the stat table vouches for: known by digest, not read."""

    name: str
    seen: tuple[tuple[str, str, tuple[int, int, int, int]], ...]
    """(file name, sha256, stat) of each of its artifact files."""


@dataclass(slots=True)
class _Job:
    """What the workers see (inherited through fork)."""

    repo: NetworkRepo
    hosts: tuple[Host, ...]
    env: RenderSandbox | None = field(default=None)


_Outcome = tuple[RenderedHost | None, tuple[str, str | None, str | None, int | None, str | None] | None, str]
"""(artifacts, or None; the error as (message, host, file, line, hint), or None; resolved digest)."""


def _render_chunk(job: _Job, indices: Sequence[int]) -> list[_Outcome]:
    """Render hosts ``indices`` of ``job`` (in a worker, or in process)."""
    limits = job.repo.settings.render
    if job.env is None:
        job.env = make_environment(job.repo.templates_dir, limits.max_output_bytes, job.repo.root)
    out: list[_Outcome] = []
    for index in indices:
        host = job.hosts[index]
        try:
            item = render_one(job.env, host, job.repo.templates_dir, limits.max_seconds)
        except RenderError as exc:
            error = (exc.message, exc.host, exc.file, exc.line, exc.hint)
            out.append((None, error, ""))
            continue
        out.append((item, None, resolved_digest(host)))
    return out


def _from_cache(host: Host, hit: CachedRender) -> RenderedHost | KnownHost:
    """A hit whose every file was read is a ``RenderedHost``; one known through the stat table is not."""
    if any(name not in hit.files for name, _, _ in hit.seen):
        return KnownHost(name=host.name, seen=hit.seen)
    return RenderedHost(
        name=host.name,
        platform=hit.platform,
        template=hit.template,
        config=hit.files[f"{host.name}{CONFIG_SUFFIX}"],
        expect_template=hit.expect_template,
        expectations=hit.files.get(f"{host.name}{EXPECT_SUFFIX}"),
        seen=hit.seen,
    )


def iter_rendered(
    repo: NetworkRepo,
    hosts: Sequence[Host],
    *,
    processes: int = 0,
    inputs: Mapping[str, str] | None = None,
    table: SnapshotTable | None = None,
) -> Iterator[RenderedHost | KnownHost | RenderError]:
    """Each host's artifacts (or its ``RenderError``), in the order of ``hosts``.

    ``processes``: worker processes for the hosts to render (0: one per core). ``inputs``: host ->
    inputs digest (``LoadedInventory.host_inputs``). With ``table`` a hit whose files the stat table
    vouches for comes as a ``KnownHost`` (not read); without it every hit is read (a ``RenderedHost``).
    The cache is saved when the iteration ends, also after a failure (what rendered is remembered)."""
    hosts = tuple(hosts)
    known = inputs or {}
    cache = RenderCache.open(repo)
    hits: list[CachedRender | None] = [cache.lookup(h, known.get(h.name), table) for h in hosts]
    misses = [index for index, hit in enumerate(hits) if hit is None]
    results: Iterator[_Outcome] = ordered_map(
        _render_chunk,
        misses,
        state=_Job(repo=repo, hosts=hosts),
        processes=processes,
        min_items=POOL_MIN_HOSTS,
    )
    try:
        for index, host in enumerate(hosts):
            hit = hits[index]
            if hit is not None:
                hits[index] = None  # handed on: not kept
                yield _from_cache(host, hit)
                continue
            item, error, resolved = next(results)
            if item is None:
                message, name, file, line, hint = error or ("render failed", host.name, None, None, None)
                yield RenderError(message, host=name, file=file, line=line, hint=hint)
                continue
            files = {name: _sha256(text) for name, text in item.files().items()}
            cache.record(
                host.name,
                known.get(host.name),
                resolved,
                dict(item.loaded),
                (item.platform, item.template, item.expect_template, files),
            )
            yield item
    finally:
        close: Any = getattr(results, "close", None)
        if close is not None:
            close()
        cache.save()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
