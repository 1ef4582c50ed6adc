"""Where the credentials are in a configuration text: one finder, used by ``adopt`` (which moves each value
into the secrets store) and by ``render`` (which refuses a value in clear).

The finder knows what masking knows, from the same sources, plus SNMPv3:

- ``normalize.SENSITIVE_RE``: the value after ``password``, ``secret``, ``key-string``, ``md5``,
  ``snmp-server community``, ``pre-shared-key``, ... (type numbers and hash names skipped);
- NAPALM's sanitize filters (``EOS_SANITIZE_FILTERS``, Cisco's plus EOS's, and Junos's): the text each one
  replaces with
  ``<removed>`` (``crypto isakmp key``, ``wpa-psk ascii``, ``vrrp N authentication text``, ``standby N
  authentication``, ...). A filter whose region extends a value found above (a password with spaces after
  ``neighbor X password``) extends it;
- precise forms replacing NAPALM's loose ones: ``snmp-server host ADDR [vrf V] [informs|traps] [version
  1|2c] COMMUNITY`` (NAPALM's takes the word after the address, ``informs`` say, and leaves the community),
  the community of ``snmp-server community`` (one word: ``RO`` after it is not secret), the HSRP key of
  ``standby N authentication [text] KEY`` (NAPALM's takes 8 characters at most), and SNMPv3 users,
  ``snmp-server user U G v3 [localizedkey] auth md5|sha* AUTH priv [des|3des|aes [128|192|256]] PRIV``
  (both values, which neither source knew).

Spans are of the bare value (without surrounding quotes); they never overlap and come in text order.

Examples:
    >>> text = "snmp-server host 10.0.0.9 informs version 2c C0mm\\ncrypto isakmp key K3y address 0.0.0.0\\n"
    >>> [(c.keyword, text[c.start:c.end]) for c in find_credentials(text)]
    [('snmp-server-host', 'C0mm'), ('crypto-isakmp-key', 'K3y')]
    >>> line = "snmp-server user ops g1 v3 auth sha Auth1 priv aes 128 Priv1"
    >>> [line[c.start:c.end] for c in find_credentials(line)]
    ['Auth1', 'Priv1']
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from napalm.base.constants import EOS_SANITIZE_FILTERS

from netimmutable.masking import JUNOS_SANITIZE_FILTERS, NAPALM_LITERALS, SENSITIVE_RE

__all__ = ["Credential", "find_credentials"]


@dataclass(frozen=True, slots=True)
class Credential:
    """One credential value: ``text[start:end]``; ``keyword`` names what it follows (``password``,
    ``snmp-server-host``, ``snmp-auth``), letters, digits and ``-`` only."""

    start: int
    end: int
    keyword: str


_REPLACED_NAPALM_PREFIXES = (
    "^(snmp-server host",
    "^(snmp-server user",
    "^(snmp-server community",
    "^((tacacs|radius) server",
    "^(\\s+standby \\d+ authentication) ",
)
"""NAPALM filters replaced by the precise forms below (a new NAPALM filter is used as it is). NAPALM's
``tacacs|radius server`` block filter backtracks exponentially on a block without a key (seconds for 25
lines): the block form below is linear. Its HSRP filter takes at most 8 characters after ``standby N
authentication`` (so ``text cisco123`` escapes it): the form below takes the word after ``[text]``."""

_NAPALM = tuple(
    (re.compile(pattern, re.MULTILINE), replacement, NAPALM_LITERALS.get(pattern))
    for pattern, replacement in {**EOS_SANITIZE_FILTERS, **JUNOS_SANITIZE_FILTERS}.items()
    if not pattern.startswith(_REPLACED_NAPALM_PREFIXES)
)
_GROUP_REF = re.compile(r"\\(\d+)")

_SNMP_HOST = re.compile(
    r"^[ \t]*snmp-server host \S+(?:[ \t]+(?:vrf \S+|informs|traps|version (?:1|2c)))*[ \t]+"
    r"(?!(?:vrf|informs|traps|version|use-vrf|filter-vrf|source-interface)\b)(?P<value>\"[^\"\n]*\"|\S+)",
    re.MULTILINE,
)
_AAA_SERVER_KEY = re.compile(
    r"^(?:tacacs|radius) server [^\n]*\n(?:[ \t]+(?!key[ \t])\S[^\n]*\n)*[ \t]+key[ \t]+(?:\d[ \t]+)?"
    r"(?P<value>\"[^\"\n]*\"|\S+)",
    re.MULTILINE,
)
_HSRP_TEXT = re.compile(
    r"^[ \t]+standby \d+ authentication[ \t]+(?:text[ \t]+)?(?!md5\b)(?P<value>\"[^\"\n]*\"|\S+)[ \t]*$",
    re.MULTILINE,
)
_SNMP_USER = re.compile(r"^[ \t]*snmp-server user [^\n]*", re.MULTILINE)
_SNMP_AUTH = re.compile(r"\bauth[ \t]+(?:md5|sha\S*)[ \t]+(?P<value>\S+)")
_SNMP_PRIV = re.compile(
    r"\bpriv[ \t]+(?:(?:3des|des|aes(?:-?\d{3})?)[ \t]+(?:(?:128|192|256)[ \t]+)?)?(?P<value>\S+)"
)


def _bare(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` without surrounding whitespace and quotes."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start >= 2 and text[start] == text[end - 1] == '"':
        start, end = start + 1, end - 1
    return start, end


def _keyword(text: str) -> str:
    """``"  vrrp 1 authentication text"`` -> ``vrrp-authentication-text`` (the last line, words only)."""
    words = re.findall(r"[a-z][a-z0-9-]*", text.rsplit("\n", 1)[-1].lower())
    return "-".join(words)[:40].strip("-") or "secret"


_VALUE_INTRO = re.compile(r"(?P<word>ascii-text|hexadecimal|key-chain)[ \t]+(?P<value>\"[^\"\n]*\"|[^\s;]+)")
"""Words ``SENSITIVE_RE`` reads as a value that only say what follows: Junos ``pre-shared-key ascii-text
"V"`` (the value is the next word), ``authentication md5 key-chain NAME`` (a key chain's name: no value)."""


_TYPED_VALUE = re.compile(r"\d{1,2}[ \t]+(?P<value>\"[^\"\n]*\"|\S+)")


def _sensitive(text: str) -> Iterator[Credential]:
    """``SENSITIVE_RE``'s values; a "value" that is itself a keyword (``md5 key-string 7 V``) is not one:
    the search goes on from it; one of ``_VALUE_INTRO``'s words gives the word after it, or nothing."""
    at = 0
    while (match := SENSITIVE_RE.search(text, at)) is not None:
        if SENSITIVE_RE.match(text, match.start("value")):
            at = match.start("value")
            continue
        at = match.end()
        keyword = re.sub(r"[^a-z0-9]+", "-", match["keyword"].lower()).strip("-")
        if match["lead"].rstrip().endswith("key-string"):  # "md5 key-string 7 V": V, after its type number
            keyword = "key-string"
            typed = _TYPED_VALUE.match(text, match.start("value"))
            match = typed or match
        intro = _VALUE_INTRO.match(text, match.start("value"))
        if intro is not None:
            at = intro.end()
            if intro["word"] == "key-chain":
                continue
            match = intro
        start, end = _bare(text, match.start("value"), match.end("value"))
        if start < end:
            yield Credential(start, end, keyword)


def _snmp(text: str) -> Iterator[Credential]:
    for match in _SNMP_HOST.finditer(text):
        yield Credential(*_bare(text, match.start("value"), match.end("value")), "snmp-server-host")
    for match in _HSRP_TEXT.finditer(text):
        yield Credential(*_bare(text, match.start("value"), match.end("value")), "standby-authentication")
    for match in _AAA_SERVER_KEY.finditer(text):
        yield Credential(*_bare(text, match.start("value"), match.end("value")), "server-key")
    for line in _SNMP_USER.finditer(text):
        for pattern, keyword in ((_SNMP_AUTH, "snmp-auth"), (_SNMP_PRIV, "snmp-priv")):
            for match in pattern.finditer(line[0]):
                start, end = _bare(line[0], match.start("value"), match.end("value"))
                if start < end and match["value"] != "localizedkey":
                    yield Credential(line.start() + start, line.start() + end, keyword)


def _napalm(text: str) -> Iterator[Credential]:
    """The region each NAPALM filter removes: from the end of the group written before ``<removed>`` to
    the start of the group written after it (or the end of the match)."""
    for pattern, replacement, needs in _NAPALM:
        if needs is not None and not any(word in text for word in needs):
            continue
        parts = replacement.split("<removed>")
        for match in pattern.finditer(text):
            for before, after in itertools.pairwise(parts):
                refs_before = _GROUP_REF.findall(before)
                refs_after = _GROUP_REF.findall(after)
                lead = int(refs_before[-1]) if refs_before else 0
                start = match.end(lead) if lead else match.start()
                if start < 0:  # the group before <removed> did not take part: nothing to locate
                    continue
                end = match.end()
                if refs_after and match.start(int(refs_after[0])) >= start:
                    end = match.start(int(refs_after[0]))
                start, end = _bare(text, start, end)
                if start < end:
                    yield Credential(start, end, _keyword(match[lead] if lead else ""))


def find_credentials(text: str) -> tuple[Credential, ...]:
    """Every credential value in ``text`` (see the module docstring), in text order, never overlapping."""
    precise = [(0, c) for c in _snmp(text)] + [(1, c) for c in _sensitive(text)]
    found = [c for _, c in sorted(precise, key=lambda pc: (pc[1].start, -pc[1].end, pc[0]))]
    kept: list[Credential] = []
    for cred in found:
        if not kept or cred.start >= kept[-1].end:
            kept.append(cred)
    starts = [c.start for c in kept]
    for region in _napalm(text):
        # kept is sorted and never overlaps: the spans overlapping the region are the run just before
        # the first span starting at or after its end
        after = bisect.bisect_left(starts, region.end)
        first = after
        while first > 0 and kept[first - 1].end > region.start:
            first -= 1
        if first == after:
            kept.insert(after, region)
            starts.insert(after, region.start)
            continue
        span = kept[first]
        if after - first == 1 and region.start <= span.start and region.end > span.end:
            kept[first] = Credential(span.start, region.end, span.keyword)  # a value with spaces
    return tuple(kept)
