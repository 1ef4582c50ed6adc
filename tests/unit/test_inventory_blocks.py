"""hosts.yaml read block by block (parsed alone, cached, on every core) loads what the whole file loads.

Every case is loaded both ways: by blocks (the default) and whole (the block path switched off); the
hosts (fields, resolved data, groups, connection options), their lines and any error must be the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netimmutable import inventory as inventory_module
from netimmutable import inventory_blocks
from netimmutable.errors import InventoryError, NetImmutableError
from netimmutable.inventory import LoadedInventory, load_inventory
from netimmutable.inventory_blocks import split_blocks
from netimmutable.repo import open_repo

GROUPS = "edge:\n  platform: frr\n  data: {role: edge}\ncore:\n  data: {role: core}\n"
DEFAULTS = "platform: eos\ndata: {ntp: [10.0.0.1]}\n"


def _repo(root: Path, hosts: str) -> Path:
    (root / "inventory").mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    (root / "netimmutable.yaml").write_text("version: 1\n")
    (root / "inventory" / "hosts.yaml").write_text(hosts)
    (root / "inventory" / "groups.yaml").write_text(GROUPS)
    (root / "inventory" / "defaults.yaml").write_text(DEFAULTS)
    return root


def _view(loaded: LoadedInventory) -> list[Any]:
    def options(host: Any) -> Any:
        return {
            name: (o.hostname, o.port, o.username, o.platform, o.extras)
            for name, o in object.__getattribute__(host, "connection_options").items()
        }

    return [
        (
            h.name,
            h.hostname,
            h.port,
            h.username,
            h.platform,
            [g.name for g in h.groups],
            dict(h.items()),
            h.data,
            options(h),
            loaded.line_of(h.name),
        )
        for h in loaded.inventory.hosts.values()
    ]


def _both(root: Path, monkeypatch: pytest.MonkeyPatch, processes: int = 1) -> tuple[Any, Any]:
    """(by blocks, whole): each the hosts' view or the error's (type, text, file, line)."""

    def outcome() -> Any:
        try:
            return _view(load_inventory(open_repo(root), processes=processes))
        except NetImmutableError as exc:
            return (type(exc).__name__, str(exc), exc.file, exc.line)

    by_blocks = outcome()
    by_blocks_again = outcome()  # from the block cache
    assert by_blocks_again == by_blocks
    with monkeypatch.context() as patch:
        patch.setattr(inventory_module, "_load_by_blocks", lambda *_: None)
        whole = outcome()
    return by_blocks, whole


CASES = {
    "plain": "r1:\n  groups: [edge]\n  data: {asn: 1}\nr2:\n  hostname: 192.0.2.2\n  data:\n    asn: 2\n",
    "comments and blanks": "# fleet\n\nr1: # the first\n  data: {asn: 1}\n# between\n\n"
    "r2:\n  data: {asn: 2}\n",
    "indentless sequence": "r1:\n  groups:\n  - edge\n  - core\n  data:\n    peers:\n    - 10.0.0.1\n",
    "quoted keys": "'r1':\n  data: {asn: 1}\n\"r2\":\n  data: {asn: 2}\n",
    "empty host": "r1:\nr2: {}\n",
    "connection options": "r1:\n  connection_options:\n    napalm:\n      port: 2222\n"
    "      extras: {optional_args: {transport: ssh}}\n",
    "dates are not json": "r1:\n  data: {since: 2024-01-02}\n",
    "anchors": "r1:\n  data: &d {asn: 1}\nr2:\n  data: *d\n",
    "document marker": "---\nr1:\n  data: {asn: 1}\n",
    "top-level sequence": "- r1\n- r2\n",
    "flow continued at column 0": "r1: {data: {asn: 1},\ngroups: [edge]}\n",
    "duplicate host": "r1:\n  data: {asn: 1}\nr2: {}\nr1:\n  data: {asn: 2}\n",
    "duplicate key in a host": "r1:\n  data: {asn: 1}\n  data: {asn: 2}\n",
    "bad yaml in the second host": "r1:\n  data: {asn: 1}\nr2:\n  data: {asn: [1\n",
    "unknown group": "r1:\n  groups: [nope]\n",
    "no platform": "r1:\n  groups: [core]\n  platform: ''\n",
    "credential": "r1:\n  data: {asn: 1}\nr2:\n  password: hunter2\n",
    "bad host name": "r1:\n  data: {}\nr..2:\n  data: {}\n",
    "newline in a value": 'r1:\n  data: {d: "a\\nb"}\n',
    "unknown key": "r1:\n  platfrom: frr\n",
    "tab indented": "r1:\n\tdata: {}\n",
    "crlf": "r1:\r\n  data: {asn: 1}\r\nr2:\r\n  data: {asn: 2}\r\n",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_blocks_load_what_the_whole_file_loads(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path, CASES[case])
    by_blocks, whole = _both(root, monkeypatch)
    assert by_blocks == whole


def test_a_host_edit_parses_only_its_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = "".join(f"h{i}:\n  groups: [edge]\n  data: {{asn: {i}}}\n" for i in range(30))
    root = _repo(tmp_path, hosts)
    load_inventory(open_repo(root))
    parsed: list[int] = []
    real = inventory_blocks.parse_blocks

    def counting(raw: bytes, label: str, blocks: Any, processes: int) -> Any:
        parsed.append(len(blocks))
        return real(raw, label, blocks, processes)

    monkeypatch.setattr(inventory_blocks, "parse_blocks", counting)
    (root / "inventory" / "hosts.yaml").write_text(hosts.replace("asn: 7}", "asn: 77}"))
    loaded = load_inventory(open_repo(root))
    assert parsed == [1]
    assert loaded.inventory.hosts["h7"]["asn"] == 77 and loaded.inventory.hosts["h8"]["asn"] == 8
    assert loaded.line_of("h29") == 88


def test_parallel_block_parse_loads_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = "".join(
        f"h{i}:\n  groups: [edge]\n  data: {{asn: {i}, peers: [{i}, {i + 1}]}}\n" for i in range(80)
    )
    root = _repo(tmp_path, hosts)
    by_blocks, whole = _both(root, monkeypatch, processes=2)
    assert by_blocks == whole and len(by_blocks) == 80
    bad = _repo(tmp_path / "bad", hosts.replace("h60:\n  groups: [edge]", "h60:\n  groups: [nope]"))
    by_blocks, whole = _both(bad, monkeypatch, processes=2)
    assert by_blocks == whole
    assert by_blocks[0] == InventoryError.__name__ and by_blocks[3] == 181


def test_split_refuses_what_a_block_cannot_mean_alone() -> None:
    assert split_blocks(b"r1:\n  data: {d: R&D, e: 2*3}\n") is not None  # not node properties
    assert split_blocks(b"r1:\n  data: {d: a *b}\n") is None  # could be: read whole (conservative)
    assert split_blocks(b"  r1: {}\n") is None
    assert split_blocks(b"%YAML 1.1\n---\nr1: {}\n") is None
    assert split_blocks(b"") is None


_names = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
_scalars = st.one_of(
    st.integers(-5, 70000),
    st.booleans(),
    st.sampled_from(["x", "10.0.0.1/24", "a b", "R&D", "'q'", "yes", "~", "1.5", "*", "-", "# no"]),
)


@st.composite
def _hosts_file(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for name in draw(st.lists(_names, min_size=1, max_size=6)):
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["# comment", "", "#", "   # indented comment"])))
        key = draw(st.sampled_from([name, f"'{name}'", f'"{name}"']))
        style = draw(st.sampled_from(["block", "flow", "indentless", "empty"]))
        values = draw(st.lists(_scalars, max_size=3))
        groups = draw(st.lists(st.sampled_from(["edge", "core", "nope"]), max_size=2, unique=True))
        rendered = [repr(v) if isinstance(v, str) else str(v).lower() for v in values]
        if style == "empty":
            lines.append(f"{key}:")
        elif style == "flow":
            lines.append(f"{key}: {{groups: [{', '.join(groups)}], data: {{v: [{', '.join(rendered)}]}}}}")
        elif style == "indentless":
            lines += [f"{key}:", "  groups:", *(f"  - {g}" for g in groups), "  data:", "    v:"]
            lines += [f"    - {v}" for v in rendered] or ["    - 0"]
        else:
            lines += [
                f"{key}:",
                f"  groups: [{', '.join(groups)}]",
                "  data:",
                f"    v: [{', '.join(rendered)}]",
            ]
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n# end\n"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_hosts_file())
def test_random_hosts_files_load_the_same_by_blocks(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    root = _repo(tmp_path_factory.mktemp("inv"), text)
    with pytest.MonkeyPatch.context() as monkeypatch:
        by_blocks, whole = _both(root, monkeypatch)
    assert by_blocks == whole
