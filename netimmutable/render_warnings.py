"""Warnings about rendered configs: lines a device never shows, named by host, template file and line.

An FRR config may hold lines that only restate FRR's default (``bgp ebgp-requires-policy`` in FRR 8.x,
``neighbor X activate`` under ``address-family ipv4 unicast``, an empty ``address-family`` block: the table
is ``netimmutable.drivers.frr_defaults``). FRR accepts them and never shows them in its running config.
netimmutable compares them as equal (the frr driver drops them from FRR's own diff), so a deploy converges;
but the text compare can never match such an artifact, so every plan, drift check and convergence check
of the host takes the slower device diff. ``render --check`` and ``commit`` say so, at the template line.

Template line: Jinja2 does not map output lines to template lines, so the line is found in the host's
entry template and the templates it includes or imports (by name, recursively): first a template line
that is the config line itself, then one whose literal text matches around its ``{{ … }}`` expressions
(``neighbor {{ n.address }} activate``). Found nowhere (a line built by a macro from data): the entry
template is named, with the line's number in the rendered config.

Cost: the digests of the configs known to need no warning are kept in the local cache
(``.netimmutable/cache/render-warnings.json``, with a digest of the rules); when every rendered config
is one of them, nothing is read (a warm ``render`` stays as fast as its own fast path). Otherwise the
selected FRR hosts whose config is not known clean are rendered through the render cache (in practice:
read from their new snapshots) and scanned (~0.1 ms per clean config).

Examples:
    >>> _pattern("  neighbor {{ n.address }} activate").fullmatch("neighbor 10.0.0.2 activate") is not None
    True
    >>> _pattern("{% for n in x %}") is None
    True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import jinja2
from jinja2 import meta

from netimmutable.drivers.frr_defaults import default_lines
from netimmutable.inventory import LoadedInventory, load_inventory, select_hosts
from netimmutable.localcache import read_entry, source_digest, write_entry
from netimmutable.render import CONFIG_SUFFIX, RenderedHost, make_environment, render_hosts
from netimmutable.repo import NetworkRepo

__all__ = ["RenderWarning", "default_line_warnings", "render_warnings"]

WARNED_PLATFORMS = frozenset({"frr"})
"""Platforms whose defaults table is known (``netimmutable.drivers.frr_defaults``)."""
_ENTRY = "render-warnings.json"
_MAX_CLEAN = 200_000
"""Known-clean digests kept at most (past it, only those of the last scan)."""


@dataclass(frozen=True, slots=True)
class RenderWarning:
    host: str
    file: str
    """The template file (``templates/...``) the line comes from, or the host's entry template."""
    line: int | None
    """The template line (None: not found in the templates; ``rendered_line`` says where it is)."""
    text: str
    """The config line, stripped."""
    why: str
    rendered_line: int

    def __str__(self) -> str:
        where = (
            f"{self.file}:{self.line}" if self.line else f"{self.file} (rendered line {self.rendered_line})"
        )
        return (
            f"{self.host}: {where}: `{self.text}`: FRR never shows this line ({self.why}); it is compared "
            "as equal, but the text compare can never match it: drop the line"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "file": self.file,
            "line": self.line,
            "rendered_line": self.rendered_line,
            "text": self.text,
            "why": self.why,
            "message": str(self),
        }


_EXPR = re.compile(r"\{\{.*?\}\}")


def _pattern(source_line: str) -> re.Pattern[str] | None:
    """A regular expression matching what ``source_line`` renders to (stripped), when it holds ``{{ }}``
    expressions and literal text; None for a line that is only a tag or has no expression."""
    text = source_line.strip()
    if "{%" in text or "{#" in text or not _EXPR.search(text):
        return None
    pieces = _EXPR.split(text)
    if not any(piece.strip() for piece in pieces):
        return None
    return re.compile(".+?".join(re.escape(piece) for piece in pieces))


