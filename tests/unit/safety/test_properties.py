"""Property tests of the loaders of user input: whatever the bytes of ``netimmutable.yaml``,
``inventory/hosts.yaml``, ``groups.yaml``, ``defaults.yaml`` or ``.netimmutable/connections.yaml``, loading
either succeeds or raises an ``InputError`` (a located message, exit 1) — never another exception, never a
traceback, and never runs code (YAML tags that would call Python are refused, not executed).

Normalization properties are in tests/unit/test_normalize.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netimmutable.connections import prepare_hosts
from netimmutable.errors import InputError
from netimmutable.inventory import load_inventory
from netimmutable.repo import NetworkRepo, open_repo
from netimmutable.settings import load_settings
from netimmutable.yamlio import load_yaml, load_yaml_text

SENTINEL_NAME = "code-was-executed"

_SLOW_OK = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _fragments(sentinel: Path) -> list[str]:
    """Lines that make up hostile YAML: Python tags that would run code, aliases, merges, secrets..."""
    return [
        "r1:",
        "  hostname: 10.0.0.1",
        "  platform: frr",
        "  groups: [g1]",
        "  data:",
        "    asn: 65001",
        "    interfaces: [{name: eth1, address: 10.0.0.1/30}]",
        "g1:",
        "  data: {x: 1}",
        "  password: hunter2",
        "    secret: s3cret",
        "version: 1",
        "deploy: {workers: 0}",
        "deploy:",
        "  batch_size: -1",
        "  on_failure: sometimes",
        "secrets_command: [sh, -c]",
        "inventory_dir: ../../etc",
        "hosts:",
        "  r1: {hostname: 10.0.0.9, optional_args: {password: x}}",
        f"x: !!python/object/apply:os.system ['touch {sentinel}']",
        f"x: !!python/object/apply:subprocess.check_call [[touch, '{sentinel}']]",
        "x: !!python/name:os.system",
        "x: !!python/object:pathlib.Path {}",
        "x: !!binary aGVsbG8=",
        "x: !!set {a, b}",
        "x: !custom tag",
        "a: &a [x, x, x, x, x, x, x, x, x]",
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
        "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
        "<<: *a",
        "d: {<<: {k: 1}, k: 2}",
        "r1: dup",
        "? [complex, key]",
        ": value",
        "'../escape': 1",
        "r 1:",
        "-leading: 1",
        "e: \u0000\u0007\u001b[31m",
        "f: line\\nbreak",
        'g: "quoted \\x00 nul"',
        "h: |",
        "  block",
        "  scalar",
        "- list item",
        "[unclosed",
        "{unclosed: ",
        "%YAML 1.1",
        "---",
        "...",
        "\t tab: indent",
        "i: 1e999",
        "j: 0x1F",
        "k: .nan",
        "l: ~",
        "m: 2001-12-14t21:59:43.10-05:00",
        "n: " + "[" * 60 + "]" * 60,
    ]


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sentinel") / SENTINEL_NAME


@pytest.fixture(scope="module")
def repo_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("netrepo")
    (root / "netimmutable.yaml").write_text("version: 1\n")
    (root / "inventory").mkdir()
    (root / "inventory" / "hosts.yaml").write_text("r1: {platform: frr}\n")
    yield root


def _hostile_text(sentinel: Path) -> st.SearchStrategy[str]:
    lines = st.lists(st.sampled_from(_fragments(sentinel)) | st.text(max_size=40), max_size=25)
    return lines.map("\n".join)


def _yaml_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    keys = st.sampled_from(
        [
            "hostname",
            "platform",
            "groups",
            "data",
            "port",
            "username",
            "password",
            "connection_options",
            "r1",
            "g1",
            "version",
            "deploy",
            "verify",
            "workers",
            "secrets_file",
            "inventory_dir",
            "hosts",
            "optional_args",
        ]
    ) | st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
        max_leaves=25,
    )


def _inputs(sentinel: Path) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, hostile YAML built from fragments (any encoding mishap included), and valid YAML of
    arbitrary structure."""
    return st.one_of(
        st.binary(max_size=300),
        _hostile_text(sentinel).map(lambda t: t.encode("utf-8", "surrogatepass")),
        _hostile_text(sentinel).map(lambda t: t.encode("utf-16")),
        _yaml_values().map(lambda v: yaml.safe_dump(v, allow_unicode=True).encode()),
    )


