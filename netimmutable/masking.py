"""Masking: the display form of configuration text, one place for every diff, plan, log, report and record.

Known secret values become their placeholders again; any other value after a secret keyword (``password``,
``secret``, ``key-string``, ...: netimmutable's own patterns) and whatever NAPALM's sanitize filters for eos,
ios, nxos, iosxr and junos remove becomes ``<<masked>>``. Re-exported by ``netimmutable.normalize``.

Examples:
    >>> mask("snmp-server community s3cret RO\\n")
    'snmp-server community <<masked>>\\n'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from napalm.base.constants import EOS_SANITIZE_FILTERS

from netimmutable.secretref import SECRET_RE

__all__ = ["JUNOS_SANITIZE_FILTERS", "MASK", "NAPALM_LITERALS", "SENSITIVE_RE", "mask"]

MASK = "<<masked>>"
"""Shown in place of a value after a secret keyword that is not a known secret placeholder."""

_SENSITIVE = re.compile(
    r"(?P<lead>(?P<keyword>\b(?:password|secret|key-string|authentication-key|md5|snmp-server community|"
    r"pre-shared-key|encrypted-password|(?:tacacs|radius)-server(?:\s+host\s+\S+)?\s+key)|\bkey(?=\s+7\s))"
    r"\s+(?:\d{1,2}\s+)?(?:(?:sha512|sha256|sha1|md5|hmac-sha\S*)\s+)?(?:key-string\s+)?)"
    r"(?P<value>\"[^\"]*\"|\S+)"
)
SENSITIVE_RE = _SENSITIVE
"""A secret keyword (``keyword``, with the type number or hash algorithm that may follow it: ``lead``) and the
value after it (``value``): what ``mask`` hides, and what a rendered line may carry only from ``secret()`` (or
``not_secret()``)."""

JUNOS_SANITIZE_FILTERS: Mapping[str, str] = {
    r"^(\s+community\s+)\w+(;.*|\s+{.*)$": r"\1<removed>\2",
    r'^(.*)"\$\d\$\S+"(;.*)$': r"\1<removed>\2",
}
"""NAPALM's Junos sanitize filters, which napalm 5.2 keeps inside ``JunOSDriver.get_config`` (not in
``napalm.base.constants``): SNMP communities and any quoted ``$N$`` secret (``$9$``, ``$6$``, ``$1$``)."""

NAPALM_LITERALS: Mapping[str, tuple[str, ...]] = {
    r"^(snmp-server community).*$": ("snmp-server community",),
    r"^(\s+(?:password|secret)) (?:\d{1,2} )?\S+$": ("password ", "secret "),
    r"^(snmp-server host \S+( vrf \S+)?( version (1|2c|3))?)\s+\S+((\s+\S*)*)\s*$": ("snmp-server host ",),
    r"^(snmp-server user \S+( \S+)? auth md5) \S+ (priv) \S+ (localizedkey( engineID \S+)?)\s*$": (
        "snmp-server user ",
    ),
    r"^(username .+ (password|secret) \d) .+$": ("username ",),
    r"^(enable (password|secret)( level \d+)? \d) .+$": ("enable ",),
    r"^(.*wpa-psk ascii \d) (\S+)$": ("wpa-psk ascii ",),
    r"^(.*key 7) (\d.+)$": ("key 7 ",),
    r"^(tacacs-server (.+ )?key) .+$": ("tacacs-server ",),
    r"^(crypto isakmp key) (\S+) (.*)$": ("crypto isakmp key ",),
    r"^(\s+ip ospf message-digest-key \d+ md5) .+$": ("ip ospf message-digest-key ",),
    r"^(\s+ip ospf authentication-key) .+$": ("ip ospf authentication-key ",),
    r"^(\s+neighbor \S+ password) .+$": (" password ",),
    r"^(\s+vrrp \d+ authentication text) .+$": (" authentication text ",),
    r"^(\s+standby \d+ authentication) .{1,8}$": ("standby ",),
    r"^(\s+standby \d+ authentication md5 key-string) .+?( timeout \d+)?$": (
        " authentication md5 key-string ",
    ),
    r"^(\s+key-string) .+$": ("key-string ",),
    r"^((tacacs|radius) server [^\n]+\n(\s+[^\n]+\n)*\s+key) [^\n]+$": (" server ",),
    r"^(\s+ppp (chap|pap) password \d) .+$": ("ppp ",),
    r"^(\s+aaa root secret \d) .+$": ("aaa root secret ",),
    r"^(\s+username .+ (password|secret) \d) .+$": ("username ",),
    r"^(\s+community\s+)\w+(;.*|\s+{.*)$": ("community",),
    r'^(.*)"\$\d\$\S+"(;.*)$': ('"$',),
}
"""A text each NAPALM filter needs in any line it matches: a filter is run only over a text holding it (a
scan of the text for a word instead of a regular expression tried at every line). A filter NAPALM adds
that is not listed here is always run."""

_NAPALM_FILTERS = tuple(
    (re.compile(pattern, re.MULTILINE), replacement, NAPALM_LITERALS.get(pattern))
    for pattern, replacement in {**EOS_SANITIZE_FILTERS, **JUNOS_SANITIZE_FILTERS}.items()
)
"""NAPALM's own sanitize filters: ``CISCO_SANITIZE_FILTERS`` (which the ios, nxos, nxos_ssh, iosxr and
iosxr_netconf drivers apply), ``EOS_SANITIZE_FILTERS`` (Cisco's plus EOS's ``aaa root secret`` and indented
``username``) and Junos's. Masking applies them all after its own patterns, whatever the platform (each is
anchored to its vendor's syntax), so what NAPALM hides is hidden here too."""


