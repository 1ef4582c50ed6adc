"""Incremental render by dependency: after any edit, what the cache re-renders gives exactly a full render.

Each test edits one input and checks two things: which hosts were rendered again (the host whose data
changed, the hosts of a group, the hosts that loaded a template; nobody for a template nobody loads), and
that ``snapshots/`` is then byte for byte what a render from scratch (no cache) writes.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netimmutable import render_pool
from netimmutable.errors import RenderError
from netimmutable.render import refresh_snapshots
from netimmutable.repo import open_repo

FILES: dict[str, str] = {
    "netimmutable.yaml": "version: 1\n",
    "inventory/defaults.yaml": "data:\n  ntp: [10.0.0.1]\n  site: a\n",
    "inventory/groups.yaml": "edge:\n  data: {role: edge, mtu: 9000}\ncore:\n  data: {role: core}\n",
    "inventory/hosts.yaml": """\
r1:
  platform: frr
  groups: [edge]
  data: {asn: 65001}
r2:
  platform: frr
  groups: [edge]
  data: {asn: 65002, site: b}
r3:
  platform: frr
  groups: [core]
  data: {asn: 65003}
s1:
  platform: eos
  data: {asn: 65100}
""",
    "templates/frr/main.j2": """\
{% import "lib/macros.j2" as m %}
hostname {{ host.name }}
{{ m.ntp(ntp) }}
{% include "frr/bgp.j2" %}
{% include "frr/site-" ~ site ~ ".j2" ignore missing %}
{% if extra is defined %}{% include extra %}{% endif %}
""",
    "templates/frr/bgp.j2": "router bgp {{ asn }}\n{% if mtu is defined %} ! mtu {{ mtu }}\n{% endif %}",
    "templates/lib/macros.j2": "{% macro ntp(servers) %}{% for s in servers %}ntp server {{ s }}\n"
    "{% endfor %}{% endmacro %}",
    "templates/eos/main.j2": "hostname {{ host.name }}\nrouter bgp {{ asn }}\n",
    "templates/unused.j2": "nobody includes me\n",
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the hosts rendered (not taken from the cache), in order, by the renders of a test."""
    names: list[str] = []
    real = render_pool.render_one

    def counting(env: Any, host: Any, *args: Any) -> Any:
        names.append(host.name)
        return real(env, host, *args)

    monkeypatch.setattr(render_pool, "render_one", counting)
    yield names


def _snapshots(root: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes() for p in sorted((root / "snapshots").iterdir()) if not p.name.startswith(".")
    }


def _full(root: Path, tmp: Path) -> dict[str, bytes]:
    """What a render from scratch of ``root``'s inputs writes (in a copy, without any cache)."""
    copy = tmp / "scratch"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".netimmutable", "snapshots"))
    refresh_snapshots(open_repo(copy), processes=1)
    return _snapshots(copy)


def _render(root: Path, names: list[str]) -> list[str]:
    """Render incrementally; the hosts rendered again."""
    names.clear()
    refresh_snapshots(open_repo(root), processes=1)
    return sorted(names)


@pytest.fixture
def net(tmp_path: Path, rendered: list[str]) -> Path:
    root = tmp_path / "net"
    _write(root, FILES)
    assert _render(root, rendered) == ["r1", "r2", "r3", "s1"]
    assert _render(root, rendered) == []
    return root


def _edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text()
    assert old in text, (name, old)
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("name", "old", "new", "again"),
    [
        ("inventory/hosts.yaml", "asn: 65002", "asn: 65012", ["r2"]),
        ("inventory/hosts.yaml", "s1:\n", "# a comment moves every later line\ns1:\n", []),
        ("inventory/groups.yaml", "mtu: 9000", "mtu: 1500", ["r1", "r2"]),
        ("inventory/groups.yaml", "role: core", "role: spine", ["r3"]),
        ("inventory/defaults.yaml", "10.0.0.1", "10.0.0.9", ["r1", "r2", "r3", "s1"]),
        ("inventory/defaults.yaml", "site: a", "site: c", ["r1", "r3", "s1"]),  # r2 sets its own site
        ("templates/frr/bgp.j2", "router bgp", "router  bgp", ["r1", "r2", "r3"]),
        ("templates/lib/macros.j2", "ntp server", "ntp  server", ["r1", "r2", "r3"]),
        ("templates/eos/main.j2", "hostname", "hostname ", ["s1"]),
        ("templates/unused.j2", "nobody", "still nobody", []),
    ],
)
def test_an_edit_re_renders_exactly_the_hosts_it_reaches(
    net: Path, tmp_path: Path, rendered: list[str], name: str, old: str, new: str, again: list[str]
) -> None:
    _edit(net, name, old, new)
    assert _render(net, rendered) == again
    assert _snapshots(net) == _full(net, tmp_path)


