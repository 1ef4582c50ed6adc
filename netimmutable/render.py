"""Rendering complete device configurations (and expectations) from templates and inventory data.

Jinja2 runs sandboxed with ``StrictUndefined``: an undefined variable is an error, never an empty string.
Rendering is all-or-nothing: when any selected host fails, nothing is written.
"""

from __future__ import annotations

import hashlib
import os
import re
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from nornir.core.inventory import Host

from netimmutable.credentials import find_credentials
from netimmutable.errors import InputError, RenderError, RepoError
from netimmutable.fileio import atomic_write_all, refuse_links
from netimmutable.filters import FILTERS, TESTS
from netimmutable.inventory import load_inventory, select_hosts
from netimmutable.normalize import MASK, mask
from netimmutable.render_cache import (
    InputsKey,
    RenderCache,
    SnapshotTable,
    StatKey,
    inputs_key,
    read_verified,
    stat_key,
)
from netimmutable.repo import NetworkRepo
from netimmutable.sandbox import (
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_MAX_RENDER_SECONDS,
    RenderSandbox,
    render_bounded,
    template_context,
)
from netimmutable.secretref import SECRET_RE

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

CONFIG_SUFFIX = ".cfg"
EXPECT_SUFFIX = ".expect.yaml"


@dataclass(frozen=True, slots=True)
class RenderedHost:
    """One host's rendered artifacts."""

    name: str
    platform: str
    template: str
    config: str
    expect_template: str | None = None
    expectations: str | None = None
    seen: tuple[tuple[str, str, StatKey], ...] = field(default=(), compare=False, repr=False)
    """Snapshot files this was read from (a render cache hit): (file name, sha256, stat before reading).
    Those files held exactly these artifacts: ``compare_snapshots`` does not read them again."""

    def files(self) -> dict[str, str]:
        """File name (inside snapshots/) -> content."""
        out = {f"{self.name}{CONFIG_SUFFIX}": self.config}
        if self.expectations is not None:
            out[f"{self.name}{EXPECT_SUFFIX}"] = self.expectations
        return out


@dataclass(frozen=True, slots=True)
class SnapshotStatus:
    """How ``snapshots/`` compares with what the current inputs render."""

    stale: tuple[str, ...]
    missing: tuple[str, ...]
    orphaned: tuple[str, ...]

    @property
    def current(self) -> bool:
        return not (self.stale or self.missing or self.orphaned)


class _RepoLoader(jinja2.FileSystemLoader):
    """Templates from ``templates/``, each a regular file with no symbolic link from the repository root."""

    def __init__(self, templates_dir: Path, repo_root: Path) -> None:
        super().__init__(str(templates_dir))
        self.templates_dir = templates_dir
        self.repo_root = repo_root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = jinja2.loaders.split_template_path(template)  # refuses "..": TemplateNotFound
        refuse_links(self.repo_root, self.templates_dir.joinpath(*pieces))
        return super().get_source(environment, template)