def mask(
    text: str, secrets: Mapping[str, str] | None = None, *, unknown: bool = True, napalm: bool = True
) -> str:
    """The display form: known secret values become their placeholders again, and (``unknown``) any other
    value after a secret keyword (password, secret, key-string, ...) becomes ``<<masked>>``, as does what
    NAPALM's sanitize filters remove (``napalm=False`` leaves them out: only the bench, which measures what
    they cost, asks for that).

    Examples:
        >>> mask(" neighbor 10.0.0.2 password s3cret\\n", {"bgp": "s3cret"})
        ' neighbor 10.0.0.2 password <<secret:bgp>>\\n'
        >>> mask(" neighbor 10.0.0.2 password hunter2\\nenable secret 5 $1$abc\\n")
        ' neighbor 10.0.0.2 password <<masked>>\\nenable secret 5 <<masked>>\\n'
        >>> mask("password <<secret:vty>>")
        'password <<secret:vty>>'
        >>> print(mask("tacacs-server key 7 0822455D0A16\\nntp authentication-key 1 md5 K3y\\n"), end="")
        tacacs-server key 7 <<masked>>
        ntp authentication-key 1 md5 <<masked>>
        >>> mask("username a secret sha512 $6$salt$hash")
        'username a secret sha512 <<masked>>'
    """
    if secrets:
        for name, value in sorted(secrets.items(), key=lambda item: -len(item[1])):
            if value:
                text = text.replace(value, f"<<secret:{name}>>")

    if not unknown:
        return text

    def hide(match: re.Match[str]) -> str:
        bare = match["value"].strip('";')
        return match[0] if bare == MASK or SECRET_RE.fullmatch(bare) else f"{match['lead']}{MASK}"

    # NAPALM's first: a line it knows whole (``auth md5 K1 priv K2``) is masked whole, before a keyword of
    # netimmutable's (``md5``) masks one value and the line no longer matches NAPALM's pattern
    for pattern, replacement, needs in _NAPALM_FILTERS if napalm else ():
        if needs is None or any(word in text for word in needs):
            text = pattern.sub(functools.partial(_napalm_masked, replacement=replacement), text)
    return _SENSITIVE.sub(hide, text)


def _napalm_masked(match: re.Match[str], replacement: str) -> str:
    """One NAPALM filter's replacement, ``<removed>`` shown as ``<<masked>>``; a line already showing a
    placeholder or a mask is left as it is."""
    if "<<" in match[0]:
        return match[0]
    return match.expand(replacement).replace("<removed>", MASK)