def _only_input_errors(call: Any) -> None:
    try:
        call()
    except InputError as exc:
        assert str(exc)  # a message a person reads, never empty
        assert "Traceback" not in str(exc)


# ------------------------------------------------------------------------ the YAML layer
@_SLOW_OK
@given(data=st.data())
def test_yaml_text_loads_or_raises_input_error(data: st.DataObject, sentinel: Path) -> None:
    text = data.draw(_hostile_text(sentinel) | st.text(max_size=300))
    _only_input_errors(lambda: load_yaml_text(text, "x.yaml"))
    assert not sentinel.exists()


@_SLOW_OK
@given(data=st.data())
def test_yaml_files_of_any_bytes_load_or_raise_input_error(
    data: st.DataObject, sentinel: Path, tmp_path: Path
) -> None:
    path = tmp_path / "any.yaml"
    path.write_bytes(data.draw(_inputs(sentinel)))
    _only_input_errors(lambda: load_yaml(path, "any.yaml"))
    assert not sentinel.exists()


# ------------------------------------------------------------------------ settings
@_SLOW_OK
@given(data=st.data())
def test_settings_of_any_bytes_load_or_raise_input_error(
    data: st.DataObject, sentinel: Path, repo_root: Path
) -> None:
    (repo_root / "netimmutable.yaml").write_bytes(data.draw(_inputs(sentinel)))
    _only_input_errors(lambda: load_settings(repo_root))
    assert not sentinel.exists()


# ------------------------------------------------------------------------ inventory and connections
@_SLOW_OK
@given(data=st.data(), name=st.sampled_from(["hosts.yaml", "groups.yaml", "defaults.yaml"]))
def test_inventory_files_of_any_bytes_load_or_raise_input_error(
    data: st.DataObject, name: str, sentinel: Path, repo_root: Path
) -> None:
    (repo_root / "netimmutable.yaml").write_text("version: 1\n")
    inventory = repo_root / "inventory"
    for other in ("hosts.yaml", "groups.yaml", "defaults.yaml"):
        (inventory / other).write_text("r1: {platform: frr}\n" if other == "hosts.yaml" else "")
    (inventory / name).write_bytes(data.draw(_inputs(sentinel)))
    repo = open_repo(repo_root)

    def load() -> None:
        loaded = load_inventory(repo)
        for host in loaded.hosts():  # the loaded data is plain and usable
            assert isinstance(host.name, str) and host.platform
            host.data.items()

    _only_input_errors(load)
    assert not sentinel.exists()


@_SLOW_OK
@given(data=st.data())
def test_connections_file_of_any_bytes_loads_or_raises_input_error(
    data: st.DataObject, sentinel: Path, repo_root: Path
) -> None:
    (repo_root / "netimmutable.yaml").write_text("version: 1\n")
    (repo_root / "inventory" / "hosts.yaml").write_text("r1: {platform: frr}\n")
    for name in ("groups.yaml", "defaults.yaml"):
        (repo_root / "inventory" / name).write_text("")
    local = repo_root / ".netimmutable"
    local.mkdir(exist_ok=True)
    (local / "connections.yaml").write_bytes(data.draw(_inputs(sentinel)))
    repo: NetworkRepo = open_repo(repo_root)
    hosts = list(load_inventory(repo).hosts())

    _only_input_errors(lambda: prepare_hosts(repo, hosts))
    assert not sentinel.exists()


def test_the_code_execution_fragments_are_real_exploits(tmp_path: Path) -> None:
    """The sentinel checks above can fail: an unsafe YAML loader does run these fragments."""
    target = tmp_path / SENTINEL_NAME
    exploit = next(f for f in _fragments(target) if "os.system" in f and "touch" in f)
    with pytest.raises(InputError, match="tag not allowed"):
        load_yaml_text(exploit, "x.yaml")
    assert not target.exists()
    yaml.unsafe_load(exploit)  # what a naive loader would do
    assert target.exists()
