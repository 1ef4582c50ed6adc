"""``credentials.find_credentials``: each form masking hides (SENSITIVE_RE, NAPALM's sanitize filters) and
SNMPv3 keys give the exact value span, and words that are not secrets (an SNMPv3 user name, ``RO``,
``use-vrf``) give none."""

from __future__ import annotations

import doctest
import secrets

import pytest
from napalm.base.constants import EOS_SANITIZE_FILTERS

from netimmutable import credentials
from netimmutable.credentials import find_credentials
from netimmutable.masking import JUNOS_SANITIZE_FILTERS
from netimmutable.normalize import MASK, mask


def test_doctests() -> None:
    assert doctest.testmod(credentials).failed == 0


FORMS = [
    ("snmp-server host 10.0.0.9 version 2c {v}", "snmp-server-host"),
    ("snmp-server host 10.0.0.9 {v}", "snmp-server-host"),
    ("snmp-server host 10.0.0.8 vrf MGMT informs version 2c {v} udp-port 162", "snmp-server-host"),
    ("snmp-server host 10.0.0.8 traps version 1 {v}", "snmp-server-host"),
    ("snmp-server community {v} RO 10", "snmp-server-community"),
    ("crypto isakmp key {v} address 0.0.0.0", "crypto-isakmp-key"),
    (" wpa-psk ascii 0 {v}", "wpa-psk-ascii"),
    (" vrrp 1 authentication text {v}", "vrrp-authentication-text"),
    (" standby 1 authentication {v}", "standby-authentication"),
    (" standby 1 authentication md5 key-string 7 {v} timeout 30", "key-string"),
    ("snmp-server user ops g1 v3 auth sha {v} priv aes 128 Other1", "snmp-auth"),
    ("snmp-server user ops g1 v3 auth md5 Other1 priv des {v}", "snmp-priv"),
    ("snmp-server user ops network-admin auth md5 Other1 priv aes-128 {v} localizedkey", "snmp-priv"),
    ("radius server R1\n address ipv4 10.0.0.7\n key {v}", "server-key"),
    ("tacacs server T1\n address ipv4 10.0.0.7\n key 7 {v}", "server-key"),
    (" neighbor 10.0.0.2 password {v}", "password"),
    ("enable secret 5 {v}", "secret"),
]


@pytest.mark.parametrize(("form", "keyword"), FORMS)
def test_each_form_gives_the_value_span(form: str, keyword: str) -> None:
    value = f"k{secrets.token_hex(3)}"
    text = "hostname r1\n" + form.format(v=value) + "\n"
    found = [(c.keyword, text[c.start : c.end]) for c in find_credentials(text)]
    assert (keyword, value) in found
    assert all(v != "Other1" or k in ("snmp-auth", "snmp-priv") for k, v in found)


# masking reads "md5 key-string" as keyword md5 and value "key-string" (normalize's own quirk, left to it)
@pytest.mark.parametrize(
    ("form", "keyword"), [f for f in FORMS if "Other1" not in f[0] and "md5 key" not in f[0]]
)
def test_whatever_masking_hides_is_found(form: str, keyword: str) -> None:
    """Each value the finder replaces leaves nothing for ``mask`` to hide (adopt commits no masked text)."""
    value = f"k{secrets.token_hex(3)}"
    text = form.format(v=value) + "\n"
    assert MASK in mask(text)
    (cred,) = [c for c in find_credentials(text) if text[c.start : c.end] == value]
    placed = text[: cred.start] + "<<secret:x>>" + text[cred.end :]
    assert MASK not in mask(placed)


def test_a_password_with_spaces_is_one_value() -> None:
    text = " neighbor 10.0.0.2 password two words here\n"
    assert [text[c.start : c.end] for c in find_credentials(text)] == ["two words here"]


@pytest.mark.parametrize(
    "line",
    [
        "snmp-server host 10.0.0.9 version 3 priv opsuser",
        "snmp-server host 10.0.0.9 use-vrf management",
        "snmp-server user ops g1 v3",
        "interface eth1\n description password policy is elsewhere",
        "radius server R1\n address ipv4 10.0.0.7\n timeout 5",
    ],
)
def test_words_that_are_not_credentials(line: str) -> None:
    found = [line[c.start : c.end] for c in find_credentials(line + "\n")]
    assert found in ([], ["policy"])  # "password policy": SENSITIVE_RE's value, as masking sees it


def test_a_long_server_block_without_a_key_is_read_in_one_pass() -> None:
    """NAPALM's own block filter backtracks exponentially here; the finder's block form does not."""
    text = "radius server R1\n" + "  address ipv4 10.0.0.7 auth-port 1812\n" * 40 + "end\n"
    assert find_credentials(text) == ()


def test_an_hsrp_key_longer_than_napalms_eight_characters_is_found() -> None:
    value = f"k{secrets.token_hex(8)}"
    for line in (f" standby 1 authentication text {value}\n", f" standby 1 authentication {value}\n"):
        assert [(c.keyword, line[c.start : c.end]) for c in find_credentials(line)] == [
            ("standby-authentication", value)
        ]


def test_junos_forms_napalm_sanitizes() -> None:
    """NAPALM's Junos filters (in ``JunOSDriver.get_config``): an SNMP community, a quoted ``$N$`` secret;
    ``ascii-text`` only says what follows (the value is the next word, in clear or not)."""
    community, clear = f"c{secrets.token_hex(4)}", f"p{secrets.token_hex(4)}"
    text = (
        "snmp {\n"
        f"    community {community} {{\n"
        "        authorization read-only;\n"
        "    }\n"
        "}\n"
        "security {\n"
        "    ike {\n"
        "        policy p1 {\n"
        '            pre-shared-key ascii-text "$9$abcDEF123"; ## SECRET-DATA\n'
        "        }\n"
        "        policy p2 {\n"
        f'            pre-shared-key ascii-text "{clear}";\n'
        "        }\n"
        "    }\n"
        "}\n"
    )
    found = [text[c.start : c.end] for c in find_credentials(text)]
    assert found == [community, "$9$abcDEF123", clear]


def test_a_key_chain_name_is_not_a_credential() -> None:
    text = " standby 1 authentication md5 key-chain HSRP-KEYS\n"
    assert find_credentials(text) == ()


def test_the_words_each_napalm_filter_needs_are_napalms_filters() -> None:
    """A napalm upgrade that rewrites a filter leaves it out of the table (it then always runs: slower, never
    blind); the table holds no pattern NAPALM does not have."""
    from netimmutable.masking import NAPALM_LITERALS

    napalm = {*EOS_SANITIZE_FILTERS, *JUNOS_SANITIZE_FILTERS}
    assert set(NAPALM_LITERALS) <= napalm
    assert all(needs for needs in NAPALM_LITERALS.values())
    assert all(needs is not None for _, _, needs in credentials._NAPALM)  # each one skipped where it can be