def test_group_edit_that_changes_no_resolved_value_re_renders_nobody(
    net: Path, tmp_path: Path, rendered: list[str]
) -> None:
    _edit(net, "inventory/groups.yaml", "core:\n", "# core routers\ncore:\n")  # bytes change, data not
    _edit(net, "inventory/hosts.yaml", "{asn: 65003}", "{asn: 65003, role: core}")  # r3 restates it
    assert _render(net, rendered) == []
    assert _snapshots(net) == _full(net, tmp_path)


def test_a_template_newly_included_by_an_edit_is_tracked(
    net: Path, tmp_path: Path, rendered: list[str]
) -> None:
    _write(net, {"templates/frr/extra.j2": "! extra for {{ host.name }}\n"})
    assert _render(net, rendered) == []  # nobody loads it yet
    _edit(net, "inventory/hosts.yaml", "{asn: 65001}", "{asn: 65001, extra: frr/extra.j2}")
    assert _render(net, rendered) == ["r1"]
    _edit(net, "templates/frr/extra.j2", "! extra", "! more")
    assert _render(net, rendered) == ["r1"]
    assert "! more for r1" in (net / "snapshots" / "r1.cfg").read_text()
    assert _snapshots(net) == _full(net, tmp_path)


def test_a_template_looked_for_and_missing_is_tracked_when_it_appears(
    net: Path, tmp_path: Path, rendered: list[str]
) -> None:
    _write(net, {"templates/frr/site-b.j2": "! site b\n"})  # `ignore missing` include, r2's site
    assert _render(net, rendered) == ["r2"]
    _write(net, {"templates/frr/expect.j2": "- get_facts: {hostname: {{ host.name }}}\n"})
    assert _render(net, rendered) == ["r1", "r2", "r3"]  # the default expectations template appeared
    assert (net / "snapshots" / "r3.expect.yaml").is_file()
    assert _snapshots(net) == _full(net, tmp_path)


def test_a_deleted_template_fails_the_hosts_that_load_it_and_writes_nothing(
    net: Path, rendered: list[str]
) -> None:
    before = _snapshots(net)
    (net / "templates" / "frr" / "bgp.j2").unlink()
    with pytest.raises(RenderError) as caught:
        _render(net, rendered)
    assert caught.value.host == "r1"
    assert caught.value.file == "templates/frr/main.j2" and caught.value.line == 4
    assert "frr/bgp.j2" in caught.value.message and "3 host(s) failed" in caught.value.message
    assert _snapshots(net) == before
    _write(net, {"templates/frr/bgp.j2": FILES["templates/frr/bgp.j2"]})  # back as it was
    assert _render(net, rendered) == []
    _write(net, {"templates/frr/site-b.j2": "! deleted later\n"})
    assert _render(net, rendered) == ["r2"]
    (net / "templates" / "frr" / "site-b.j2").unlink()  # an `ignore missing` include deleted
    assert _render(net, rendered) == ["r2"]
    assert _snapshots(net) == before


def test_a_hand_edited_snapshot_is_rendered_again(net: Path, tmp_path: Path, rendered: list[str]) -> None:
    (net / "snapshots" / "r3.cfg").write_text("hostname hacked\n")
    assert _render(net, rendered) == ["r3"]
    assert _snapshots(net) == _full(net, tmp_path)


def test_a_host_moved_in_the_file_keeps_its_cache_and_its_line(net: Path, rendered: list[str]) -> None:
    hosts = net / "inventory" / "hosts.yaml"
    text = hosts.read_text()
    head, s1 = text.split("s1:\n")
    hosts.write_text("s1:\n" + s1 + head)
    assert _render(net, rendered) == []
    _edit(net, "inventory/hosts.yaml", "{asn: 65003}", "{asn: 65003, role: [x]}")
    _edit(net, "templates/frr/bgp.j2", "router bgp {{ asn }}", "router bgp {{ asn }}{{ role ~ '' }}")
    assert _render(net, rendered) == ["r1", "r2", "r3"]


# --- property: any sequence of edits renders what a full render does -----------------------------------

