"""Files stay inside the repository (issue 14, item 2): every file netimmutable reads from the repository
(settings, inventory, templates, snapshots) is a regular file, with no symbolic link on its way from the
repository root; a link is refused with the file named, before anything is rendered, written or pushed."""

from __future__ import annotations

from pathlib import Path

import pytest

from netimmutable.connections import prepare_hosts
from netimmutable.errors import InputError
from netimmutable.inventory import load_inventory
from netimmutable.render import refresh_snapshots, render_hosts
from netimmutable.repo import NetworkRepo, open_repo
from tests.unit.deploy.conftest import Net
from tests.unit.netrepo_helpers import make_netrepo, run_cli, snapshot_files

OUTSIDE = "ip route 0.0.0.0/0 192.0.2.66\n"


@pytest.fixture
def repo(tmp_path: Path) -> NetworkRepo:
    return make_netrepo(tmp_path / "net")


def _outside(tmp_path: Path, text: str = OUTSIDE) -> Path:
    target = tmp_path / "outside" / "file.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_text(text)
    return target


def _link(path: Path, target: Path) -> None:
    if path.exists() or path.is_symlink():
        path.unlink() if not path.is_dir() or path.is_symlink() else None
    path.symlink_to(target)


def test_the_issue_included_template_linked_outside_is_refused(net: Net, tmp_path: Path) -> None:
    """Issue 14: templates/frr/extra.j2 -> /tmp/outside.cfg, included from main.j2, was rendered and
    deployed to all four hosts while git held only the link."""
    before = {h: net.lab.running(h) for h in net.lab.hosts()}
    snapshots = snapshot_files(net.root)
    main = net.root / "templates" / "frr" / "main.j2"
    main.write_text(main.read_text().replace("end\n", '{% include "frr/extra.j2" %}\nend\n'))
    _link(net.root / "templates" / "frr" / "extra.j2", _outside(tmp_path))
    result = net.cli("render")
    assert result.exit_code == 1, result.output
    assert "templates/frr/extra.j2" in result.stderr and "symbolic link" in result.stderr
    assert "templates/frr/main.j2:" in result.stderr  # where it was included
    assert snapshot_files(net.root) == snapshots
    assert OUTSIDE not in "".join(s.decode() for s in snapshot_files(net.root).values())
    assert {h: net.lab.running(h) for h in net.lab.hosts()} == before


def test_a_linked_entry_template_and_a_linked_template_folder_are_refused(
    repo: NetworkRepo, tmp_path: Path
) -> None:
    main = repo.templates_dir / "demo" / "main.j2"
    _link(main, _outside(tmp_path, "hostname {{ host.name }}\n"))
    with pytest.raises(InputError) as info:
        render_hosts(repo, load_inventory(repo).hosts())
    assert info.value.file == "templates/demo/main.j2" and info.value.host == "a1"

    main.unlink()
    outside = tmp_path / "outside-templates"
    (repo.templates_dir / "demo").rename(outside)
    (repo.templates_dir / "demo").symlink_to(outside, target_is_directory=True)
    main_outside = outside / "main.j2"
    main_outside.write_text("hostname {{ host.name }}\n")
    with pytest.raises(InputError) as info:
        render_hosts(repo, load_inventory(repo).hosts())
    assert info.value.file is not None and info.value.file.startswith("templates/demo")


@pytest.mark.parametrize("name", ["hosts.yaml", "groups.yaml", "defaults.yaml"])
def test_linked_inventory_files_are_refused(repo: NetworkRepo, tmp_path: Path, name: str) -> None:
    path = repo.inventory_dir / name
    copy = _outside(tmp_path, path.read_text())
    load_inventory(repo)  # cached by bytes: the link must be refused even though the bytes are the same
    _link(path, copy)
    with pytest.raises(InputError) as info:
        load_inventory(repo)
    assert info.value.file == f"inventory/{name}" and "symbolic link" in info.value.message


def test_a_linked_inventory_folder_is_refused(repo: NetworkRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside-inventory"
    repo.inventory_dir.rename(outside)
    repo.inventory_dir.symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError) as info:
        load_inventory(repo)
    assert info.value.file is not None and info.value.file.startswith("inventory")


def test_linked_settings_are_refused(repo: NetworkRepo, tmp_path: Path) -> None:
    settings = repo.root / "netimmutable.yaml"
    _link(settings, _outside(tmp_path, settings.read_text()))
    with pytest.raises(InputError) as info:
        open_repo(repo.root)
    assert info.value.file == "netimmutable.yaml"
    result = run_cli(["render", "--repo", str(repo.root)])
    assert result.exit_code == 1 and "netimmutable.yaml" in result.stderr


def test_a_linked_snapshot_is_refused_and_not_read(repo: NetworkRepo, tmp_path: Path) -> None:
    refresh_snapshots(repo)
    target = _outside(tmp_path, (repo.snapshots_dir / "a1.cfg").read_text())
    _link(repo.snapshots_dir / "a1.cfg", target)
    result = run_cli(["render", "--check", "--repo", str(repo.root)])
    assert result.exit_code == 1, result.output
    assert "snapshots/a1.cfg" in result.stderr and "symbolic link" in result.stderr
    result = run_cli(["render", "--repo", str(repo.root)])
    assert result.exit_code == 1 and (repo.snapshots_dir / "a1.cfg").is_symlink()
    assert target.read_text().startswith("hostname a1")  # the target was not written either


@pytest.mark.parametrize("dangling", [False, True])
def test_a_linked_connections_file_is_refused_never_followed(
    repo: NetworkRepo, tmp_path: Path, dangling: bool
) -> None:
    """The connections file says where devices are: a link could send credentials to another address (or,
    dangling, silently mean "no settings"). Refused like every other file read from the repository."""
    target = _outside(tmp_path, "hosts:\n  a1:\n    hostname: 192.0.2.66\n")
    if dangling:
        target.unlink()
    repo.connections_file.parent.mkdir(parents=True, exist_ok=True)
    repo.connections_file.symlink_to(target)
    hosts = list(load_inventory(repo).hosts())
    with pytest.raises(InputError) as info:
        prepare_hosts(repo, hosts)
    assert info.value.file == ".netimmutable/connections.yaml" and "symbolic link" in info.value.message
    assert all(h.hostname != "192.0.2.66" for h in hosts)
