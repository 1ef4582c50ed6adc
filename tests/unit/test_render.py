"""Rendering: context, includes and macros, strictness, the sandbox, located errors, all-or-nothing writes,
determinism, expectations, and ``render --check``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netimmutable.errors import RenderError
from netimmutable.inventory import load_inventory
from netimmutable.render import RenderedHost, compare_snapshots, render_hosts, write_snapshots
from netimmutable.repo import NetworkRepo

from .netrepo_helpers import SMALL_NETWORK, make_netrepo, run_cli, snapshot_files, write_files

A1_CONFIG = """\
hostname a1
domain example.net
! role core
ntp server 10.0.0.1
ntp server 10.0.0.2
interface eth1
 ip address 10.0.12.1 255.255.255.252
 ! peer 10.0.12.2 in 10.0.12.0/30
interface lo
 ip address 10.1.0.1/32
end
"""


def _render(repo: NetworkRepo) -> tuple[RenderedHost, ...]:
    return render_hosts(repo, load_inventory(repo).hosts())


def _render_error(repo: NetworkRepo) -> RenderError:
    with pytest.raises(RenderError) as info:
        _render(repo)
    return info.value


@pytest.fixture
def repo(tmp_path: Path) -> NetworkRepo:
    return make_netrepo(tmp_path / "net")


def test_render_with_include_macro_filters_and_inheritance(repo: NetworkRepo) -> None:
    a1, b2 = _render(repo)
    assert (a1.name, a1.platform, a1.template, a1.expect_template) == (
        "a1",
        "demo",
        "demo/main.j2",
        "demo/expect.j2",
    )
    assert a1.config == A1_CONFIG
    assert "ntp server 10.0.0.3\n" in b2.config and "! role edge\n" in b2.config
    assert a1.expectations == "- get_facts:\n    hostname: a1\n"
    assert a1.files() == {"a1.cfg": A1_CONFIG, "a1.expect.yaml": a1.expectations}


def test_context_has_host_view_and_data_keys(repo: NetworkRepo) -> None:
    write_files(
        repo.root,
        {
            "templates/demo/main.j2": "{{ host.name }} {{ host.hostname }} {{ host.platform }} "
            "{{ host.groups | join(',') }} "
            "{{ host['role'] }} {{ role }} {{ domain }}\n"
        },
    )
    assert _render(repo)[0].config == "a1 192.0.2.1 demo core core core example.net\n"


def test_entry_template_from_host_data_and_trailing_newline(repo: NetworkRepo) -> None:
    write_files(
        repo.root,
        {
            "inventory/hosts.yaml": "a1:\n  data: {template: special/a1.j2}\n",
            "templates/special/a1.j2": "no newline at the end",
        },
    )
    (a1,) = _render(repo)
    assert a1.template == "special/a1.j2"
    assert a1.config == "no newline at the end\n"


def test_expectations_only_when_the_platform_has_a_template(repo: NetworkRepo) -> None:
    (repo.templates_dir / "demo" / "expect.j2").unlink()
    a1, _ = _render(repo)
    assert (a1.expectations, a1.expect_template) == (None, None)
    assert a1.files() == {"a1.cfg": A1_CONFIG}


def test_expect_template_from_host_data(repo: NetworkRepo) -> None:
    write_files(
        repo.root,
        {
            "inventory/hosts.yaml": "a1:\n  data: {expect_template: checks/a1.j2}\n",
            "templates/demo/main.j2": "x\n",
            "templates/checks/a1.j2": "- get_bgp_neighbors: {}",
        },
    )
    (a1,) = _render(repo)
    assert (a1.expect_template, a1.expectations) == ("checks/a1.j2", "- get_bgp_neighbors: {}\n")


def test_missing_explicit_expect_template_is_an_error(repo: NetworkRepo) -> None:
    write_files(
        repo.root,
        {
            "inventory/hosts.yaml": "a1:\n  data: {expect_template: checks/nope.j2}\n",
            "templates/demo/main.j2": "x\n",
        },
    )
    err = _render_error(repo)
    assert err.host == "a1"
    assert "template not found: checks/nope.j2" in err.message


def test_missing_entry_template_says_what_to_create(repo: NetworkRepo) -> None:
    write_files(repo.root, {"inventory/hosts.yaml": "a1: {platform: eos}\n"})
    err = _render_error(repo)
    assert err.host == "a1"
    assert "entry template templates/eos/main.j2 not found" in err.message
    assert "create templates/eos/main.j2" in err.message


@pytest.mark.parametrize("name", ["../outside.j2", "/etc/passwd", "demo/../../x.j2"])
def test_template_paths_must_stay_inside_templates(repo: NetworkRepo, name: str) -> None:
    write_files(repo.root, {"inventory/hosts.yaml": f"a1:\n  data: {{template: '{name}'}}\n"})
    err = _render_error(repo)
    assert err.host == "a1"
    assert "must be a path inside templates/" in err.message


def test_undefined_variable_names_host_template_and_line(repo: NetworkRepo) -> None:
    write_files(
        repo.root, {"templates/demo/main.j2": "hostname {{ host.name }}\n!\nsnmp {{ snmp_community }}\n"}
    )
    err = _render_error(repo)
    assert (err.host, err.file, err.line) == ("a1", "templates/demo/main.j2", 3)
    assert "undefined variable" in err.message and "snmp_community" in err.message
    assert str(err).startswith("templates/demo/main.j2:3, host a1: ")
    assert "2 host(s) failed" in err.message and "host b2" in err.message


def test_undefined_attribute_is_strict_too(repo: NetworkRepo) -> None:
    write_files(repo.root, {"templates/demo/links.j2": "{% for l in links %}\n{{ l.vlan }}\n{% endfor %}\n"})
    err = _render_error(repo)
    assert (err.file, err.line) == ("templates/demo/links.j2", 2)
    assert "vlan" in err.message


def test_error_inside_a_macro_is_located_in_the_macro_file(repo: NetworkRepo) -> None:
    write_files(
        repo.root,
        {"templates/demo/macros.j2": "{% macro loopback(addr) %}\n\n{{ addr | nosuch }}\n{% endmacro %}\n"},
    )
    err = _render_error(repo)
    assert err.file == "templates/demo/macros.j2"
    assert "nosuch" in err.message


def test_runtime_error_inside_a_macro_is_located_in_the_macro_file(repo: NetworkRepo) -> None:
    write_files(
        repo.root,
        {"templates/demo/macros.j2": "{% macro loopback(addr) %}\n\n{{ undefined_thing }}\n{% endmacro %}\n"},
    )
    err = _render_error(repo)
    assert (err.file, err.line) == ("templates/demo/macros.j2", 3)


def test_syntax_error_is_located(repo: NetworkRepo) -> None:
    write_files(repo.root, {"templates/demo/links.j2": "ok\n{% for l in links %}\nno endfor\n"})
    err = _render_error(repo)
    assert err.file == "templates/demo/links.j2"
    assert err.line is not None and err.line >= 2
    assert "template syntax error" in err.message


def test_missing_include_is_named(repo: NetworkRepo) -> None:
    write_files(repo.root, {"templates/demo/main.j2": "a\n{% include 'demo/nope.j2' %}\n"})
    err = _render_error(repo)
    assert "template not found: demo/nope.j2" in err.message
    assert err.host == "a1"


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__",
        "''.__class__.__mro__[1].__subclasses__()",
        "host.__init__.__globals__",
        "lipsum.__globals__['os']",
        "cycler.__init__.__globals__.os.popen('id').read()",
        "host.__class__.__base__.__subclasses__()",
    ],
)
def test_sandbox_escapes_are_refused_and_located(repo: NetworkRepo, expression: str) -> None:
    write_files(repo.root, {"templates/demo/main.j2": "hostname {{ host.name }}\n{{ " + expression + " }}\n"})
    err = _render_error(repo)
    assert (err.host, err.file, err.line) == ("a1", "templates/demo/main.j2", 2)
    assert "unsafe" in err.message or "sandbox" in err.message or "undefined" in err.message
    assert not (repo.snapshots_dir / "a1.cfg").exists()


def test_sandbox_limits_ranges(repo: NetworkRepo) -> None:
    write_files(repo.root, {"templates/demo/main.j2": "{% for i in range(10**9) %}{% endfor %}\n"})
    err = _render_error(repo)
    assert err.host == "a1" and err.file == "templates/demo/main.j2"


def test_secret_renders_a_placeholder_and_bad_names_fail(repo: NetworkRepo) -> None:
    write_files(repo.root, {"templates/demo/main.j2": "password {{ secret('bgp/' ~ host.name) }}\n"})
    assert _render(repo)[0].config == "password <<secret:bgp/a1>>\n"
    write_files(repo.root, {"templates/demo/main.j2": "password {{ secret('bad name') }}\n"})
    err = _render_error(repo)
    assert "secret name 'bad name'" in err.message and err.line == 1


def test_nothing_is_written_when_one_host_fails(repo: NetworkRepo) -> None:
    assert run_cli(["render", "--repo", str(repo.root)]).exit_code == 0
    before = snapshot_files(repo.root)
    write_files(
        repo.root,
        {
            "inventory/hosts.yaml": SMALL_NETWORK["inventory/hosts.yaml"].replace(
                "10.1.0.1/32", "10.1.0.9/32"
            )
            + "c3:\n  data: {links: [], loopback: not-an-address}\n"
        },
    )
    result = run_cli(["render", "--repo", str(repo.root)])
    assert result.exit_code == 1
    assert "templates/demo/main.j2:4, host c3: undefined variable" in result.stderr
    assert snapshot_files(repo.root) == before  # a1 changed too, but is not written either


def test_every_failing_host_is_listed(repo: NetworkRepo) -> None:
    write_files(repo.root, {"inventory/groups.yaml": "core: {}\nedge: {}\n"})
    result = run_cli(["render", "--repo", str(repo.root)])
    assert result.exit_code == 1
    assert "2 host(s) failed; nothing was written" in result.stderr
    assert "host a1" in result.stderr and "host b2" in result.stderr
    assert not list((repo.snapshots_dir).glob("*.cfg"))


def test_render_writes_files_and_a_second_render_changes_nothing(repo: NetworkRepo) -> None:
    result = run_cli(["render", "--repo", str(repo.root)])
    assert result.exit_code == 0
    assert "rendered 2 host(s); 4 file(s) changed" in result.stdout
    first = snapshot_files(repo.root)
    assert sorted(first) == ["a1.cfg", "a1.expect.yaml", "b2.cfg", "b2.expect.yaml"]
    assert first["a1.cfg"] == A1_CONFIG.encode()
    result = run_cli(["render", "--repo", str(repo.root)])
    assert "0 file(s) changed" in result.stdout
    assert snapshot_files(repo.root) == first
    assert not [p for p in repo.snapshots_dir.iterdir() if p.name.endswith(".tmp")]


def test_render_is_byte_identical_across_repos_and_input_order(tmp_path: Path) -> None:
    one = make_netrepo(tmp_path / "one")
    two_files = dict(SMALL_NETWORK)
    # same meaning, different order: groups, keys inside groups, hosts, keys inside host data
    two_files["inventory/groups.yaml"] = """\
