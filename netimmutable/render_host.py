"""Rendering one host: its complete configuration (and expectations) from templates and its data.

Jinja2 runs sandboxed with ``StrictUndefined``: an undefined variable is an error, never an empty string.
Every failure becomes a ``RenderError`` naming the host, the template file and line. The environment
records which templates each render loads (``TrackingSandbox.loaded``: entry template, includes,
imports, macros, names asked for and not found), with the digest of the bytes it compiled: the render
cache re-renders a host when one of them changes (see ``render_cache``).
"""

from __future__ import annotations

import hashlib
import re
import traceback
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from nornir.core.inventory import Host

from netimmutable.credentials import find_credentials
from netimmutable.errors import InputError, RenderError
from netimmutable.fileio import refuse_links
from netimmutable.filters import FILTERS, TESTS
from netimmutable.normalize import MASK, mask
from netimmutable.render_cache import StatKey
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
    "RenderedHost",
    "TrackingSandbox",
    "expectation_failures",
    "make_environment",
    "render_one",
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
    loaded: tuple[tuple[str, str | None], ...] = field(default=(), compare=False, repr=False)
    """Templates the render loaded, in the order first asked for: (name, sha256 of the bytes compiled, or
    None: asked for and not found). Empty for a cache hit."""

    def files(self) -> dict[str, str]:
        """File name (inside snapshots/) -> content."""
        out = {f"{self.name}{CONFIG_SUFFIX}": self.config}
        if self.expectations is not None:
            out[f"{self.name}{EXPECT_SUFFIX}"] = self.expectations
        return out


class _RepoLoader(jinja2.FileSystemLoader):
    """Templates from ``templates/``, each a regular file with no symbolic link from the repository root;
    ``digests`` holds the sha256 of the source of every template it read."""

    def __init__(self, templates_dir: Path, repo_root: Path) -> None:
        super().__init__(str(templates_dir))
        self.templates_dir = templates_dir
        self.repo_root = repo_root
        self.digests: dict[str, str] = {}

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = jinja2.loaders.split_template_path(template)  # refuses "..": TemplateNotFound
        refuse_links(self.repo_root, self.templates_dir.joinpath(*pieces))
        source, filename, uptodate = super().get_source(environment, template)
        self.digests[template] = hashlib.sha256(source.encode("utf-8")).hexdigest()
        return source, filename, uptodate


class TrackingSandbox(RenderSandbox):
    """The render sandbox, recording in ``loaded`` every template name a render asks for (the entry
    template, ``include``, ``import``, ``from ... import``, ``extends``) with the digest of the source it
    compiled, or None when there is no such template. A compiled template is kept for the environment's
    life (``auto_reload`` is off), so the digest is that of what every later render of it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loaded: MutableMapping[str, str | None] = {}

    def _load_template(self, name: str, globals: MutableMapping[str, Any] | None) -> jinja2.Template:
        try:
            template = super()._load_template(name, globals)
        except jinja2.TemplateNotFound:
            self.loaded.setdefault(name, None)
            raise
        loader = self.loader
        digest = loader.digests.get(name) if isinstance(loader, _RepoLoader) else None
        self.loaded.setdefault(name, digest)
        return template


def make_environment(
    templates_dir: Path, max_output: int = DEFAULT_MAX_OUTPUT_BYTES, repo_root: Path | None = None
) -> RenderSandbox:
    """The sandboxed environment templates render in (see ``sandbox``: what they can reach, the limits).
    Templates are read from ``templates_dir`` only, never through a symbolic link under ``repo_root``
    (default: the folder holding ``templates_dir``)."""
    # Immutable: a template cannot change data (e.g. `ntp.append(...)`) that other hosts' renders share.
    env = TrackingSandbox(
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
        if isinstance(env, TrackingSandbox):
            env.loaded.setdefault(expect_template, None)  # created later, it must be rendered
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


def render_one(
    env: RenderSandbox, host: Host, templates_dir: Path, max_seconds: float = DEFAULT_MAX_RENDER_SECONDS
) -> RenderedHost:
    """Render one host's artifacts; a ``RenderError`` naming the host, file and line when it fails."""
    if isinstance(env, TrackingSandbox):
        env.loaded = {}
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
        loaded=tuple(env.loaded.items()) if isinstance(env, TrackingSandbox) else (),
    )
