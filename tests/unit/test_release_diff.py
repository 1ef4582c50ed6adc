"""Per-device diffs between artifact sets, and their text, markdown and JSON forms."""

from __future__ import annotations

import json
import re

from netimmutable.release_diff import HostDiff, diff_artifacts, format_json, format_markdown, format_text

OLD = {
    "r1.cfg": "hostname r1\ninterface eth1\n ip address 10.0.0.1/30\nend\n",
    "r1.expect.yaml": "- get_facts: {hostname: r1}\n",
    "r2.cfg": "hostname r2\nend\n",
    "r3.cfg": "hostname r3\nend\n",
}
NEW = {
    "r1.cfg": "hostname r1\ninterface eth1\n ip address 10.0.0.5/30\n description uplink\nend\n",
    "r1.expect.yaml": "- get_facts: {hostname: r1}\n",
    "r2.cfg": "hostname r2\nend\n",
    "r4.cfg": "hostname r4\nend\n",
    "r4.expect.yaml": "[]\n",
}


def _by_host(diffs: tuple[HostDiff, ...]) -> dict[str, HostDiff]:
    return {d.host: d for d in diffs}


def test_unchanged_hosts_are_left_out_and_counts_are_right() -> None:
    diffs = diff_artifacts(OLD, NEW, "A", "B")
    assert [d.host for d in diffs] == ["r1", "r3", "r4"]
    d = _by_host(diffs)
    assert (d["r1"].change, d["r1"].added, d["r1"].removed, d["r1"].expectations_changed) == (
        "changed",
        2,
        1,
        False,
    )
    assert (d["r3"].change, d["r3"].added, d["r3"].removed, d["r3"].expectations_changed) == (
        "removed",
        0,
        2,
        False,
    )
    assert (d["r4"].change, d["r4"].added, d["r4"].removed, d["r4"].expectations_changed) == (
        "added",
        2,
        0,
        True,
    )


def test_unified_diff_labels() -> None:
    d = _by_host(diff_artifacts(OLD, NEW, "abc", "def"))
    assert d["r1"].diff.startswith("--- abc/r1.cfg\n+++ def/r1.cfg\n@@ ")
    assert "- ip address 10.0.0.1/30\n+ ip address 10.0.0.5/30\n+ description uplink\n" in d["r1"].diff
    assert d["r3"].diff.startswith("--- abc/r3.cfg\n+++ /dev/null\n")
    assert d["r4"].diff.startswith("--- /dev/null\n+++ def/r4.cfg\n")
    assert "--- /dev/null\n+++ def/r4.expect.yaml\n" in d["r4"].diff


def test_expectations_only_change_is_flagged() -> None:
    new = dict(
        OLD, **{"r1.expect.yaml": "- get_facts: {hostname: r1}\n- get_interfaces: {eth1: {is_up: true}}\n"}
    )
    (d,) = diff_artifacts(OLD, new)
    assert (d.host, d.change, d.added, d.removed, d.expectations_changed) == ("r1", "changed", 0, 0, True)
    assert "+- get_interfaces: {eth1: {is_up: true}}\n" in d.diff
    assert "r1.cfg" not in d.diff


def test_missing_final_newline_is_marked() -> None:
    (d,) = diff_artifacts({"r1.cfg": "a\nb"}, {"r1.cfg": "a\nc"})
    assert "-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n" in d.diff
    assert d.diff.endswith("\n")


def test_no_changes() -> None:
    assert diff_artifacts(OLD, OLD) == ()
    assert format_text((), "A", "B") == "no device changes between A and B\n"
    assert "no device changes between `A` and `B`" in format_markdown((), "A", "B")
    assert json.loads(format_json((), "A", "B"))["hosts"] == []


def test_text_format_has_a_summary_table_then_the_diffs() -> None:
    text = format_text(diff_artifacts(OLD, NEW, "A", "B"), "A", "B")
    lines = text.splitlines()
    assert lines[0] == "3 device(s) differ between A and B"
    assert lines[2].split() == ["host", "change", "+lines", "-lines", "expectations"]
    assert lines[3].split() == ["r1", "changed", "2", "1", "-"]
    assert lines[4].split() == ["r3", "removed", "0", "2", "-"]
    assert lines[5].split() == ["r4", "added", "2", "0", "changed"]
    assert "=== r1 (changed, +2 -1)" in lines
    assert text.index("=== r1") < text.index("=== r3") < text.index("=== r4")


def test_markdown_has_a_table_and_one_collapsible_section_per_host() -> None:
    md = format_markdown(diff_artifacts(OLD, NEW, "A", "B"), "A", "B")
    assert md.startswith("### netimmutable: 3 device(s) change between `A` and `B`\n")
    assert "| `r1` | changed | 2 | 1 | - |" in md
    assert "| `r4` | added | 2 | 0 | changed |" in md
    assert md.count("<details>") == md.count("</details>") == 3
    assert "<summary><code>r3</code>: removed, +0 -2</summary>" in md
    blocks = re.findall(r"```diff\n(.*?)```", md, flags=re.S)
    assert len(blocks) == 3 and blocks[0].startswith("--- A/r1.cfg")


def test_markdown_fence_survives_backticks_in_a_config() -> None:
    diffs = diff_artifacts({"r1.cfg": "banner ok\n"}, {"r1.cfg": "banner ```oops```\n"})
    md = format_markdown(diffs, "A", "B")
    assert "````diff\n" in md and md.count("````") == 2


def test_json_format_is_complete_and_stable() -> None:
    diffs = diff_artifacts(OLD, NEW, "A", "B")
    text = format_json(diffs, "A", "B")
    payload = json.loads(text)
    assert payload["schema"] == "netimmutable.diff/1"
    assert (payload["from"], payload["to"]) == ("A", "B")
    assert [h["host"] for h in payload["hosts"]] == ["r1", "r3", "r4"]
    assert set(payload["hosts"][0]) == {"host", "change", "added", "removed", "expectations_changed", "diff"}
    assert payload["hosts"][2]["expectations_changed"] is True
    assert text == format_json(diff_artifacts(dict(reversed(OLD.items())), NEW, "A", "B"), "A", "B")
