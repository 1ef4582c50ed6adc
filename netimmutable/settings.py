"""``netimmutable.yaml``: the network repository's settings, validated with located errors.

Every key is optional; unknown keys and wrong types are refused with the file and line.

Examples:
    >>> s = settings_from_mapping({"approval_branch": "release"}, "netimmutable.yaml")
    >>> s.approval_branch, s.deploy.batch_size
    ('release', 10)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal, get_args

from netimmutable.errors import SettingsError
from netimmutable.fileio import refuse_links
from netimmutable.ignore_check import PROBE_LINES, check_against_snapshots, check_patterns
from netimmutable.soak import SoakSetting, parse_soak
from netimmutable.yamlio import LocatedDict, load_yaml

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_MAX_RENDER_SECONDS",
    "FEATURE_NAME_RE",
    "PROBE_LINES",
    "SETTINGS_FILE",
    "UNCLASSIFIED",
    "ClusterSettings",
    "ComplianceSettings",
    "DeploySettings",
    "Feature",
    "FeatureTable",
    "OnFailure",
    "RenderSettings",
    "Settings",
    "VerifySettings",
    "load_settings",
    "settings_from_mapping",
]

SETTINGS_FILE = "netimmutable.yaml"
OnFailure = Literal["stop", "rollback-all", "continue"]
DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_RENDER_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class DeploySettings:
    """Change-window policy defaults (each has a matching `deploy` flag)."""

    batch_size: int = 10
    workers: int = 10
    canary: int = 1
    max_failures: int = 1
    on_failure: OnFailure = "stop"
    revert_in: int = 300
    """Seconds before a device reverts an unconfirmed commit by itself (where the platform can)."""
    settle_timeout: float = 60.0
    """Seconds post-checks keep polling expectations before declaring failure."""
    settle_interval: float = 2.0
    lease_seconds: int = 120
    """How long a device's lease on the records remote lasts unless renewed (renewed every third of it
    while the run lasts): after a run dies, other clones wait this long before `recover` may take over."""
    soak: SoakSetting = "auto"
    """Seconds the post-checks must keep passing after they first pass, before the confirm; ``auto``: the
    host's largest BGP hold time plus a margin (see ``netimmutable.soak``)."""


@dataclass(frozen=True, slots=True)
class VerifySettings:
    workers: int = 50
    unreachable_is_failure: bool = True


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """``cluster:``: run device work on a Dask distributed cluster (docs/scale.md)."""

    address: str = ""
    """The scheduler, e.g. ``tcp://10.0.0.5:8786``; "" runs in process (``--cluster`` overrides it)."""
    site_key: str = ""
    """A host data key whose value names the host's site: its work runs only on workers offering the
    resource ``site-<value>``; "" means any worker."""
    connect_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """Limits on what one host's templates may render (see docs/safety.md)."""

    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    """Largest rendered config (or expectations) of one host, in bytes."""
    max_seconds: float = DEFAULT_MAX_RENDER_SECONDS
    """Longest one host's templates may take to render."""


@dataclass(frozen=True, slots=True)
class Feature:
    """A named part of a config for per-feature compliance: the top-level lines starting with any of
    ``sections``, with their children (``netutils.config.compliance`` semantics)."""

    name: str
    sections: tuple[str, ...]
    ordered: bool = False
    """Whether line order inside the feature counts (ACL entries, Junos terms)."""


FeatureTable = tuple[Feature, ...]
PlatformFeatures = tuple[tuple[str, FeatureTable], ...]
CompareTable = tuple[tuple[str, str], ...]
"""Platform or driver name -> comparison strategy (``netimmutable.compare``)."""
COMPARE_STRATEGIES = ("text", "device", "text-first")
FEATURE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
UNCLASSIFIED = "unclassified"
"""The feature verify reports the differing lines outside every defined feature under (a reserved name)."""


