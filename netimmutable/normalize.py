"""Normalization of configuration text before any comparison: one place, used by plan, checks and verify.

Two configurations that the device treats the same must normalize to the same text, and a real change
must never be normalized away. Per platform this drops:

- whitespace noise: CRLF, trailing spaces, blank lines (leading indentation is kept: it is structure);
- volatile lines, each only on the platform that prints it (the ``_IOS``, ``_EOS``, ``_NXOS``, ``_IOSXR``,
  ``_JUNOS`` rules below say which and where that is documented): "Building configuration...", "Current
  configuration : N bytes", "Last configuration change", "NVRAM config last updated", EOS's "! device:" and
  "! boot system", NX-OS's "!Running configuration last done at", Junos's "## Last commit", version banners
  (FRR's ``frr version``, IOS ``version``, Junos ``version ...;``), IOS ``ntp clock-period``, EOS's default
  ``no aaa root``, Junos's trailing ``## SECRET-DATA``; ``frr defaults`` is kept (it changes behaviour);
- comment and separator lines where the platform ignores them (``!`` in FRR and Cisco-like syntax) and
  structural closers that the indentation already says (FRR ``exit``/``exit-address-family``/``end``);
- order noise only where the platform does not care (FRR: runs of ``interface`` blocks, static routes,
  prefix-list entries with sequence numbers, route-map entries), by sorting those runs;
- lines matching extra patterns (``ignore_lines`` in ``netimmutable.yaml``, searched in each line).

Secrets: artifacts hold ``<<secret:name>>`` placeholders. Comparison is on resolved text (``secrets``
maps names to values: placeholders are replaced by values; a secret in a device form,
``<<secret:name:form>>``, is compared as that placeholder on both sides: ``netimmutable.secretforms``).
Display is masked: ``mask`` puts placeholders back for known values and hides any other value after
``password``/``secret``/... keywords and whatever NAPALM's sanitize filters for eos, ios, nxos, iosxr and
junos remove.

Examples:
    >>> normalize("frr version 8.4.4\\nhostname r1  \\r\\n!\\n\\nend\\n", "frr")
    'hostname r1\\n'
    >>> config_digest("hostname r1\\n")[:15]
    'sha256:7e139a0a'
    >>> print(normalized_diff("hostname r1\\n", "frr version 9\\nhostname r9\\n", "frr"), end="")
    --- expected
    +++ running
    @@ -1 +1 @@
    -hostname r1
    +hostname r9
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from netimmutable.drivers.platform_names import napalm_driver
from netimmutable.errors import SettingsError
from netimmutable.masking import JUNOS_SANITIZE_FILTERS, MASK, SENSITIVE_RE, mask
from netimmutable.memo import BoundedMemo
from netimmutable.secretforms import canonical, encode
from netimmutable.secretref import SECRET_RE
from netimmutable.settings import SETTINGS_FILE

__all__ = [
    "JUNOS_SANITIZE_FILTERS",
    "MASK",
    "SENSITIVE_RE",
    "PlatformRules",
    "config_digest",
    "diff_normalized",
    "is_ignored",
    "mask",
    "normalize",
    "normalized_diff",
    "resolve_secrets",
    "rules_for",
]


BlockKey = Callable[[str], tuple[str, ...] | None]


@dataclass(frozen=True, slots=True)
class PlatformRules:
    """What one platform ignores. ``block_keys`` give a sort key for a top-level block the platform
    treats as unordered among its neighbours of the same kind (None: not such a block)."""

    name: str
    volatile: tuple[re.Pattern[str], ...] = ()
    comment_prefix: str | None = None
    closers: frozenset[str] = frozenset()
    block_key: BlockKey | None = None
    trailing: re.Pattern[str] | None = None
    """A comment the platform appends to some lines (Junos ``## SECRET-DATA``): removed before comparing."""


def _patterns(*texts: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(t) for t in texts)


_COMMON_VOLATILE = (
    r"^Building configuration\.*\s*$",
    r"^Current configuration\s*:?\s*(\d+ bytes)?\s*$",
)

_WEEKDAY_TIMESTAMP = (
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d+ "
    r"\d\d:\d\d:\d\d(\.\d+)?( \S+)?$"
)


def _natural(text: str) -> tuple[str, ...]:
    """A sort key where digit runs compare as numbers ("eth2" before "eth10")."""
    return tuple(part.zfill(12) if part.isdigit() else part for part in re.split(r"(\d+)", text))


_FRR_SEQ_LINE = re.compile(r"^(ipv6|ip) prefix-list (\S+) seq (\d+) ")
_FRR_ROUTE_MAP = re.compile(r"^route-map (\S+) (permit|deny) (\d+)$")
_FRR_STATIC = re.compile(r"^(ip|ipv6) route \S")
_FRR_BLOCK_STARTS = ("interface ", "ip ", "ipv6 ", "route-map ")


def _frr_block_key(header: str) -> tuple[str, ...] | None:
    """FRR keeps these in its own order whatever order they were entered in."""
    if not header.startswith(_FRR_BLOCK_STARTS):  # most headers: no pattern below can match
        return None
    if header.startswith("interface "):
        return ("interface", *_natural(header))
    if _FRR_STATIC.match(header):
        return ("static", header)
    found = _FRR_SEQ_LINE.match(header)
    if found:
        return ("prefix-list", found[1], found[2], found[3].zfill(12))
    found = _FRR_ROUTE_MAP.match(header)
    if found:
        return ("route-map", found[1], found[3].zfill(12))
    return None


_FRR = PlatformRules(
    name="frr",
    volatile=_patterns(*_COMMON_VOLATILE, r"^frr version ", r"^! ?Time:"),
    comment_prefix="!",
    closers=frozenset({"exit", "exit-address-family", "exit-vrf", "exit-vnc", "quit", "end"}),
    block_key=_frr_block_key,
)
_IOS = PlatformRules(
    name="ios",
    volatile=_patterns(
        *_COMMON_VOLATILE,
        r"^! ?Last configuration change",
        r"^! ?NVRAM config last updated",
        r"^! ?No configuration change since last restart",
        r"^version \S",
        r"^ntp clock-period \d+",
    ),
    comment_prefix="!",
    closers=frozenset({"end"}),
)
"""IOS/IOS-XE ``show running-config``: "Building configuration...", "Current configuration : N bytes",
"! Last configuration change at ...", "! NVRAM config last updated at ..." (Cisco, "Cisco IOS Configuration
Fundamentals Command Reference", ``show running-config``), the ``version`` banner and ``ntp clock-period``
(which IOS rewrites by itself)."""
_EOS = PlatformRules(
    name="eos",
    volatile=_patterns(
        r"^! ?Command: show (running|startup)-config",
        r"^! ?device: ",
        r"^! ?boot system ",
        r"^! ?Startup-config last modified at ",
        r"^no aaa root$",
    ),
    comment_prefix="!",
    closers=frozenset({"end"}),
)
"""EOS ``show running-config``: the "! Command:", "! device: NAME (MODEL, EOS-x)", "! boot system" and
"! Startup-config last modified at" comment lines (NAPALM's EOS test data,
``test/eos/mocked_data/test_get_config/normal/``), and ``no aaa root``, which EOS prints whenever no root
secret is set (the default: an artifact need not say it; ``aaa root secret ...`` is kept)."""
_NXOS = PlatformRules(
    name="nxos",
    volatile=_patterns(
        r"^! ?Command: show (running|startup)-config",
        r"^! ?Running configuration last done at",
        r"^! ?Time:",
        r"^! ?Startup config saved at",
        r"^version \S",
    ),
    comment_prefix="!",
    closers=frozenset({"end"}),
)
"""NX-OS ``show running-config``: "!Command: show running-config", "!Running configuration last done at:
...", "!Time: ...", "!Startup config saved at: ..." (NAPALM's NX-OS test data) and the ``version`` banner."""
_IOSXR = PlatformRules(
    name="iosxr",
    volatile=_patterns(
        *_COMMON_VOLATILE,
        r"^! ?Last configuration change",
        r"^!! IOS XR Configuration",
        r"^!! Last configuration change",
        r"^version \S",
        _WEEKDAY_TIMESTAMP,
    ),
    comment_prefix="!",
    closers=frozenset({"end"}),
)
_JUNOS = PlatformRules(
    name="junos",
    volatile=_patterns(
        r"^## Last (changed|commit):", r"^## Image name:", r"^version \S+;$", r"^set version \S+$"
    ),
    trailing=re.compile(r"\s+## SECRET-DATA$"),
)
"""Junos: the "## Last commit: ... by USER" / "## Last changed: ..." header lines, ``version ...;`` (the
release, which a software upgrade changes), and the ``## SECRET-DATA`` comment Junos appends to a line
holding an encrypted secret (Juniper, "Junos OS CLI User Guide": the ``$9$`` and ``$6$`` values are shown
with it)."""
_GENERIC = PlatformRules(name="generic")

_PLATFORMS: dict[str, PlatformRules] = {
    "frr": _FRR,
    "sim": _FRR,
    "ios": _IOS,
    "eos": _EOS,
    "nxos": _NXOS,
    "nxos_ssh": _NXOS,
    "iosxr": _IOSXR,
    "iosxr_netconf": _IOSXR,
    "junos": _JUNOS,
}


def rules_for(platform: str) -> PlatformRules:
    """The rules of ``platform``; unknown platforms only lose whitespace noise and extra patterns.

    A platform named the way netutils names them (``arista_eos``, ``cisco_xe``...) gets its NAPALM driver's
    rules (``netimmutable.drivers.platform_names``).

    Examples:
        >>> rules_for("sim").name, rules_for("eos").name, rules_for("nxos_ssh").name, rules_for("acme").name
        ('frr', 'eos', 'nxos', 'generic')
        >>> rules_for("cisco_xe").name, rules_for("arista_eos").name, rules_for("juniper_junos").name
        ('ios', 'eos', 'junos')
    """
    return _PLATFORMS.get(platform) or _PLATFORMS.get(napalm_driver(platform), _GENERIC)


@lru_cache(maxsize=256)
def _compile_extra(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for text in patterns:
        try:
            compiled.append(re.compile(text))
        except re.error as exc:
            raise SettingsError(
                f"ignore_lines: {text!r} is not a valid regular expression ({exc})", file=SETTINGS_FILE
            ) from None
    return tuple(compiled)


def is_ignored(line: str, platform: str, extra_patterns: Sequence[str] = ()) -> bool:
    """Whether normalization drops ``line`` on ``platform`` (blank, volatile, comment, closer, extra).

    Examples:
        >>> is_ignored("frr version 8.4.4", "frr"), is_ignored("frr defaults traditional", "frr")
        (True, False)
        >>> is_ignored(" exit-address-family", "frr"), is_ignored("! Last configuration change at x", "ios")
        (True, True)
        >>> is_ignored("snmp-server location lab 1", "frr", [r"^snmp-server location"])
        True
    """
    rules = rules_for(platform)
    return _ignored(line.rstrip(), rules, _compile_extra(tuple(extra_patterns)))


def _ignored(line: str, rules: PlatformRules, extra: tuple[re.Pattern[str], ...]) -> bool:
    return not _kept([line], rules, extra)


def _kept(lines: Iterable[str], rules: PlatformRules, extra: tuple[re.Pattern[str], ...]) -> list[str]:
    """The lines normalization keeps: not blank, not a comment or closer, no volatile or extra pattern."""
    prefix, closers, trailing = rules.comment_prefix, rules.closers, rules.trailing
    patterns = (*rules.volatile, *extra)
    combined = _combined(patterns)
    kept: list[str] = []
    for line in lines:
        if trailing is not None:
            line = trailing.sub("", line)  # noqa: PLW2901 - the line as compared
        stripped = line.strip()
        if not stripped or stripped in closers or (prefix is not None and stripped.startswith(prefix)):
            continue
        if combined is not None:
            if combined.search(line) is not None:
                continue
        elif any(p.search(line) for p in patterns):
            continue
        kept.append(line)
    return kept


_BACKREF = re.compile(r"\\[1-9]|\(\?P=")


@lru_cache(maxsize=64)
def _combined(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str] | None:
    """One alternation of every pattern (one scan per line instead of one per pattern); None when the
    patterns cannot be joined (different flags, back-references, or a pattern that only compiles alone)."""
    if not patterns or len({p.flags for p in patterns}) != 1:
        return None
    if any(_BACKREF.search(p.pattern) for p in patterns):  # group numbers would shift in an alternation
        return None
    try:
        return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), patterns[0].flags)
    except re.error:
        return None


