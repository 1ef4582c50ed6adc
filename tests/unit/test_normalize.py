"""Normalization: data-driven cases per platform, secrets, properties (idempotent; a real change stays)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from netimmutable import normalize as normalize_module
from netimmutable.errors import SettingsError
from netimmutable.normalize import (
    MASK,
    config_digest,
    is_ignored,
    mask,
    normalize,
    normalized_diff,
    rules_for,
)

CASES = Path(__file__).parent / "data" / "normalize"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())
PLATFORMS = ["frr", "sim", "ios", "eos", "nxos", "iosxr", "junos", "acme_os"]


def test_doctests() -> None:
    result = doctest.testmod(normalize_module)
    assert result.attempted > 10
    assert result.failed == 0


@pytest.mark.parametrize("case", CASE_NAMES)
def test_case(case: str) -> None:
    folder = CASES / case
    platform = (folder / "platform").read_text().strip()
    intended = (folder / "intended.txt").read_bytes().decode()
    running = (folder / "running.txt").read_bytes().decode()
    expected_diff = folder / "expected_diff.txt"
    diff = normalized_diff(intended, running, platform)
    if expected_diff.exists():
        assert diff == expected_diff.read_text()
        assert config_digest(normalize(intended, platform)) != config_digest(normalize(running, platform))
    else:
        assert diff == ""
        assert normalize(intended, platform) == normalize(running, platform)
        assert config_digest(normalize(intended, platform)) == config_digest(normalize(running, platform))


def test_cases_cover_noise_and_changes() -> None:
    with_diff = [c for c in CASE_NAMES if (CASES / c / "expected_diff.txt").exists()]
    assert len(with_diff) >= 4
    assert len(CASE_NAMES) - len(with_diff) >= 8


def test_crlf_case_really_has_crlf() -> None:
    assert b"\r\n" in (CASES / "frr_crlf_trailing_spaces_blank_lines" / "running.txt").read_bytes()


def test_frr_keeps_what_changes_behaviour() -> None:
    for line in ("frr defaults traditional", "no ip forwarding", "hostname r1", "log syslog informational"):
        assert not is_ignored(line, "frr"), line
    for line in (
        "frr version 8.4.4",
        "Building configuration...",
        "Current configuration:",
        "!",
        " !",
        "end",
    ):
        assert is_ignored(line, "frr"), line


def test_sim_uses_frr_rules() -> None:
    assert rules_for("sim") is rules_for("frr")


def test_extra_patterns_from_settings() -> None:
    running = "hostname r1\nsnmp-server location rack 7\n"
    assert normalize(running, "frr", [r"^snmp-server location "]) == "hostname r1\n"
    assert normalize(running, "frr") == running


def test_invalid_extra_pattern_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="ignore_lines"):
        normalize("hostname r1\n", "frr", ["(unclosed"])


# ------------------------------------------------------------------------------------------------ secrets
ARTIFACT = "router bgp 65001\n neighbor 10.0.0.2 password <<secret:bgp/r1-r2>>\nexit\n"
RUNNING = "router bgp 65001\n neighbor 10.0.0.2 password Sup3r-s3cret\nexit\n"
SECRETS = {"bgp/r1-r2": "Sup3r-s3cret"}


def test_secrets_compare_resolved() -> None:
    assert normalize(ARTIFACT, "frr", secrets=SECRETS) == normalize(RUNNING, "frr", secrets=SECRETS)
    assert normalized_diff(ARTIFACT, RUNNING, "frr", secrets=SECRETS) == ""
    # without the value, the placeholder does not match the device: never a false "in sync"
    assert normalized_diff(ARTIFACT, RUNNING, "frr") != ""


def test_changed_secret_is_drift_but_never_shown() -> None:
    drifted = RUNNING.replace("Sup3r-s3cret", "leaked-value")
    diff = normalized_diff(ARTIFACT, drifted, "frr", secrets=SECRETS)
    assert diff != ""
    assert "leaked-value" not in diff
    assert "Sup3r-s3cret" not in diff
    assert f"+ neighbor 10.0.0.2 password {MASK}" in diff
    assert "- neighbor 10.0.0.2 password <<secret:bgp/r1-r2>>" in diff


def test_diff_elsewhere_masks_known_values() -> None:
    running = RUNNING + "hostname Sup3r-s3cret\n"
    diff = normalized_diff(ARTIFACT, running, "frr", secrets=SECRETS)
    assert "Sup3r-s3cret" not in diff
    assert "+hostname <<secret:bgp/r1-r2>>" in diff


def test_mask_keywords() -> None:
    text = "enable secret 5 $1$abc$def\nsnmp-server community public RO\n ip ospf authentication-key k3y\n"
    masked = mask(text)
    for value in ("$1$abc$def", "public", "k3y"):
        assert value not in masked
    assert mask(text, unknown=False) == text


# ------------------------------------------------------------------------------------------------ properties
WORDS = st.sampled_from(
    [
        "interface", "eth1", "eth10", "lo", "ip", "ipv6", "address", "10.0.0.1/30", "route", "blackhole",
        "router", "bgp", "65001", "neighbor", "remote-as", "description", "route-map", "permit", "deny",
        "10", "seq", "prefix-list", "exit", "!", "end", "frr", "version", "defaults", "hostname",
        "Building", "configuration...", "Current", "configuration:", "password", "version", "set",
        "## Last commit:", "! Last configuration change", "#", "{", "}", ";", "x",
    ]
)  # fmt: skip
LINE = st.tuples(st.sampled_from(["", " ", "  ", "\t"]), st.lists(WORDS, min_size=1, max_size=5)).map(
    lambda t: t[0] + " ".join(t[1])
)
ANY_LINE = st.one_of(
    LINE, st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=30)
)
CONFIG = st.lists(ANY_LINE, max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    lines=CONFIG, platform=st.sampled_from(PLATFORMS), trailing=st.sampled_from(["", "\n", "\r\n", "  \n\n"])
)
def test_normalize_is_idempotent(lines: list[str], platform: str, trailing: str) -> None:
    text = "\n".join(lines) + trailing
    once = normalize(text, platform)
    assert normalize(once, platform) == once


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300), platform=st.sampled_from(PLATFORMS))
def test_normalize_is_idempotent_on_any_text(text: str, platform: str) -> None:
    once = normalize(text, platform)
    assert normalize(once, platform) == once


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=30), data=st.data(), platform=st.sampled_from(PLATFORMS))
def test_a_real_one_line_change_is_never_normalized_away(
    lines: list[str], data: st.DataObject, platform: str
) -> None:
    index = data.draw(st.integers(0, len(lines) - 1))
    replacement = data.draw(LINE)
    old = lines[index]
    assume(old.rstrip() != replacement.rstrip())
    assume(not is_ignored(old, platform) or not is_ignored(replacement, platform))
    changed = [*lines[:index], replacement, *lines[index + 1 :]]
    before, after = "\n".join(lines) + "\n", "\n".join(changed) + "\n"
    assert normalize(before, platform) != normalize(after, platform)
    assert config_digest(normalize(before, platform)) != config_digest(normalize(after, platform))
    assert normalized_diff(before, after, platform) != ""


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(LINE, max_size=30), data=st.data(), platform=st.sampled_from(PLATFORMS))
def test_an_added_line_is_never_normalized_away(lines: list[str], data: st.DataObject, platform: str) -> None:
    added = data.draw(LINE)
    assume(not is_ignored(added, platform))
    index = data.draw(st.integers(0, len(lines)))
    before = "\n".join(lines) + "\n"
    after = "\n".join([*lines[:index], added, *lines[index:]]) + "\n"
    assert normalize(before, platform) != normalize(after, platform)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(LINE, max_size=30), platform=st.sampled_from(PLATFORMS))
def test_noise_never_changes_the_result(lines: list[str], platform: str) -> None:
    """CRLF, trailing spaces and blank lines are noise on every platform."""
    text = "\n".join(lines) + "\n"
    noisy = "\r\n\r\n".join(line + "  " for line in lines) + "\r\n\n"
    assert normalize(noisy, platform) == normalize(text, platform)


@pytest.mark.parametrize(
    ("line", "value", "shown"),
    [
        # issue 15 item 6: each of these showed its secret (or masked the wrong word) before
        ("tacacs-server key 7 0822455D0A16", "0822455D0A16", "tacacs-server key 7 <<masked>>"),
        ("tacacs-server host 10.0.0.9 key 7 0822455D0A16", "0822455D0A16", None),
        (
            "username ops secret sha512 $6$salt$hashvalue",
            "$6$salt$hashvalue",
            "username ops secret sha512 <<masked>>",
        ),
        ("ntp authentication-key 1 md5 NtpK3y", "NtpK3y", "ntp authentication-key 1 md5 <<masked>>"),
        (" server-private 10.0.0.9 key 7 045802150C2E", "045802150C2E", None),
        # NAPALM's sanitize filters: an SNMP community in a host line, EOS's aaa root secret
        ("snmp-server host 10.0.0.9 version 2c Publ1cCommunity", "Publ1cCommunity", None),
        (" aaa root secret 5 $1$x$rootsecret", "$1$x$rootsecret", None),
    ],
)
def test_mask_hides_vendor_secret_forms(line: str, value: str, shown: str | None) -> None:
    masked = mask(line + "\n")
    assert value not in masked
    assert MASK in masked
    if shown is not None:
        assert masked == shown + "\n"


def test_mask_keeps_placeholders_where_napalms_filters_would_remove_them() -> None:
    text = " neighbor 10.0.0.2 password <<secret:bgp>>\nsnmp-server community <<secret:snmp>> RO\n"
    assert mask(text) == text