@dataclass(frozen=True, slots=True)
class ComplianceSettings:
    """``compliance:``: per-feature compliance in ``verify``.

    ``features`` apply to every platform; ``platforms.<platform>`` adds features for that platform or
    replaces one of the same name (an empty list drops it there); ``parsers.<platform>`` names the
    ``netutils`` config parser for a platform the built-in map does not know.
    """

    features: FeatureTable = ()
    platforms: PlatformFeatures = ()
    parsers: tuple[tuple[str, str], ...] = ()

    def features_for(self, platform: str) -> FeatureTable:
        """The features checked on ``platform``, in the order defined (global first).

        Examples:
            >>> c = ComplianceSettings((Feature("bgp", ("router bgp",)), Feature("ntp", ("ntp",))),
            ...                        (("junos", (Feature("bgp", ("protocols bgp",)), Feature("ntp", ()))),))
            >>> [(f.name, f.sections) for f in c.features_for("junos")]
            [('bgp', ('protocols bgp',))]
            >>> [f.name for f in c.features_for("frr")]
            ['bgp', 'ntp']
        """
        table = {f.name: f for f in self.features}
        for name, features in self.platforms:
            if name == platform:
                table.update({f.name: f for f in features})
        return tuple(f for f in table.values() if f.sections)


@dataclass(frozen=True, slots=True)
class Settings:
    version: int = 1
    inventory_dir: str = "inventory"
    templates_dir: str = "templates"
    snapshots_dir: str = "snapshots"
    approval_branch: str = "main"
    connections_file: str = ".netimmutable/connections.yaml"
    ignore_lines: tuple[str, ...] = ()
    """Extra regular expressions for lines that normalization drops before any comparison."""
    secrets_file: str = ""
    """A YAML file of secret name -> value, outside the repository, mode 0600 (``~`` is expanded)."""
    secrets_command: tuple[str, ...] = ()
    """A command printing a secret's value; the secret name is appended as the last argument."""
    records_remote: str = ""
    """The git remote that shares records and holds device leases: "" means ``origin`` when the repository
    has it; ``none``: no remote (no leases, no automatic records fetch and push)."""
    deploy: DeploySettings = field(default_factory=DeploySettings)
    verify: VerifySettings = field(default_factory=VerifySettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    compliance: ComplianceSettings = field(default_factory=ComplianceSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    compare: CompareTable = ()
    """How running is compared with intended, per driver (``text``, ``device``, ``text-first``); the
    defaults are in ``netimmutable.compare``."""

    def compare_overrides(self) -> dict[str, str]:
        """The ``compare`` setting as a mapping (lower-case names)."""
        return {name.lower(): strategy for name, strategy in self.compare}


_SECTIONS: dict[str, type[Any]] = {
    "deploy": DeploySettings,
    "verify": VerifySettings,
    "render": RenderSettings,
    "compliance": ComplianceSettings,
    "cluster": ClusterSettings,
}
_PATH_KEYS = ("inventory_dir", "templates_dir", "snapshots_dir", "connections_file")
_PATTERN_KEYS = ("ignore_lines",)
_RANGES: dict[str, tuple[float, float, bool]] = {
    # setting: (lowest, highest, whether the lowest itself is allowed)
    "deploy.batch_size": (1, 100_000, True),
    "deploy.workers": (1, 1000, True),
    "deploy.canary": (0, 100_000, True),
    "deploy.max_failures": (0, 100_000, True),
    "deploy.revert_in": (0, 86_400, True),
    "deploy.settle_timeout": (0, 86_400, True),
    "deploy.settle_interval": (0, 3600, False),
    "deploy.lease_seconds": (2, 86_400, True),
    "verify.workers": (1, 1000, True),
    "render.max_output_bytes": (1024, 1024**3, True),
    "render.max_seconds": (0, 3600, False),
    "cluster.connect_timeout": (0, 3600, False),
}


def _check_range(where: str, value: float, label: str, line: int) -> None:
    low, high, low_ok = _RANGES[where]
    if value < low or (value == low and not low_ok):
        bound = f"at least {low:g}" if low_ok else f"more than {low:g}"
        raise SettingsError(f"{where} must be {bound}, got {value!r}", file=label, line=line)
    if value > high:
        raise SettingsError(f"{where} must be at most {high:g}, got {value!r}", file=label, line=line)


def _type_name(tp: Any) -> str:
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    return str(tp)


def _coerce(value: Any, annotation: str, where: str, label: str, line: int) -> Any:
    """Check ``value`` against a dataclass field annotation (as a string, see ``from __future__``)."""
    scalar_types: dict[str, type[Any]] = {"int": int, "float": float, "str": str, "bool": bool}
    if annotation in scalar_types:
        tp = scalar_types[annotation]
        ok = isinstance(value, tp) and not (tp is not bool and isinstance(value, bool))
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise SettingsError(f"{where} must be {_type_name(tp)}, got {value!r}", file=label, line=line)
        if tp in (int, float) and value < 0:
            raise SettingsError(f"{where} must not be negative, got {value!r}", file=label, line=line)
        return value
    if annotation == "tuple[str, ...]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{where} must be a list of strings", file=label, line=line)
        return tuple(value)
    special = _SPECIAL.get(annotation)
    if special is not None:
        return special(value, where, label, line)
    raise AssertionError(f"unhandled settings annotation {annotation}")  # pragma: no cover


def _soak(value: Any, where: str, label: str, line: int) -> SoakSetting:
    try:
        return parse_soak(value)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}", file=label, line=line) from None


