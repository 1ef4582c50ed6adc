"""The template context is data (issue 14, item 1): nothing a template can reach touches a connection, a
file, the environment or the process.

The walk starts from every object a template can name (its context, the environment's globals, and the
objects Jinja itself hands a template: ``self``, a macro, ``loop``, helper instances) and follows every
attribute the sandbox lets through, every mapping value and every item, as a template would.
"""

from __future__ import annotations

import datetime
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netimmutable.errors import RenderError
from netimmutable.inventory import load_inventory
from netimmutable.render import make_environment, render_hosts
from netimmutable.sandbox import DOCUMENTED_GLOBALS, HostView, template_context
from tests.unit.deploy.conftest import Net
from tests.unit.netrepo_helpers import make_netrepo, write_files

_DATA = (str, int, float, bool, type(None), bytes, dict, list, tuple, set, frozenset, range, slice)
_DATA += (types.MappingProxyType, datetime.date, datetime.datetime, datetime.time, datetime.timedelta)
_DATA += (datetime.timezone,)
_HELPER_MODULES = ("jinja2.runtime", "jinja2.utils", "netimmutable.sandbox", "netimmutable.secretref")
_CALLABLE_TYPES = (
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    property,
)


def _allowed(obj: Any) -> bool:
    """Plain data, a method of plain data, or a helper of Jinja's or netimmutable's template helpers."""
    if isinstance(obj, (*_DATA, HostView)) or any(obj is t for t in (*_DATA, HostView)):
        return True
    if isinstance(obj, type) and obj.__module__ in _HELPER_MODULES:
        return True
    if isinstance(obj, _CALLABLE_TYPES):
        owner = getattr(obj, "__self__", None) or getattr(obj, "__objclass__", None)
        return owner is None or _allowed(owner)
    if isinstance(obj, types.MethodType):
        return _allowed(obj.__self__)
    if isinstance(obj, types.FunctionType):
        module = getattr(obj, "__module__", "") or ""
        return module in _HELPER_MODULES or module.startswith("jinja2")
    return type(obj).__module__ in _HELPER_MODULES


def _walk(env: Any, roots: dict[str, Any], depth: int = 7) -> Iterator[tuple[str, Any]]:
    """Every (path, object) a template reaches from ``roots`` by attribute, key and item."""
    seen: set[int] = set()
    stack: list[tuple[str, Any, int]] = [(name, obj, 0) for name, obj in roots.items()]
    while stack:
        path, obj, level = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield path, obj
        if level >= depth or isinstance(obj, (str, bytes)):
            continue
        for name in dir(obj):
            try:
                value = getattr(obj, name)
            except Exception:  # noqa: BLE001, S112 - what raises cannot be reached either
                continue
            if env.is_safe_attribute(obj, name, value):
                stack.append((f"{path}.{name}", value, level + 1))
        if isinstance(obj, (dict, HostView)):
            stack.extend((f"{path}[{k!r}]", obj[k], level + 1) for k in obj)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend((f"{path}[{i}]", v, level + 1) for i, v in enumerate(obj))