edge:
  data:
    ntp: [10.0.0.3]
    role: edge
core:
  data:
    ntp: [10.0.0.1, 10.0.0.2]
    role: core
"""
    two_files["inventory/hosts.yaml"] = """\
b2:
  data:
    links:
      - {address: 10.0.12.2/30, name: eth1}
    loopback: 10.1.0.2/32
  groups: [edge]
  hostname: 192.0.2.2
a1:
  data:
    links:
      - {address: 10.0.12.1/30, name: eth1}
    loopback: 10.1.0.1/32
  groups: [core]
  hostname: 192.0.2.1
"""
    two = make_netrepo(tmp_path / "two", two_files)
    for r in (one, two):
        assert run_cli(["render", "--repo", str(r.root)]).exit_code == 0
    assert snapshot_files(one.root) == snapshot_files(two.root)
    again = {name: content for item in _render(one) for name, content in item.files().items()}
    assert {k: v.encode() for k, v in again.items()} == snapshot_files(one.root)


def test_iterating_a_mapping_does_not_depend_on_yaml_key_order(tmp_path: Path) -> None:
    template = "{% for name, vlan in vlans.items() %}vlan {{ vlan.id }} name {{ name }}\n{% endfor %}"
    outputs = []
    for index, hosts in enumerate(
        [
            "a1:\n  data:\n    vlans:\n      users: {id: 10}\n      voice: {id: 20}\n",
            "a1:\n  data:\n    vlans:\n      voice: {id: 20}\n      users: {id: 10}\n",
        ]
    ):
        repo = make_netrepo(
            tmp_path / str(index),
            {
                "inventory/defaults.yaml": "platform: demo\n",
                "inventory/hosts.yaml": hosts,
                "templates/demo/main.j2": template,
            },
        )
        outputs.append(_render(repo)[0].config)
    assert outputs[0] == outputs[1] == "vlan 10 name users\nvlan 20 name voice\n"


def test_templates_with_crlf_line_endings_render_lf(repo: NetworkRepo) -> None:
    write_files(repo.root, {"templates/demo/main.j2": "hostname {{ host.name }}\r\nend\r\n"})
    assert _render(repo)[0].config == "hostname a1\nend\n"


def test_compare_and_write_snapshots(repo: NetworkRepo) -> None:
    rendered = _render(repo)
    all_hosts = ["a1", "b2"]
    status = compare_snapshots(repo, rendered, all_hosts)
    assert status.missing == ("a1.cfg", "a1.expect.yaml", "b2.cfg", "b2.expect.yaml")
    assert not status.current
    assert write_snapshots(repo, rendered, status) == 4
    assert compare_snapshots(repo, rendered, all_hosts).current
    (repo.snapshots_dir / "a1.cfg").write_text("edited by hand\n")
    (repo.snapshots_dir / "gone.cfg").write_text("old host\n")
    (repo.snapshots_dir / "gone.expect.yaml").write_text("[]\n")
    (repo.snapshots_dir / "notes.txt").write_text("not an artifact\n")
    status = compare_snapshots(repo, rendered, all_hosts)
    assert (status.stale, status.missing, status.orphaned) == (
        ("a1.cfg",),
        (),
        ("gone.cfg", "gone.expect.yaml"),
    )
    assert compare_snapshots(repo, rendered, None).orphaned == ()  # a limited render does not judge orphans
    assert write_snapshots(repo, rendered, status) == 3
    assert sorted(snapshot_files(repo.root)) == [
        "a1.cfg",
        "a1.expect.yaml",
        "b2.cfg",
        "b2.expect.yaml",
        "notes.txt",
    ]
    assert (repo.snapshots_dir / "a1.cfg").read_text() == A1_CONFIG


# --- render --check ----------------------------------------------------------------------------------------


def test_check_lists_stale_missing_and_orphaned_and_writes_nothing(repo: NetworkRepo) -> None:
    root = str(repo.root)
    assert run_cli(["render", "--repo", root]).exit_code == 0
    (repo.snapshots_dir / "a1.cfg").write_text("stale\n")
    (repo.snapshots_dir / "b2.expect.yaml").unlink()
    (repo.snapshots_dir / "old.cfg").write_text("orphan\n")
    before = snapshot_files(repo.root)
    result = run_cli(["render", "--check", "--repo", root])
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert "stale     snapshots/a1.cfg" in lines
    assert "missing   snapshots/b2.expect.yaml" in lines
    assert "orphaned  snapshots/old.cfg" in lines
    assert "not current" in result.stdout
    assert snapshot_files(repo.root) == before
    result = run_cli(["render", "--check", "--format", "json", "--repo", root])
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report == {
        "hosts": 2,
        "check": True,
        "current": False,
        "stale": ["a1.cfg"],
        "missing": ["b2.expect.yaml"],
        "orphaned": ["old.cfg"],
        "written": 0,
        "warnings": [],  # no FRR host: no lines FRR never shows
    }


def test_check_is_zero_when_current(repo: NetworkRepo) -> None:
    root = str(repo.root)
    assert run_cli(["render", "--check", "--repo", root]).exit_code == 3  # nothing rendered yet
    assert run_cli(["render", "--repo", root]).exit_code == 0
    result = run_cli(["render", "--check", "--repo", root])
    assert result.exit_code == 0
    assert "snapshots are current (2 host(s))" in result.stdout


def test_check_sees_an_input_change(repo: NetworkRepo) -> None:
    root = str(repo.root)
    assert run_cli(["render", "--repo", root]).exit_code == 0
    hosts = repo.inventory_dir / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("10.1.0.2/32", "10.1.0.22/32"))
    result = run_cli(["render", "--check", "--repo", root])
    assert result.exit_code == 3
    assert "stale     snapshots/b2.cfg" in result.stdout.splitlines()
    assert "a1.cfg" not in result.stdout


def test_check_with_limit_does_not_call_other_hosts_orphans(repo: NetworkRepo) -> None:
    root = str(repo.root)
    assert run_cli(["render", "--repo", root, "--limit", "a1"]).exit_code == 0
    assert run_cli(["render", "--check", "--repo", root, "--limit", "a1"]).exit_code == 0
    result = run_cli(["render", "--check", "--repo", root])
    assert result.exit_code == 3
    assert "missing   snapshots/b2.cfg" in result.stdout.splitlines()


def test_check_fails_with_exit_1_on_a_render_error(repo: NetworkRepo) -> None:
    write_files(repo.root, {"templates/demo/main.j2": "{{ nope }}\n"})
    result = run_cli(["render", "--check", "--repo", str(repo.root)])
    assert result.exit_code == 1
    assert "templates/demo/main.j2:1" in result.stderr
