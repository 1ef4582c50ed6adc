"""Volatile header lines are normalized away on both sides, per platform and only on that platform: what
the device doubles print on top of ``show running-config`` (their vendors' headers: EOS ``! Command:``,
``! device:``, ``! boot system``; IOS ``Building configuration...``, ``Current configuration : N bytes``,
``! Last configuration change at``; NX-OS ``!Command:``, ``!Running configuration last done at:``,
``!Time:``; Junos ``## Last commit:``, ``version ...;``) against the same config as a template renders it
(no header at all)."""

from __future__ import annotations

import re

import pytest

from netimmutable.normalize import normalize, normalized_diff
from tests.doubles import ios, nxos
from tests.doubles.eos import start_eos
from tests.doubles.junos import default_baseline as junos_baseline
from tests.doubles.junos import start_junos

_STAMP = "Thu Dec  3 10:00:00 2026"


def _without(text: str, *patterns: str) -> str:
    """``text`` as a template renders it: the header lines a device prints removed."""
    return "".join(ln for ln in text.splitlines(keepends=True) if not any(re.match(p, ln) for p in patterns))


def test_eos_headers_of_the_double_are_not_differences() -> None:
    with start_eos("r1") as dev:
        shown = dev.running()
    assert shown.startswith("! Command: show running-config\n! device: r1 (") and "\n! boot system " in shown
    rendered = _without(shown, r"^! (Command|device|boot system)")
    assert normalized_diff(rendered, shown, "eos") == ""
    startup = (
        f"! Command: show startup-config\n! Startup-config last modified at {_STAMP} by admin\n" + rendered
    )
    assert normalized_diff(rendered, startup, "eos") == ""


def test_eos_prints_no_aaa_root_by_default_and_an_artifact_need_not_say_it() -> None:
    rendered = "hostname r1\n!\nend\n"
    shown = "! Command: show running-config\nno aaa root\n!\nhostname r1\n!\nend\n"
    assert normalized_diff(rendered, shown, "eos") == ""
    root = "aaa root secret sha512 $6$abc$def\nhostname r1\n"  # a root secret is configuration: kept
    assert "aaa root secret" in normalize(root, "eos")


def test_ios_headers_of_the_double_are_not_differences() -> None:
    shown = ios.default_baseline("r1")
    assert shown.startswith("Building configuration...\n\nCurrent configuration : ")
    rendered = _without(shown, r"^(Building configuration|Current configuration|! Last configuration change)")
    assert normalized_diff(rendered, shown, "ios") == ""
    nvram = f"!\n! NVRAM config last updated at 10:00:00 UTC Thu Dec 3 2026 by admin\n!\n{rendered}"
    assert normalized_diff(rendered, nvram, "ios") == ""


def test_nxos_headers_of_the_double_are_not_differences() -> None:
    shown = nxos.default_baseline("r1")
    assert shown.startswith("!Command: show running-config\n!Running configuration last done at: ")
    rendered = _without(shown, r"^!(Command|Running configuration|Time)")
    saved = f"!Command: show startup-config\n!Time: {_STAMP}\n!Startup config saved at: {_STAMP}\n" + rendered
    assert normalized_diff(rendered, shown, "nxos") == ""
    assert normalized_diff(rendered, saved, "nxos_ssh") == ""


def test_junos_headers_of_the_double_are_not_differences() -> None:
    with start_junos() as dev:
        shown = dev.running()
    assert shown.startswith("## Last commit: ")
    rendered = junos_baseline("r1")
    assert normalized_diff(rendered, shown, "junos") == ""
    assert normalized_diff(rendered, "## Last changed: 2026-12-03 10:00:00 UTC\n" + rendered, "junos") == ""
    upgraded = rendered.replace(rendered.splitlines()[0], "version 23.4R1.9;")  # a release upgrade
    assert normalized_diff(rendered, upgraded, "junos") == ""


@pytest.mark.parametrize(
    ("line", "platform"),
    [
        ("Building configuration...", "junos"),
        ("Current configuration : 1542 bytes", "eos"),
        ("## Last commit: 2026-12-03 10:00:00 UTC by admin", "eos"),
        ("no aaa root", "ios"),
        ("version 4.31.2F", "eos"),
        ("system { host-name r1; } ## SECRET-DATA", "ios"),
    ],
)
def test_a_header_is_volatile_only_on_its_own_platform(line: str, platform: str) -> None:
    assert normalize(f"{line}\nhostname r1\n", platform).startswith(line)
