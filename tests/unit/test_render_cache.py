"""The local render cache (inventory + per-host artifacts) never changes what render returns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from netimmutable.inventory import load_inventory
from netimmutable.render import compare_snapshots, render_hosts, write_snapshots
from netimmutable.repo import open_repo

HOSTS = """\
r1:
  platform: frr
  data: {asn: 65001, peers: [10.0.0.2, 10.0.0.6]}
r2:
  platform: frr
  groups: [edge]
  data: {asn: 65002, peers: [10.0.0.1]}
"""
GROUPS = "edge:\n  data: {role: edge}\n"
MAIN = "hostname {{ host.name }}\n{% for p in peers %}neighbor {{ p }} remote-as {{ asn }}\n{% endfor %}"


def _repo(root: Path) -> Path:
    (root / "inventory").mkdir(parents=True)
    (root / "templates" / "frr").mkdir(parents=True)
    (root / "netimmutable.yaml").write_text("version: 1\n")
    (root / "inventory" / "hosts.yaml").write_text(HOSTS)
    (root / "inventory" / "groups.yaml").write_text(GROUPS)
    (root / "templates" / "frr" / "main.j2").write_text(MAIN)
    return root


def _render(root: Path) -> dict[str, str]:
    repo = open_repo(root)
    loaded = load_inventory(repo)
    rendered = render_hosts(repo, loaded.hosts())
    status = compare_snapshots(repo, rendered, [h.name for h in loaded.hosts()])
    write_snapshots(repo, rendered, status)
    return {name: text for item in rendered for name, text in item.files().items()}


def test_second_render_is_served_from_the_cache_and_identical(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    first = _render(root)
    cache = root / ".netimmutable" / "cache"
    assert (cache / "inventory.json").is_file()
    assert (cache / "render.json").is_file()
    assert (cache / ".gitignore").read_text().strip().endswith("*")
    assert _render(root) == first


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("templates/frr/main.j2", "remote-as", "remote-as  "),
        ("inventory/hosts.yaml", "65002", "65012"),
        ("inventory/groups.yaml", "edge}", "core}"),
    ],
)
def test_changed_input_renders_again(tmp_path: Path, path: str, old: str, new: str) -> None:
    root = _repo(tmp_path)
    _render(root)
    target = root / path
    target.write_text(target.read_text().replace(old, new))
    (root / "templates" / "frr" / "main.j2").write_text(
        (root / "templates" / "frr" / "main.j2").read_text() + "{{ role | default('') }}\n"
    )
    cached = _render(root)
    shutil.rmtree(root / ".netimmutable")
    assert cached == _render(root)


def test_hand_edited_snapshot_is_rendered_again(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    first = _render(root)
    (root / "snapshots" / "r1.cfg").write_text("hostname hacked\n")
    repo = open_repo(root)
    loaded = load_inventory(repo)
    rendered = render_hosts(repo, loaded.hosts())
    assert {n: t for i in rendered for n, t in i.files().items()} == first
    assert compare_snapshots(repo, rendered, None).stale == ("r1.cfg",)


def test_corrupt_or_disabled_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path)
    first = _render(root)
    cache = root / ".netimmutable" / "cache"
    (cache / "inventory.json").write_text("{not json")
    (cache / "render.json").write_text(json.dumps({"format": 1, "hosts": {"r1": {"key": 3}}}))
    assert _render(root) == first
    monkeypatch.setenv("NETIMMUTABLE_NO_CACHE", "1")
    (root / "snapshots" / "r2.cfg").unlink()
    assert _render(root) == first


def test_inventory_errors_are_not_cached(tmp_path: Path) -> None:
    from netimmutable.errors import InventoryError

    root = _repo(tmp_path)
    (root / "inventory" / "hosts.yaml").write_text(HOSTS.replace("groups: [edge]", "groups: [nope]"))
    for _ in range(2):
        with pytest.raises(InventoryError, match="nope"):
            load_inventory(open_repo(root))