def make_environment(
    templates_dir: Path, max_output: int = DEFAULT_MAX_OUTPUT_BYTES, repo_root: Path | None = None
) -> RenderSandbox:
    """The sandboxed environment templates render in (see ``sandbox``: what they can reach, the limits).
    Templates are read from ``templates_dir`` only, never through a symbolic link under ``repo_root``
    (default: the folder holding ``templates_dir``)."""
    # Immutable: a template cannot change data (e.g. `ntp.append(...)`) that other hosts' renders share.
    env = RenderSandbox(
        max_output=max_output,
        loader=_RepoLoader(templates_dir, repo_root or templates_dir.parent),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    return env


def _template_location(exc: BaseException, templates_dir: Path) -> tuple[str | None, int | None]:
    """The innermost template frame of a rendering traceback (Jinja maps frames to template lines)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        name = exc.name or exc.filename
        return (f"templates/{name}" if name else None), exc.lineno
    location: tuple[str | None, int | None] = (None, None)
    root = str(templates_dir)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(root):
            location = (
                f"templates/{Path(frame.filename).relative_to(templates_dir).as_posix()}",
                frame.lineno,
            )
    return location


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        if exc.message and "is unsafe" in exc.message:
            return f"template tried something the sandbox forbids: {exc.message}"
        return f"undefined variable: {exc.message}"
    if isinstance(exc, SecurityError):
        return f"template tried something the sandbox forbids: {exc}"
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template not found: {exc.name}"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"template syntax error: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _refused_file(exc: InputError, host: str, templates_dir: Path) -> RenderError:
    """A template file the loader refused, named, with the template line that included it (if any)."""
    file, line = _template_location(exc, templates_dir)
    where = f" (included from {file}:{line})" if file and file != exc.file else ""
    return RenderError(exc.message + where, host=host, file=exc.file, hint=exc.hint)


def _entry_template(host: Host, key: str, default: str) -> str:
    value = host.get(key)
    name = default if value in (None, "") else str(value)
    if name.startswith("/") or ".." in Path(name).parts:
        raise RenderError(f"{key} {name!r} must be a path inside templates/", host=host.name)
    return name


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _check_printable(text: str, host: str, template: str) -> None:
    """Refuse control characters (tab and newline are fine) in rendered output, naming its line."""
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise RenderError(
            f"rendered line {line} contains control character U+{ord(bad.group()):04X}; "
            "configuration text must be printable (tab allowed)",
            host=host,
            file=f"templates/{template}",
        )


def _check_credentials(text: str, host: str, template: str, declared: set[str]) -> None:
    """Refuse a credential (``find_credentials``: what masking and NAPALM's sanitize filters hide, SNMP
    communities, SNMPv3 keys) that is neither a ``secret()`` placeholder nor a value the template passed
    through ``not_secret()``; the message names the line and shows it with the value masked."""
    for cred in find_credentials(text):
        value = text[cred.start : cred.end]
        if SECRET_RE.fullmatch(value) or any(value in known for known in declared):
            continue  # a placeholder, or (part of) a text the template declared with not_secret()
        number = text.count("\n", 0, cred.start) + 1
        first = text.rfind("\n", 0, cred.start) + 1
        last = text.find("\n", cred.start)
        line = text[first : last if last >= 0 else len(text)]
        shown = mask(line[: cred.start - first] + MASK + text[cred.end : last if last >= 0 else len(text)])
        raise RenderError(
            f"rendered line {number} ({shown.strip()!r}) carries a credential ({cred.keyword}) that does not "
            "come from secret(); it would be committed in clear",
            host=host,
            file=f"templates/{template}",
            hint="render it with secret('name') (resolved only at push time), or, for a value that is "
            "not secret (a hash the device shows anyway), with not_secret(value)",
        )


def _render_expectations(
    env: RenderSandbox, host: Host, templates_dir: Path, context: Mapping[str, Any], max_seconds: float
) -> tuple[str | None, str | None]:
    """The host's expectations template and what it renders (None, None: the host has none: no
    ``expect_template`` and no ``<platform>/expect.j2``, or ``expect_template: false``)."""
    if host.get("expect_template") is False:  # explicitly none (an adopted host, until it is templated)
        return None, None
    expect_template = _entry_template(host, "expect_template", f"{host.platform}/expect.j2")
    if not host.get("expect_template") and not (templates_dir / expect_template).is_file():
        return None, None
    try:
        expectations = render_bounded(env, env.get_template(expect_template), dict(context), max_seconds)
    except InputError as exc:
        raise _refused_file(exc, host.name, templates_dir) from None
    except Exception as exc:  # noqa: BLE001
        file, line = _template_location(exc, templates_dir)
        raise RenderError(
            _describe(exc), host=host.name, file=file or f"templates/{expect_template}", line=line
        ) from None
    if not expectations.endswith("\n"):
        expectations += "\n"
    _check_printable(expectations, host.name, expect_template)
    return expect_template, expectations


def expectation_failures(repo: NetworkRepo, hosts: Iterable[Host]) -> dict[str, RenderError]:
    """Host -> why its expectations do not render (hosts whose expectations render, or that have none, are
    left out). Only the expectations templates are rendered; nothing is written.

    ``adopt`` uses it: an adopted host whose data lacks what its platform's ``expect.j2`` needs gets
    ``expect_template: false`` until it is templated."""
    limits = repo.settings.render
    env = make_environment(repo.templates_dir, limits.max_output_bytes, repo.root)
    failures: dict[str, RenderError] = {}
    for host in hosts:
        try:
            _render_expectations(env, host, repo.templates_dir, template_context(host), limits.max_seconds)
        except RenderError as exc:
            failures[host.name] = exc
    return failures


def _render_one(
    env: RenderSandbox, host: Host, templates_dir: Path, max_seconds: float = DEFAULT_MAX_RENDER_SECONDS
) -> RenderedHost:
    platform = str(host.platform)
    template = _entry_template(host, "template", f"{platform}/main.j2")
    context: dict[str, Any] = template_context(host)
    try:
        config = render_bounded(env, env.get_template(template), context, max_seconds)
    except InputError as exc:  # a template file refused by the loader (a symbolic link)
        raise _refused_file(exc, host.name, templates_dir) from None
    except jinja2.TemplateNotFound as exc:
        if exc.name == template:
            raise RenderError(
                f"entry template templates/{template} not found (set `template:` in the host's data, "
                f"or create templates/{platform}/main.j2)",
                host=host.name,
            ) from None
        file, line = _template_location(exc, templates_dir)
        raise RenderError(_describe(exc), host=host.name, file=file, line=line) from None
    except Exception as exc:  # noqa: BLE001 - any template failure becomes a located RenderError
        file, line = _template_location(exc, templates_dir)
        raise RenderError(
            _describe(exc), host=host.name, file=file or f"templates/{template}", line=line
        ) from None
    if config and not config.endswith("\n"):
        config += "\n"
    _check_printable(config, host.name, template)
    _check_credentials(config, host.name, template, env.declared)

    expect_template, expectations = _render_expectations(env, host, templates_dir, context, max_seconds)
    return RenderedHost(
        name=host.name,
        platform=platform,
        template=template,
        config=config,
        expect_template=expect_template,
        expectations=expectations,
    )


def render_hosts(repo: NetworkRepo, hosts: Iterable[Host]) -> tuple[RenderedHost, ...]:
    """Render every host; raise one RenderError naming every failure when any host fails.

    A host whose inputs and snapshots are unchanged since it was last rendered takes its artifacts from
    ``snapshots/`` instead (see ``render_cache``): the result is byte for byte the same.
    """
    limits = repo.settings.render
    env = make_environment(repo.templates_dir, limits.max_output_bytes, repo.root)
    cache = RenderCache.open(repo)
    rendered: list[RenderedHost] = []
    failures: list[RenderError] = []
    for host in hosts:
        key = cache.key(host)
        hit = cache.lookup(host, key)
        if hit is not None:
            rendered.append(
                RenderedHost(
                    name=host.name,
                    platform=hit.platform,
                    template=hit.template,
                    config=hit.files[f"{host.name}{CONFIG_SUFFIX}"],
                    expect_template=hit.expect_template,
                    expectations=hit.files.get(f"{host.name}{EXPECT_SUFFIX}"),
                    seen=hit.seen,
                )
            )
            continue
        try:
            item = _render_one(env, host, repo.templates_dir, limits.max_seconds)
        except RenderError as exc:
            failures.append(exc)
            continue
        rendered.append(item)
        cache.record(host, key, item.platform, item.template, item.expect_template, item.files())
    cache.save()
    if failures:
        first = failures[0]
        more = "".join(f"\n  {f}" for f in failures[1:])
        suffix = f"\n{len(failures)} host(s) failed; nothing was written:{more}" if more else ""
        raise RenderError(
            first.message + suffix, host=first.host, file=first.file, line=first.line, hint=first.hint
        )
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
) -> RenderSummary:
    """Render the selected hosts (all by default), compare with snapshots/ and (``write``) bring it in line.

    A complete render whose inputs are byte for byte those of the last complete render, with every file
    in snapshots/ unchanged since (the stat table in ``render_cache``), is answered without loading the
    inventory. Anything else renders (through the per-host cache) and records the stat table again.
    """
    whole = not limit and not filters
    key = inputs_key(repo)
    table = SnapshotTable.load(repo)
    if whole and key is not None:
        current = _current_from_table(repo, table, key)
        if current is not None:
            return current
    loaded = load_inventory(repo)
    rendered = render_hosts(repo, select_hosts(loaded, limit, filters))
    status, equal = _compare(repo, rendered, [h.name for h in loaded.hosts()] if whole else None)
    written = _write_changed(repo, rendered, status) if write else {}
    known = {**equal, **written}  # each file's stat when it was last known to hold its artifact
    digests: dict[str, str] = {}
    verified: dict[str, tuple[str, StatKey]] = {}
    for item in rendered:
        seen = {name: (digest, stat) for name, digest, stat in item.seen}
        for name, content in item.files().items():
            if name in seen:
                digests[name] = seen[name][0]
                verified[name] = seen[name]
            else:
                digests[name] = _sha256(content)
                if name in known:
                    verified[name] = (digests[name], known[name])
    if key is not None and inputs_key(repo) == key:  # the inputs did not change while rendering
        _record(repo, table, key, whole, len(rendered), digests, verified)
    return RenderSummary(
        hosts=len(rendered),
        status=status,
        written=len(written) + len(status.orphaned) if write else 0,
        digests=digests,
    )


def _write_changed(
    repo: NetworkRepo, rendered: Sequence[RenderedHost], status: SnapshotStatus
) -> dict[str, StatKey]:
    """``write_snapshots``, returning each written file's stat taken right after it was written."""
    repo.snapshots_dir.mkdir(parents=True, exist_ok=True)
    changed = set(status.stale) | set(status.missing)
    files = {
        repo.snapshots_dir / name: content
        for item in rendered
        for name, content in item.files().items()
        if name in changed
    }
    try:
        atomic_write_all(files)  # all or none: a full disk leaves snapshots/ as it was
    except OSError as exc:
        name = Path(exc.filename).name if exc.filename else "a snapshot"
        raise RepoError(
            f"cannot write ({exc.strerror or exc}): nothing in {repo.settings.snapshots_dir}/ was changed",
            file=f"{repo.settings.snapshots_dir}/{name}",
            hint="free space on the repository's disk, then run the command again",
        ) from None
    written = {path.name: stat_key(path.stat()) for path in files}
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