def resolve_secrets(text: str, secrets: Mapping[str, str]) -> str:
    """Replace ``<<secret:name>>`` placeholders by their values (``<<secret:name:form>>`` by the value in that
    form, ``netimmutable.secretforms``); unknown names stay as placeholders.

    Examples:
        >>> resolve_secrets(" neighbor 10.0.0.2 password <<secret:bgp>>", {"bgp": "s3cret"})
        ' neighbor 10.0.0.2 password s3cret'
        >>> resolve_secrets("password <<secret:other>>", {"bgp": "s3cret"})
        'password <<secret:other>>'
        >>> resolve_secrets("password 7 <<secret:bgp:type7>>", {"bgp": "cisco"})[:11]
        'password 7 '
    """
    return SECRET_RE.sub(lambda m: encode(secrets[m[1]], m["form"]) if m[1] in secrets else m[0], text)


def _resolve_for_comparison(text: str, secrets: Mapping[str, str]) -> str:
    """Plain placeholders resolved; values in a form (on either side) as their secret's placeholder."""
    text = SECRET_RE.sub(lambda m: secrets.get(m[1], m[0]) if m["form"] is None else m[0], text)
    return canonical(text, secrets)


def _sorted_runs(blocks: list[list[str]], key: BlockKey) -> list[list[str]]:
    """Sort each run of neighbouring blocks that share a kind (the first element of their key)."""
    out: list[list[str]] = []
    run: list[tuple[tuple[str, ...], list[str]]] = []

    def flush() -> None:
        out.extend(block for _, block in sorted(run, key=lambda item: (item[0], item[1])))
        run.clear()

    for block in blocks:
        k = key(block[0])
        if k is None or (run and run[0][0][0] != k[0]):
            flush()
        if k is None:
            out.append(block)
        else:
            run.append((k, block))
    flush()
    return out


