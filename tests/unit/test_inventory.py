"""Inventory loading through Nornir: inheritance, located errors for every kind of bad input, selection."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netimmutable.errors import InputError, InventoryError
from netimmutable.inventory import host_name_problem, load_inventory, make_nornir, select_hosts
from netimmutable.repo import NetworkRepo

from .netrepo_helpers import SMALL_NETWORK, make_netrepo, run_cli, write_files

CASES_DIR = Path(__file__).parent / "data" / "inventory_errors"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
TEMPLATES = {k: v for k, v in SMALL_NETWORK.items() if k.startswith("templates/")}


def _case_repo(root: Path, case: str) -> NetworkRepo:
    repo = make_netrepo(root, TEMPLATES)
    for source in (CASES_DIR / case).glob("*.yaml"):
        shutil.copyfile(source, repo.inventory_dir / source.name)
    return repo


def _expected(case: str) -> list[str]:
    return (CASES_DIR / case / "expected.txt").read_text(encoding="utf-8").splitlines()


def test_there_are_error_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES)
def test_bad_inventory_is_refused_with_a_located_message(tmp_path: Path, case: str) -> None:
    repo = _case_repo(tmp_path / "net", case)
    with pytest.raises(InputError) as info:
        load_inventory(repo)
    message = str(info.value)
    first, *fragments = _expected(case)
    assert message.startswith(first), message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("case", CASES)
def test_bad_inventory_through_the_cli_writes_nothing(tmp_path: Path, case: str) -> None:
    root = tmp_path / "net"
    _case_repo(root, case)
    before = sorted(p.name for p in (root / "snapshots").iterdir())
    result = run_cli(["render", "--repo", str(root)])
    assert result.exit_code == 1
    assert f"error: {_expected(case)[0]}" in result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in (root / "snapshots").iterdir()) == before


def test_python_tag_is_never_executed(tmp_path: Path) -> None:
    marker = Path("/tmp/netimmutable-pwned")  # the file the python_tag case would create
    marker.unlink(missing_ok=True)
    repo = _case_repo(tmp_path / "net", "python_tag")
    with pytest.raises(InputError):
        load_inventory(repo)
    assert not marker.exists()


def test_missing_hosts_file(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net", TEMPLATES, remove=["inventory/hosts.yaml"])
    with pytest.raises(InventoryError, match=r"^inventory/hosts\.yaml: inventory file not found"):
        load_inventory(repo)


def test_groups_and_defaults_files_are_optional(tmp_path: Path) -> None:
    repo = make_netrepo(
        tmp_path / "net",
        {"inventory/hosts.yaml": "r1: {platform: demo}\n"},
        remove=["inventory/groups.yaml", "inventory/defaults.yaml"],
    )
    assert [h.name for h in load_inventory(repo).hosts()] == ["r1"]


def test_inheritance_is_nornirs(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    write_files(
        repo.root,
        {
            "inventory/groups.yaml": "core:\n  data: {role: core, tier: 1}\n"
            "edge:\n  platform: other\n  groups: [core]\n  data: {role: edge}\n",
            "inventory/hosts.yaml": "a1:\n  groups: [core]\n  data: {tier: 0}\n"
            "b2:\n  groups: [edge]\n"
            "c3:\n  groups: [edge, core]\n  platform: demo\n",
        },
    )
    loaded = load_inventory(repo)
    a1, b2, c3 = loaded.hosts()
    assert (a1["role"], a1["tier"], a1["domain"], a1.platform) == ("core", 0, "example.net", "demo")
    assert (b2["role"], b2["tier"], b2.platform) == (
        "edge",
        1,
        "other",
    )  # parent group's data, group platform
    assert (c3["role"], c3.platform) == ("edge", "demo")  # first group wins, host wins over groups
    assert b2.has_parent_group("core")
    assert loaded.line_of("b2") == 4
    assert loaded.hosts_file == "inventory/hosts.yaml"


def test_host_data_mappings_are_plain_and_key_sorted(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    write_files(repo.root, {"inventory/hosts.yaml": "a1:\n  data:\n    vlans: {20: b, 10: a}\n"})
    host = load_inventory(repo).hosts()[0]
    assert type(host["vlans"]) is dict
    assert list(host["vlans"].items()) == [("10", "a"), ("20", "b")]


def test_empty_credential_values_are_allowed(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    write_files(repo.root, {"inventory/hosts.yaml": "a1:\n  password: ''\n  data: {token: null}\n"})
    host = load_inventory(repo).hosts()[0]
    assert host.password is None  # never taken from a file; credentials come from the environment


def test_hosts_come_sorted_by_name(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    write_files(repo.root, {"inventory/hosts.yaml": "z9: {}\na1: {}\nm5: {}\n"})
    assert [h.name for h in load_inventory(repo).hosts()] == ["a1", "m5", "z9"]


# --- selection ---------------------------------------------------------------------------------------------


@pytest.fixture
def three_hosts(tmp_path: Path) -> NetworkRepo:
    repo = make_netrepo(tmp_path / "net")
    write_files(
        repo.root,
        {
            "inventory/groups.yaml": "core: {data: {role: core}}\nedge: {data: {role: edge}}\n",
            "templates/demo/main.j2": "hostname {{ host.name }}\n",
            "templates/other/main.j2": "hostname {{ host.name }}\n",
            "inventory/hosts.yaml": "a1: {groups: [core], data: {site: ber, managed: true}}\n"
            "b2: {groups: [edge], data: {site: ber, managed: false}}\n"
            "c3: {groups: [edge], platform: other, data: {site: muc, managed: true}}\n",
        },
    )
    return repo


def _names(
    repo: NetworkRepo, limit: tuple[str, ...] = (), filters: tuple[tuple[str, str], ...] = ()
) -> list[str]:
    return [h.name for h in select_hosts(load_inventory(repo), limit, filters)]


def test_selection(three_hosts: NetworkRepo) -> None:
    repo = three_hosts
    assert _names(repo) == ["a1", "b2", "c3"]
    assert _names(repo, ("c3", "a1", "c3")) == ["a1", "c3"]
    assert _names(repo, filters=(("site", "ber"),)) == ["a1", "b2"]
    assert _names(repo, filters=(("groups", "edge"),)) == ["b2", "c3"]
    assert _names(repo, filters=(("group", "core"),)) == ["a1"]
    assert _names(repo, filters=(("platform", "other"),)) == ["c3"]
    assert _names(repo, filters=(("name", "b2"),)) == ["b2"]
    assert _names(repo, filters=(("role", "edge"),)) == ["b2", "c3"]  # inherited data
    assert _names(repo, filters=(("managed", "True"),)) == ["a1", "c3"]
    assert _names(repo, filters=(("managed", "false"),)) == ["b2"]
    assert _names(repo, filters=(("site", "ber"), ("role", "edge"))) == ["b2"]
    assert _names(repo, ("a1", "c3"), (("managed", "true"),)) == ["a1", "c3"]
    assert _names(repo, filters=(("nosuchkey", "x"),)) == []


def test_unknown_host_in_limit(three_hosts: NetworkRepo) -> None:
    with pytest.raises(InventoryError) as info:
        select_hosts(load_inventory(three_hosts), ("a1", "zz", "yy"))
    assert "unknown host(s) in --limit: zz, yy" in str(info.value)
    assert "known hosts: a1, b2, c3" in str(info.value)


def test_make_nornir_holds_only_the_selected_hosts(three_hosts: NetworkRepo) -> None:
    loaded = load_inventory(three_hosts)
    nr = make_nornir(select_hosts(loaded, ("b2",)), loaded, workers=3)
    assert list(nr.inventory.hosts) == ["b2"]
    assert nr.inventory.hosts["b2"]["role"] == "edge"


def test_cli_limit_and_filter(three_hosts: NetworkRepo) -> None:
    root = str(three_hosts.root)
    result = run_cli(["render", "--repo", root, "--limit", "a1, c3"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (three_hosts.snapshots_dir).glob("*.cfg")) == ["a1.cfg", "c3.cfg"]
    result = run_cli(["render", "--repo", root, "--filter", "role=edge", "-f", "site=ber"])
    assert result.exit_code == 0
    assert "rendered 1 host(s)" in result.stdout
    assert (three_hosts.snapshots_dir / "b2.cfg").exists()


def test_cli_unknown_host_and_bad_filter(three_hosts: NetworkRepo) -> None:
    root = str(three_hosts.root)
    result = run_cli(["render", "--repo", root, "--limit", "a1,nope"])
    assert result.exit_code == 1
    assert "unknown host(s) in --limit: nope" in result.stderr
    assert not (three_hosts.snapshots_dir / "a1.cfg").exists()
    result = run_cli(["render", "--repo", root, "--filter", "role"])
    assert result.exit_code == 2
    assert "is not KEY=VALUE" in result.stderr


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab1._-@{}/ \\~^:?*[", min_size=1, max_size=12))
def test_every_accepted_host_name_is_a_git_ref_and_a_plain_file_name(name: str) -> None:
    """Issue 14 item 11: ``r1.lock``, ``a..b`` and ``x.`` passed the inventory; only deploy refused them."""
    if host_name_problem(name) is not None:
        return
    assert "/" not in name and not name.startswith((".", "-"))
    for ref in (f"refs/netimmutable/good/{name}", f"refs/netimmutable/leases/device-{name}"):
        done = subprocess.run(["git", "check-ref-format", ref], capture_output=True, check=False)
        assert done.returncode == 0, ref


def test_the_issue_fan_out_in_defaults_is_refused_with_the_file(tmp_path: Path) -> None:
    """Issue 14 item 6: a 1 MiB anchored string aliased 3,000 times in defaults.yaml (the inventory cache
    grew to 3 GB and died with a MemoryError traceback)."""
    big = "x" * (1024 * 1024)
    defaults = f"platform: demo\ndata:\n  big: &b {big}\n  fan: [{', '.join(['*b'] * 3000)}]\n"
    root = tmp_path / "net"
    make_netrepo(root)
    write_files(root, {"inventory/defaults.yaml": defaults})
    result = run_cli(["render", "--repo", str(root)])
    assert result.exit_code == 1
    assert "error: inventory/defaults.yaml:" in result.stderr and "Traceback" not in result.output