def _sources(env: jinja2.Environment, entry: str) -> Iterator[tuple[str, list[str]]]:
    """(template name, its lines) of ``entry`` and of every template it references by name, entry first."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        try:
            source = env.loader.get_source(env, name)[0] if env.loader else None
        except (jinja2.TemplateNotFound, OSError):
            continue
        if source is None:
            continue
        yield name, source.splitlines()
        try:
            todo.extend(ref for ref in meta.find_referenced_templates(env.parse(source)) if ref)
        except jinja2.TemplateSyntaxError:
            continue


def _locate(env: jinja2.Environment, entry: str, text: str) -> tuple[str, int] | None:
    sources = list(_sources(env, entry))
    for name, lines in sources:
        for number, line in enumerate(lines, 1):
            if line.strip() == text:
                return name, number
    for name, lines in sources:
        for number, line in enumerate(lines, 1):
            pattern = _pattern(line)
            if pattern is not None and pattern.fullmatch(text):
                return name, number
    return None


def default_line_warnings(repo: NetworkRepo, rendered: Sequence[RenderedHost]) -> tuple[RenderWarning, ...]:
    """A warning for every line of an FRR host's rendered config that FRR never shows (its default)."""
    env: jinja2.Environment | None = None
    warnings: list[RenderWarning] = []
    for item in rendered:
        if item.platform.lower() not in WARNED_PLATFORMS:
            continue
        for found in default_lines(item.config):
            if env is None:
                env = make_environment(repo.templates_dir, repo.settings.render.max_output_bytes, repo.root)
            place = _locate(env, item.template, found.text)
            name, line = place if place else (item.template, None)
            warnings.append(
                RenderWarning(item.name, f"templates/{name}", line, found.text, found.why, found.line)
            )
    return tuple(warnings)


def render_warnings(
    repo: NetworkRepo,
    digests: Mapping[str, str],
    limit: Sequence[str] = (),
    filters: Sequence[tuple[str, str]] = (),
    loaded: LoadedInventory | None = None,
) -> tuple[RenderWarning, ...]:
    """``default_line_warnings`` of the selected hosts (all by default) whose platform has a defaults
    table. ``digests``: file name -> sha256 of every artifact just rendered (``RenderSummary.digests``):
    when each config is known to need no warning, nothing else is read. ``loaded``: the inventory the render
    just loaded (``RenderSummary.inventory``), else it is loaded when needed."""
    configs = {name[: -len(CONFIG_SUFFIX)]: d for name, d in digests.items() if name.endswith(CONFIG_SUFFIX)}
    rules = source_digest("drivers/frr_defaults.py", "render_warnings.py")
    entry = read_entry(repo.local_dir, _ENTRY)
    clean: set[str] = set()
    if entry is not None and entry.get("rules") == rules and isinstance(entry.get("clean"), list):
        clean = {d for d in entry["clean"] if isinstance(d, str)}
    if set(configs.values()) <= clean:
        return ()
    scanned: set[str] = set()
    frr = []
    loaded = loaded or load_inventory(repo)
    for host in select_hosts(loaded, limit, filters):
        known = configs.get(host.name)
        if known in clean or (known is not None and str(host.platform).lower() not in WARNED_PLATFORMS):
            scanned.add(known)  # known to need no warning, or never warned: not an FRR host
        elif str(host.platform).lower() in WARNED_PLATFORMS:
            frr.append(host)
    warnings: list[RenderWarning] = []
    for item in render_hosts(repo, frr, inputs=loaded.host_inputs) if frr else ():
        found = default_line_warnings(repo, (item,))
        if not found:
            scanned.add(hashlib.sha256(item.config.encode("utf-8")).hexdigest())
        warnings.extend(found)
    kept = clean | scanned if len(clean) + len(scanned) <= _MAX_CLEAN else scanned
    write_entry(repo.local_dir, _ENTRY, {"rules": rules, "clean": sorted(kept)})
    return tuple(warnings)