# A deploy normalizes the same texts several times per host (the running config for the drift check, then for
# its digest; the artifact for convergence, then for its digest): each is computed once.
_MEMO = BoundedMemo(max_size=8_000_000)  # characters of input and result


def normalize(
    config: str,
    platform: str,
    extra_patterns: Sequence[str] = (),
    secrets: Mapping[str, str] | None = None,
) -> str:
    """The comparison form of ``config`` on ``platform`` (see the module docstring). Idempotent.

    With ``secrets``, placeholders are resolved first, so a config with placeholders compares equal to
    the device's text holding the values; a value in a secret form (``secret(name, form=...)``: type 7,
    ``$9$``, a hash) that encodes one of ``secrets`` becomes that secret's ``<<secret:name:form>>`` on either
    side, whatever seed or salt each side's text used (``netimmutable.secretforms.canonical``). Never show
    this form with secrets: pass it through ``mask``.

    Examples:
        >>> print(normalize("interface eth10\\n ip address 10.0.0.5/30\\nexit\\n!\\n"
        ...                 "interface eth2\\n description x\\nexit\\n", "frr"), end="")
        interface eth2
         description x
        interface eth10
         ip address 10.0.0.5/30
        >>> normalize("Building configuration...\\n\\nCurrent configuration : 1542 bytes\\n"
        ...           "! Last configuration change at 10:00:01 UTC Mon Mar 1 2021\\nhostname r1\\n", "ios")
        'hostname r1\\n'
        >>> normalize("hostname r1\\nsnmp-server contact x\\n", "eos", [r"^snmp-server contact "])
        'hostname r1\\n'
    """
    extra = tuple(extra_patterns)
    key = (config, platform, extra, tuple(sorted(secrets.items())) if secrets else ())
    found = _MEMO.get(key)
    if found is None:
        found = _normalize(config, rules_for(platform), _compile_extra(extra), secrets)
        _MEMO.put(key, found, size=len(config) + len(found))
    return found