def test_every_object_a_template_reaches_is_data_or_a_documented_helper(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    write_files(repo.root, {"inventory/hosts.yaml": "a1:\n  hostname: 192.0.2.1\n  groups: [core]\n"})
    host = load_inventory(repo).hosts()[0]
    env = make_environment(repo.templates_dir)
    assert set(env.globals) == set(DOCUMENTED_GLOBALS), "a new template global must be documented"
    caught: dict[str, Any] = {}
    env.globals["probe"] = lambda **objects: caught.update(objects) or ""
    env.from_string(
        "{% macro m() %}{% endmacro %}{% for x in [1] %}{{ probe(self=self, macro=m, loop=loop, "
        "cycler=cycler(1), joiner=joiner(), ns=namespace(a=1)) }}{% endfor %}"
    ).render(template_context(host))
    roots = {**template_context(host), **DOCUMENTED_GLOBALS, **caught}
    reached = dict(_walk(env, roots))
    assert "host.name" in reached and "host['role']" in reached  # the walk goes where templates go
    bad = {path: type(obj).__qualname__ for path, obj in reached.items() if not _allowed(obj)}
    assert bad == {}


def test_host_view_is_the_documented_read_only_data(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    view = template_context(load_inventory(repo).hosts()[0])["host"]
    assert (view.name, view.hostname, view.platform, view.groups) == ("a1", "192.0.2.1", "demo", ("core",))
    assert view["role"] == "core" and view["domain"] == "example.net" and "ntp" in view
    with pytest.raises(AttributeError):
        view.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "expression",
    [
        "host.connections",
        "host.defaults",
        "host.get_connection('napalm', none)",
        "host.extended_data()",
    ],
)
def test_host_methods_that_reach_connections_are_not_there(tmp_path: Path, expression: str) -> None:
    repo = make_netrepo(tmp_path / "net")
    write_files(repo.root, {"templates/demo/main.j2": f"x\n{{{{ {expression} }}}}\n"})
    with pytest.raises(RenderError) as info:
        render_hosts(repo, load_inventory(repo).hosts())
    assert (info.value.file, info.value.line) == ("templates/demo/main.j2", 2)


def test_the_issue_exploit_fails_without_touching_any_device(net: Net) -> None:
    """The template of issue 14 opened a session to r1 and committed on it while r3 was rendered."""
    lab_dir = str(net.lab.root)
    before = {h: net.lab.running(h) for h in net.lab.hosts()}
    main = net.root / "templates" / "frr" / "main.j2"
    main.write_text(
        "{% set c = host.open_connection('napalm', none, hostname='r1', platform='sim', "
        f"extras={{'optional_args': {{'lab_dir': '{lab_dir}'}}}}) %}}"
        "{% set d = host.connections['napalm'].connection %}"
        "{% set _ = d.load_merge_candidate(config='ip route 0.0.0.0/0 blackhole') %}"
        "{% set _ = d.commit_config() %}\n" + main.read_text()
    )
    result = net.cli("render", "--check", "--limit", "r3")
    assert {h: net.lab.running(h) for h in net.lab.hosts()} == before
    assert result.exit_code == 1, result.output
    assert "templates/frr/main.j2:1" in result.output and "r3" in result.output


_ROOTS = [
    "host",
    "host.name",
    "host.groups",
    "host['role']",
    "ntp",
    "role",
    "range(3)",
    "dict(a=1)",
    "'x'",
    "7",
]
_SUFFIXES = [
    "", ".__class__", ".items()", ".open_connection()", ".connections", ".data", ".get('role')",
    "|list", "|join(',')", "|center(99999)", "|format(1)", "[0]", " * 99999999", " ** 999999", ".format(1)",
    "|attr('__init__')", ".upper()", "|string|length", " ~ lipsum(2)", ".mro()", ".replace('', 'y' * 9999)",
]  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_ROOTS), st.sampled_from(_SUFFIXES), st.sampled_from(_SUFFIXES)),
                min_size=1, max_size=4))  # fmt: skip
def test_any_expression_renders_or_is_a_located_render_error(
    tmp_path_factory: pytest.TempPathFactory, parts: list[tuple[str, str, str]]
) -> None:
    """The sandbox fuzzed: whatever a template chains from the context, the render returns data or
    fails with a RenderError naming host and template file; nothing else escapes, nothing is slow."""
    repo = make_netrepo(tmp_path_factory.mktemp("fuzz") / "net")
    body = "".join(f"{{{{ ({root}){a}{b} }}}}\n" for root, a, b in parts)
    write_files(repo.root, {"templates/demo/main.j2": body})
    started = time.monotonic()
    try:
        rendered = render_hosts(repo, load_inventory(repo).hosts())
    except RenderError as exc:
        assert exc.host in ("a1", "b2") and exc.file is not None and exc.file.startswith("templates/")
    else:
        assert all(len(item.config) <= repo.settings.render.max_output_bytes for item in rendered)
    assert time.monotonic() - started < 10
