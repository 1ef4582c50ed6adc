"""The per-platform capability table and its copy in docs/platforms.md."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from netimmutable.drivers import capabilities
from netimmutable.drivers.capabilities import CAPABILITIES, capability, render_table, revert_in_for

DOC = Path(__file__).resolve().parents[3] / "docs" / "platforms.md"


def test_docstring_examples() -> None:
    result = doctest.testmod(capabilities)
    assert result.failed == 0 and result.attempted > 0


def test_every_platform_of_the_design_is_in_the_table() -> None:
    assert {"eos", "junos", "ios", "iosxr", "nxos", "frr", "sim"} <= set(CAPABILITIES)


@pytest.mark.parametrize(
    ("platform", "seconds", "expected"),
    [
        ("junos", 1, 60),
        ("junos", 60, 60),
        ("junos", 61, 120),
        ("ios", 59, 60),
        ("ios", 7200, 7200),
        ("eos", 1, 1),
        ("eos", 300, 300),
        ("frr", 5, 5),
        ("sim", 5, 5),
        ("iosxr", 300, None),
        ("nxos", 300, None),
        ("nxos_ssh", 300, None),
        ("whatever", 300, None),
        ("IOS-XR", 300, None),
        ("JUNOS", 90, 120),
    ],
)
def test_revert_in_rounds_up_to_the_unit_or_is_none(
    platform: str, seconds: int, expected: int | None
) -> None:
    assert revert_in_for(platform, seconds) == expected


def test_revert_in_above_the_maximum_or_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="maximum"):
        revert_in_for("eos", 86_400)
    with pytest.raises(ValueError, match="at least 1"):
        revert_in_for("eos", 0)


def test_unknown_platform_gets_the_conservative_default() -> None:
    cap = capability("sros")
    assert (cap.platform, cap.known, cap.revert_timer, cap.commit_message) == ("sros", False, False, False)


def test_doc_section_matches_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Capabilities") :]
    begin = section.index("-->", section.index("<!-- capabilities:begin")) + len("-->\n")
    end = section.index("<!-- capabilities:end -->")
    assert section[begin:end] == render_table(), (
        "docs/platforms.md is out of date: paste render_table() output between the capabilities markers"
    )
