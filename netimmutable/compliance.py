"""Per-feature compliance: which named parts of a config (BGP, interfaces, ...) match the release.

The features come from settings (``compliance:``, see ``settings.ComplianceSettings``); the comparison is
``netutils.config.compliance`` on the *normalized* texts verify already compares (volatile lines, order
noise and ``ignore_lines`` gone), with the platform's netutils parser. A feature is compliant when its
sections are equal (in order when the feature is ``ordered``); otherwise the result holds the lines the
release has and the device lacks (``missing``) and the lines the device has beyond the release
(``extra``), each with its parent lines for context, secrets masked. When the whole normalized config is
equal, every feature is compliant without parsing anything. Lines outside every feature (top-level lines no
feature's sections start, with their children) that differ are reported as one more drifted feature,
``unclassified``, so a drifted host never shows only compliant features.

Examples:
    >>> from netimmutable.settings import Feature
    >>> intended = "hostname r1\\nrouter bgp 65001\\n neighbor 10.0.0.2 remote-as 65002\\n"
    >>> running = "hostname r1\\nrouter bgp 65001\\n neighbor 10.0.0.2 remote-as 65009\\n"
    >>> (bgp, host), = [check_features((Feature("bgp", ("router bgp",)), Feature("host", ("hostname",))),
    ...                                intended, running, parser_for("frr"))]
    >>> bgp.compliant, bgp.missing
    (False, ('router bgp 65001', ' neighbor 10.0.0.2 remote-as 65002'))
    >>> bgp.extra
    ('router bgp 65001', ' neighbor 10.0.0.2 remote-as 65009')
    >>> host.compliant
    True
    >>> *_, other = check_features((Feature("bgp", ("router bgp",)),), intended,
    ...                            intended + "ip route 10.9.0.0/24 blackhole\\n", parser_for("frr"))
    >>> other.name, other.compliant, other.extra
    ('unclassified', False, ('ip route 10.9.0.0/24 blackhole',))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netimmutable.normalize import mask
from netimmutable.settings import UNCLASSIFIED, ComplianceSettings, Feature
from netimmutable.verify_model import FeatureResult

__all__ = ["NETUTILS_PARSERS", "all_compliant", "check_features", "parser_for"]

NETUTILS_PARSERS: dict[str, str] = {
    "frr": "cisco_ios",  # FRR's config is IOS-like: top-level lines, children indented
    "sim": "cisco_ios",  # sim speaks FRR's syntax
    "ios": "cisco_ios",
    "eos": "arista_eos",
    "nxos": "cisco_nxos",
    "iosxr": "cisco_iosxr",
    "junos": "juniper_junos",
}
"""netutils config parser per NAPALM platform; others fall back to ``cisco_ios`` (indentation-based) unless
``compliance.parsers`` names one."""
_FALLBACK_PARSER = "cisco_ios"
_PARSE_ERRORS = (ValueError, IndexError, KeyError, TypeError, AttributeError)


def parser_for(platform: str, settings: ComplianceSettings | None = None) -> str:
    """The netutils parser for ``platform``.

    Examples:
        >>> own = ComplianceSettings(parsers=(("x", "linux"),))
        >>> parser_for("eos"), parser_for("mystery"), parser_for("x", own)
        ('arista_eos', 'cisco_ios', 'linux')
    """
    own = dict(settings.parsers) if settings is not None else {}
    return own.get(platform) or NETUTILS_PARSERS.get(platform, _FALLBACK_PARSER)


def all_compliant(features: Sequence[Feature]) -> tuple[FeatureResult, ...]:
    """Every feature compliant (the whole normalized config is equal)."""
    return tuple(FeatureResult(f.name, True) for f in features)


def _lines(text: object) -> tuple[str, ...]:
    return tuple(line for line in str(text or "").splitlines() if line.strip())


def check_features(
    features: Sequence[Feature],
    intended: str,
    running: str,
    parser: str,
    secrets: Mapping[str, str] | None = None,
) -> tuple[FeatureResult, ...]:
    """Compare each feature of ``intended`` (the release, normalized) with ``running`` (normalized)."""
    if not features:
        return ()
    if intended == running:
        return all_compliant(features)
    from netutils.config.compliance import compliance

    spec: list[dict[str, str | bool | list[str]]] = [
        {"name": f.name, "ordered": f.ordered, "section": list(f.sections)} for f in features
    ]
    try:
        outside = _unclassified_headers(features, intended, running, parser)
        if outside:
            spec.append({"name": UNCLASSIFIED, "ordered": False, "section": list(outside)})
        found = compliance(spec, running, intended, parser, "string")
    except _PARSE_ERRORS as exc:  # a config its parser cannot read: say so per feature, never a traceback
        why = f"could not be compared ({parser} parser: {type(exc).__name__}: {exc})"
        return tuple(FeatureResult(f.name, False, error=mask(why, secrets)) for f in features)
    results = []
    unclassified = found.get(UNCLASSIFIED)
    if unclassified is not None and not unclassified["compliant"]:
        features = (*features, Feature(UNCLASSIFIED, outside))
    for f in features:
        item = found[f.name]
        results.append(
            FeatureResult(
                f.name,
                bool(item["compliant"]),
                missing=tuple(mask(line, secrets) for line in _lines(item.get("missing"))),
                extra=tuple(mask(line, secrets) for line in _lines(item.get("extra"))),
            )
        )
    return tuple(results)


def _unclassified_headers(
    features: Sequence[Feature], intended: str, running: str, parser: str
) -> tuple[str, ...]:
    """The top-level lines of either config that no feature's sections start (netutils' own reading:
    the lines its parser gives without parents), each once, in order of appearance."""
    from netutils.config.compliance import parser_map

    starts = tuple(s for f in features for s in f.sections)
    seen: dict[str, None] = {}
    for text in (intended, running):
        for line in parser_map[parser](text).config_lines:
            if line.config_line and not line.parents and not line.config_line.startswith(starts):
                seen.setdefault(line.config_line, None)
    return tuple(seen)