def _on_failure(value: Any, where: str, label: str, line: int) -> OnFailure:
    allowed = get_args(OnFailure)
    if value not in allowed:
        raise SettingsError(
            f"{where} must be one of {', '.join(allowed)}, got {value!r}", file=label, line=line
        )
    result: OnFailure = value
    return result


def _compare_table(value: Any, where: str, label: str, line: int) -> CompareTable:
    if not isinstance(value, dict):
        raise SettingsError(
            f"{where} must map driver names to a strategy ({', '.join(COMPARE_STRATEGIES)}), "
            "e.g. {eos: text-first}",
            file=label,
            line=line,
        )
    for name, strategy in value.items():
        if strategy not in COMPARE_STRATEGIES:
            raise SettingsError(
                f"{where}.{name} must be one of {', '.join(COMPARE_STRATEGIES)}, got {strategy!r}",
                file=label,
                line=_line_of(value, name, line),
            )
    return tuple((str(name), str(strategy)) for name, strategy in value.items())


def _platform_features(value: Any, where: str, label: str, line: int) -> PlatformFeatures:
    if not isinstance(value, dict):
        raise SettingsError(f"{where} must map platform names to features", file=label, line=line)
    return tuple(
        (str(name), _features(table, f"{where}.{name}", label, _line_of(value, name, line)))
        for name, table in value.items()
    )


def _parsers(value: Any, where: str, label: str, line: int) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SettingsError(
            f"{where} must map platform names to netutils parser names (e.g. cisco_ios)",
            file=label,
            line=line,
        )
    from netutils.config.compliance import parser_map

    for platform, parser in value.items():
        if parser not in parser_map:
            raise SettingsError(
                f"{where}.{platform}: unknown netutils parser {parser!r}; "
                f"known: {', '.join(sorted(parser_map))}",
                file=label,
                line=_line_of(value, platform, line),
            )
    return tuple((str(k), v) for k, v in value.items())


def _line_of(data: Any, key: Any, line: int) -> int:
    return data.line_of(key) if isinstance(data, LocatedDict) else line


