"""Masking applies every sanitize filter NAPALM has for eos, ios, nxos, iosxr and junos, plus netimmutable's
own keyword patterns: each pattern is fed a line in its vendor's syntax holding a value generated at run
time, and the value must not survive ``mask``. A filter NAPALM adds later and this table does not know
fails ``test_every_napalm_filter_has_a_line``."""

from __future__ import annotations

import inspect
import secrets as rnd

import pytest
from napalm.base.constants import CISCO_SANITIZE_FILTERS, EOS_SANITIZE_FILTERS
from napalm.junos.junos import JunOSDriver

from netimmutable import masking
from netimmutable.masking import JUNOS_SANITIZE_FILTERS, MASK, mask

_V = "{v}"
# NAPALM pattern -> a line (or block) the vendor prints that the pattern is for; {v} is the secret
NAPALM_LINES: dict[str, str] = {
    r"^(snmp-server community).*$": "snmp-server community {v} RO",
    r"^(snmp-server host \S+( vrf \S+)?( version (1|2c|3))?)\s+\S+((\s+\S*)*)\s*$": (
        "snmp-server host 192.0.2.10 version 2c {v} udp-port 162"
    ),
    r"^(snmp-server user \S+( \S+)? auth md5) \S+ (priv) \S+ (localizedkey( engineID \S+)?)\s*$": (
        "snmp-server user admin network-admin auth md5 0x{v} priv 0x{v} localizedkey"
    ),
    r"^(username .+ (password|secret) \d) .+$": "username admin privilege 15 password 7 {v}",
    r"^(enable (password|secret)( level \d+)? \d) .+$": "enable secret 5 $1$mERr${v}",
    r"^(\s+(?:password|secret)) (?:\d{1,2} )?\S+$": "line vty 0 4\n password 7 {v}",
    r"^(.*wpa-psk ascii \d) (\S+)$": " wpa-psk ascii 0 {v}",
    r"^(.*key 7) (\d.+)$": "radius-server host 192.0.2.1 auth-port 1812 acct-port 1813 key 7 0{v}",
    r"^(tacacs-server (.+ )?key) .+$": "tacacs-server host 192.0.2.20 key {v}",
    r"^(crypto isakmp key) (\S+) (.*)$": "crypto isakmp key {v} address 192.0.2.30",
    r"^(\s+ip ospf message-digest-key \d+ md5) .+$": "interface Gi0/1\n ip ospf message-digest-key 1 md5 {v}",
    r"^(\s+ip ospf authentication-key) .+$": "interface Gi0/1\n ip ospf authentication-key {v}",
    r"^(\s+neighbor \S+ password) .+$": "router bgp 65001\n neighbor 10.0.0.2 password {v}",
    r"^(\s+vrrp \d+ authentication text) .+$": "interface Gi0/1\n vrrp 1 authentication text {v}",
    r"^(\s+standby \d+ authentication) .{1,8}$": "interface Gi0/1\n standby 1 authentication {v}",
    r"^(\s+standby \d+ authentication md5 key-string) .+?( timeout \d+)?$": (
        "interface Gi0/1\n standby 1 authentication md5 key-string {v} timeout 30"
    ),
    r"^(\s+key-string) .+$": "key chain OSPF\n key 1\n  key-string {v}",
    r"^((tacacs|radius) server [^\n]+\n(\s+[^\n]+\n)*\s+key) [^\n]+$": (
        "tacacs server TAC1\n address ipv4 192.0.2.40\n key {v}"
    ),
    r"^(\s+ppp (chap|pap) password \d) .+$": "interface Serial0/0\n ppp chap password 0 {v}",
    r"^(\s+aaa root secret \d) .+$": "   aaa root secret 5 $1${v}",
    r"^(\s+username .+ (password|secret) \d) .+$": "   username admin secret 5 $1${v}",
    r"^(\s+community\s+)\w+(;.*|\s+{.*)$": "snmp {\n    community {v} {\n        authorization read-only;",
    r'^(.*)"\$\d\$\S+"(;.*)$': '            authentication-key "$9${v}"; ## SECRET-DATA',
}

# netimmutable's own patterns, for lines NAPALM's filters leave alone (issue 15 item 6)
OWN_LINES = (
    "tacacs-server key 7 0{v}",
    "username admin privilege 15 role network-admin secret sha512 $6$rounds=5000${v}",
    "ntp authentication-key 1 md5 {v} 7",
    "router ospf 1\n area 0 authentication-key {v}",
    "snmp-server community {v} ro",
    "crypto ikev2 keyring K\n peer P\n  pre-shared-key {v}",
    'system {\n    root-authentication {\n        encrypted-password "$6${v}"; ## SECRET-DATA',
)


def _value() -> str:
    return rnd.token_hex(4)  # 8 hex characters: fits the standby pattern's limit, a \w+ and a \S+


def test_every_napalm_filter_has_a_line() -> None:
    junos_source = inspect.getsource(JunOSDriver.get_config)
    assert all(
        repr(pattern)[1:-1] in junos_source or pattern in junos_source for pattern in JUNOS_SANITIZE_FILTERS
    )
    napalm = {*CISCO_SANITIZE_FILTERS, *EOS_SANITIZE_FILTERS, *JUNOS_SANITIZE_FILTERS}
    assert napalm == set(NAPALM_LINES)


def test_the_word_a_filter_is_skipped_without_is_in_every_line_it_is_for() -> None:
    literals = masking.NAPALM_LITERALS
    assert set(literals) <= set(NAPALM_LINES)
    for pattern, needed in literals.items():
        assert any(word in NAPALM_LINES[pattern] for word in needed), pattern


@pytest.mark.parametrize("pattern", sorted(NAPALM_LINES))
def test_what_a_napalm_filter_removes_is_masked(pattern: str) -> None:
    value = _value()
    text = NAPALM_LINES[pattern].replace(_V, value) + "\n"
    shown = mask(text)
    assert value not in shown, shown
    assert MASK in shown
    assert shown.splitlines()[0].split()[0] == text.split()[0]  # the line is still there, its value hidden


@pytest.mark.parametrize("line", OWN_LINES)
def test_netimmutables_own_patterns_mask_what_napalm_leaves(line: str) -> None:
    value = _value()
    shown = mask(line.replace(_V, value) + "\n")
    assert value not in shown and MASK in shown


def test_a_placeholder_is_shown_as_it_is() -> None:
    for text in (
        '            authentication-key "<<secret:bgp:juniper9>>";\n',
        "router bgp 65001\n neighbor 10.0.0.2 password 7 <<secret:bgp:type7>>\n",
        "username admin secret sha512 <<secret:admin:sha512>>\n",
    ):
        assert mask(text) == text