_EDITS: list[tuple[str, str, str]] = [
    ("inventory/hosts.yaml", "asn: 65001", "asn: 65011"),
    ("inventory/hosts.yaml", "asn: 65011", "asn: 65001"),
    ("inventory/hosts.yaml", "groups: [core]", "groups: [edge]"),
    ("inventory/hosts.yaml", "groups: [edge]\n  data: {asn: 65002", "groups: [core]\n  data: {asn: 65002"),
    ("inventory/groups.yaml", "mtu: 9000", "mtu: 9100"),
    ("inventory/groups.yaml", "role: core}", "role: core, mtu: 1400}"),
    ("inventory/defaults.yaml", "site: a", "site: b"),
    ("inventory/defaults.yaml", "site: b", "site: a"),
    ("templates/frr/bgp.j2", "router bgp", "router  bgp"),
    ("templates/lib/macros.j2", "ntp server", "ntp  server"),
    ("templates/frr/main.j2", "hostname {{ host.name }}", "hostname {{ host.name }} ! {{ role }}"),
    ("templates/eos/main.j2", "router bgp", "router  bgp"),
    ("templates/unused.j2", "nobody", "nobody at all"),
    ("snapshots/r1.cfg", "hostname", "hostname  "),
]


def _apply(root: Path, edit: tuple[str, str, str]) -> None:
    path = root / edit[0]
    text = path.read_text()
    if edit[1] in text:
        path.write_text(text.replace(edit[1], edit[2], 1))


def _site_template(root: Path, present: bool) -> None:
    path = root / "templates" / "frr" / "site-b.j2"
    if present:
        path.write_text("! site b\n")
    else:
        path.unlink(missing_ok=True)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.one_of(st.sampled_from(_EDITS), st.booleans()), min_size=1, max_size=5))
def test_random_edits_render_what_a_full_render_does(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, str, str] | bool]
) -> None:
    base = tmp_path_factory.mktemp("prop")
    root = base / "net"
    _write(root, FILES)
    refresh_snapshots(open_repo(root), processes=1)
    for step in steps:
        if isinstance(step, bool):
            _site_template(root, step)
        else:
            _apply(root, step)
        refresh_snapshots(open_repo(root), processes=1)
        assert _snapshots(root) == _full(root, base)


# --- parallel: the same files, the same errors ------------------------------------------------------------


def _many(root: Path, count: int, broken: tuple[int, ...] = ()) -> None:
    hosts = "".join(
        f"h{i:03d}:\n  platform: frr\n  groups: [{'edge' if i % 2 else 'core'}]\n"
        f"  data: {{asn: {65000 + i}{', ntp: oops' if i in broken else ''}}}\n"
        for i in range(count)
    )
    _write(root, {**FILES, "inventory/hosts.yaml": hosts})
    # a string of servers makes the macro loop over its characters: break it the located way instead
    _edit(root, "templates/lib/macros.j2", "{% for s in servers %}", "{% for s in servers.items() %}")
    _edit(root, "inventory/defaults.yaml", "ntp: [10.0.0.1]", "ntp: {a: 1}")


def test_parallel_render_writes_the_bytes_one_process_writes(tmp_path: Path) -> None:
    count = render_pool.POOL_MIN_HOSTS * 3
    one, two = tmp_path / "one", tmp_path / "two"
    _many(one, count)
    _many(two, count)
    refresh_snapshots(open_repo(one), processes=1)
    refresh_snapshots(open_repo(two), processes=2)
    assert _snapshots(one) == _snapshots(two)
    assert len(_snapshots(two)) == count


def test_parallel_render_fails_like_one_process_and_writes_nothing(tmp_path: Path) -> None:
    count = render_pool.POOL_MIN_HOSTS * 3
    broken = (5, 40, 41, count - 1)
    errors = []
    for processes in (1, 2):
        root = tmp_path / f"p{processes}"
        _many(root, count, broken)
        with pytest.raises(RenderError) as caught:
            refresh_snapshots(open_repo(root), processes=processes)
        errors.append((str(caught.value), caught.value.host, caught.value.file, caught.value.line))
        assert _snapshots(root) == {}
        assert not list((root / "snapshots").iterdir())  # no temporary file left either
    assert errors[0] == errors[1]
    assert errors[0][1] == "h005" and errors[0][2] == "templates/lib/macros.j2" and errors[0][3] == 1
    assert "4 host(s) failed" in errors[0][0]
    assert re.findall(r"host (h\d+)", errors[0][0]) == [f"h{i:03d}" for i in broken]  # host order