def _features(value: Any, where: str, label: str, line: int) -> FeatureTable:
    """``name: [section, ...]`` or ``name: {sections: [...], ordered: bool}``, for each feature."""
    if not isinstance(value, dict):
        raise SettingsError(
            f"{where} must map feature names to lists of section lines", file=label, line=line
        )
    out: list[Feature] = []
    for name, spec in value.items():
        at = f"{where}.{name}"
        key_line = _line_of(value, name, line)
        if not isinstance(name, str) or not FEATURE_NAME_RE.fullmatch(name):
            raise SettingsError(
                f"{at}: a feature name is letters, digits, '_', '.', '-' (at most 64)",
                file=label,
                line=key_line,
            )
        ordered: Any = False
        sections: Any = spec
        if isinstance(spec, dict):
            unknown = set(spec) - {"sections", "ordered"}
            if unknown:
                raise SettingsError(
                    f"{at}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; known: ordered, sections",
                    file=label,
                    line=key_line,
                )
            ordered, sections = spec.get("ordered", False), spec.get("sections", [])
        if not isinstance(ordered, bool):
            raise SettingsError(f"{at}.ordered must be true or false", file=label, line=key_line)
        if not isinstance(sections, list) or not all(isinstance(v, str) and v.strip() for v in sections):
            raise SettingsError(
                f"{at} must be a list of section lines (what the feature's top-level lines start with), "
                'e.g. ["router bgp"]',
                file=label,
                line=key_line,
            )
        if name == UNCLASSIFIED:
            raise SettingsError(
                f"{at}: {UNCLASSIFIED!r} is reserved: verify reports lines outside every feature under it",
                file=label,
                line=key_line,
            )
        out.append(Feature(name, tuple(sections), ordered))
    return tuple(out)


def _build(cls: type[Any], data: Any, prefix: str, label: str, line: int) -> Any:
    if not isinstance(data, dict):
        raise SettingsError(f"{prefix.rstrip('.') or 'settings'} must be a mapping", file=label, line=line)
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        key_line = data.line_of(key) if isinstance(data, LocatedDict) else line
        where = f"{prefix}{key}"
        if key not in known:
            raise SettingsError(
                f"unknown setting {where!r}; known: {', '.join(sorted(known))}", file=label, line=key_line
            )
        annotation = str(known[key].type)
        if key in _SECTIONS:
            values[key] = _build(_SECTIONS[key], value, f"{where}.", label, key_line)
        else:
            values[key] = _coerce(value, annotation, where, label, key_line)
            parts = Path(values[key]).parts if key in _PATH_KEYS else ()
            if key in _PATH_KEYS and (
                not parts or Path(values[key]).is_absolute() or ".." in parts or parts[0] == ".git"
            ):
                raise SettingsError(
                    f"{where} must be a path inside the repository, got {value!r}", file=label, line=key_line
                )
            if key in _PATH_KEYS:  # one spelling, as git prints paths: "./snapshots/" is "snapshots"
                values[key] = PurePosixPath(*parts).as_posix()
            if key in _PATTERN_KEYS:
                check_patterns(where, values[key], label, key_line)
            if where in _RANGES:
                _check_range(where, values[key], label, key_line)
    return replace(cls(), **values)


_SPECIAL: dict[str, Callable[[Any, str, str, int], Any]] = {
    "SoakSetting": _soak,
    "OnFailure": _on_failure,
    "FeatureTable": _features,
    "PlatformFeatures": _platform_features,
    "CompareTable": _compare_table,
    "tuple[tuple[str, str], ...]": _parsers,
}
"""Settings annotations that need more than a type check."""


def settings_from_mapping(data: Any, label: str = SETTINGS_FILE) -> Settings:
    """Validate a parsed settings mapping (``None`` means all defaults)."""
    if data is None:
        return Settings()
    line = data.line if isinstance(data, LocatedDict) else 1
    settings: Settings = _build(Settings, data, "", label, line)
    if settings.version != 1:
        raise SettingsError(
            f"unsupported settings version {settings.version} (this tool reads 1)", file=label
        )
    return settings


def load_settings(repo_root: Path) -> Settings:
    """Read ``netimmutable.yaml`` of a network repository."""
    path = repo_root / SETTINGS_FILE
    refuse_links(repo_root, path)
    data = load_yaml(path, SETTINGS_FILE)
    settings = settings_from_mapping(data, SETTINGS_FILE)
    if settings.ignore_lines:  # with the repository at hand: no pattern may hide most of its configs
        line = data.line_of("ignore_lines") if isinstance(data, LocatedDict) else 1
        check_against_snapshots(
            settings.ignore_lines, repo_root, settings.snapshots_dir, "ignore_lines", SETTINGS_FILE, line
        )
    return settings