def _normalize(
    config: str, rules: PlatformRules, extra: tuple[re.Pattern[str], ...], secrets: Mapping[str, str] | None
) -> str:
    text = _resolve_for_comparison(config, secrets) if secrets else config
    kept = _kept(
        (ln.rstrip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")), rules, extra
    )
    if rules.block_key is not None and kept:
        blocks: list[list[str]] = []
        for ln in kept:
            if blocks and ln[:1].isspace():
                blocks[-1].append(ln)
            else:
                blocks.append([ln])
        kept = [ln for block in _sorted_runs(blocks, rules.block_key) for ln in block]
    return "\n".join(kept) + "\n" if kept else ""


def config_digest(normalized: str) -> str:
    """``sha256:<hex>`` of a normalized text (the hash compared before any diff is computed).

    Examples:
        >>> config_digest("a\\n") == config_digest(normalize("a  \\r\\n\\n", "frr"))
        True
    """
    return "sha256:" + hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def diff_normalized(
    expected: str,
    running: str,
    expected_label: str = "expected",
    running_label: str = "running",
    secrets: Mapping[str, str] | None = None,
) -> str:
    """Unified diff of two texts that are already normalized, masked for display ("" when equal).

    Examples:
        >>> print(diff_normalized("a\\nb\\n", "a\\nc\\n"), end="")
        --- expected
        +++ running
        @@ -1,2 +1,2 @@
         a
        -b
        +c
    """
    if expected == running:
        return ""
    lines = difflib.unified_diff(
        expected.splitlines(), running.splitlines(), expected_label, running_label, lineterm=""
    )
    return "".join(mask(line, secrets) + "\n" for line in lines)


def normalized_diff(
    expected: str,
    running: str,
    platform: str,
    extra: Sequence[str] = (),
    expected_label: str = "expected",
    running_label: str = "running",
    secrets: Mapping[str, str] | None = None,
) -> str:
    """Unified diff of the normalized texts ("" when they are equal after normalization), masked.

    Examples:
        >>> normalized_diff("hostname r1\\nend\\n", "frr version 8.4\\nhostname r1\\n!\\n", "frr")
        ''
    """
    return diff_normalized(
        normalize(expected, platform, extra, secrets),
        normalize(running, platform, extra, secrets),
        expected_label,
        running_label,
        secrets,
    )
