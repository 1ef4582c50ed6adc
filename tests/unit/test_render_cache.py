"""The local render cache (inventory + per-host artifacts) never changes what render returns."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from netimmutable import render as render_module
from netimmutable import render_pool
from netimmutable.fileio import StagedFiles
from netimmutable.inventory import load_inventory
from netimmutable.render import compare_snapshots, refresh_snapshots, render_hosts, write_snapshots
from netimmutable.render_cache import SnapshotTable, stat_key
from netimmutable.repo import open_repo

from .netrepo_helpers import run_cli

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
    assert (cache / "inventory-blocks.jsonl").is_file()
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
    (cache / "inventory-blocks.jsonl").write_text("{not json")
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


# --- the stat table of snapshots/ (snapshots.json) -------------------------------------------------------


def _refresh(root: Path) -> dict[str, str]:
    """What `netimmutable render` does: render, write, record the stat table; the files it left."""
    summary = refresh_snapshots(open_repo(root))
    return {name: (root / "snapshots" / name).read_text() for name in summary.digests}


def _table(root: Path) -> SnapshotTable:
    return SnapshotTable.load(open_repo(root))


def _no_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the inventory was loaded")

    monkeypatch.setattr(render_module, "load_inventory", refuse)


def _settle(root: Path) -> None:
    """Wait past the clock tick of the last writes, then let a check re-verify racy entries (it rewrites
    the table): afterwards every entry is older than the table and trusted by its stat."""
    time.sleep(0.05)
    assert refresh_snapshots(open_repo(root), write=False).status.current
    table = _table(root)
    for name, (digest, stat) in table.files.items():
        assert table.digest_if_unchanged(name, stat) == digest


def test_unchanged_inputs_and_snapshots_skip_the_inventory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    first = _refresh(root)
    table = _table(root)
    assert table.inputs is not None and table.hosts == 2
    assert sorted(table.files) == sorted(first)
    _settle(root)
    _no_inventory(monkeypatch)
    summary = refresh_snapshots(open_repo(root))
    assert summary.status.current and summary.written == 0 and summary.hosts == 2
    assert dict(summary.digests) == {n: hashlib.sha256(t.encode()).hexdigest() for n, t in first.items()}


@pytest.mark.parametrize("settle", [True, False], ids=["trusted-entry", "racy-entry"])
def test_hand_edit_of_same_size_and_same_mtime_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settle: bool
) -> None:
    root = _repo(tmp_path)
    first = _refresh(root)
    if settle:
        _settle(root)
        time.sleep(0.05)  # the edit's ctime falls in a later clock tick than the entry's
    path = root / "snapshots" / "r1.cfg"
    before = path.stat()
    path.write_text(first["r1.cfg"].replace("hostname r1", "hostname rX"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # forge the old mtime
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    table = _table(root)
    assert table.digest_if_unchanged("r1.cfg", stat_key(after)) is None
    result = run_cli(["render", "--check", "--repo", str(root)])
    assert result.exit_code == 3, result.output
    assert "stale     snapshots/r1.cfg" in result.stdout
    assert refresh_snapshots(open_repo(root)).written == 1  # render puts it back
    assert path.read_text() == first["r1.cfg"]
    assert refresh_snapshots(open_repo(root), write=False).status.current


def test_racy_entries_are_hashed_even_when_their_stat_matches() -> None:
    stat = (10, 1_000, 1_000, 7)
    table = SnapshotTable(inputs="k", hosts=1, files={"r1.cfg": ("d" * 64, stat)}, stamp=1_000)
    assert table.digest_if_unchanged("r1.cfg", stat) is None  # mtime not strictly older than the table
    table.stamp = 1_001
    assert table.digest_if_unchanged("r1.cfg", stat) == "d" * 64
    assert table.digest_if_unchanged("r1.cfg", (10, 1_000, 1_000, 8)) is None  # another inode
    assert table.digest_if_unchanged("r1.cfg", (10, 1_000, 999, 7)) is None  # ctime moved
    ctime_racy = SnapshotTable(
        inputs="k", hosts=1, files={"r1.cfg": ("d" * 64, (10, 5, 1_001, 7))}, stamp=1_001
    )
    assert ctime_racy.digest_if_unchanged("r1.cfg", (10, 5, 1_001, 7)) is None
    ctime_racy.files["r2.cfg"] = ("e" * 64, (10, 5, 6, 8))
    ctime_racy.forget_racy()  # before saving it again with a later stamp
    assert sorted(ctime_racy.files) == ["r2.cfg"]


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"format": 1, "inputs": 3, "hosts": 2, "files": {}}),
        json.dumps({"format": 1, "inputs": "x", "hosts": 2, "files": {"r1.cfg": ["ab", 1, 2, 3, 4]}}),
        json.dumps({"format": 1, "inputs": "x", "hosts": 2, "files": {"r1.cfg": ["a" * 64, 1]}}),
        json.dumps({"format": 1, "inputs": "x", "hosts": 2, "files": []}),
    ],
)
def test_corrupt_table_is_a_miss(tmp_path: Path, text: str) -> None:
    root = _repo(tmp_path)
    first = _refresh(root)
    table_file = root / ".netimmutable" / "cache" / "snapshots.json"
    table_file.write_text(text)
    assert _table(root).inputs is None and _table(root).files == {}
    (root / "snapshots" / "r2.cfg").write_text("hand edited\n")
    assert refresh_snapshots(open_repo(root), write=False).status.stale == ("r2.cfg",)
    assert _refresh(root) == first
    assert _table(root).inputs is not None  # written again


def test_forged_table_for_other_inputs_is_not_trusted(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _refresh(root)
    _settle(root)
    hosts = root / "inventory" / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("65002", "65012"))
    summary = refresh_snapshots(open_repo(root), write=False)
    assert summary.status.stale == ("r2.cfg",)
    assert _table(root).inputs is None  # a check that found stale files names no complete render


def test_missing_and_orphaned_files_are_found_with_a_current_table(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _refresh(root)
    _settle(root)
    (root / "snapshots" / "r1.cfg").unlink()
    (root / "snapshots" / "gone.cfg").write_text("old host\n")
    for _ in range(2):  # the first check must not leave a table that hides them from the second
        status = refresh_snapshots(open_repo(root), write=False).status
        assert (status.missing, status.orphaned) == (("r1.cfg",), ("gone.cfg",))


def test_limited_render_updates_entries_of_the_same_inputs(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    first = _refresh(root)
    _settle(root)
    (root / "snapshots" / "r1.cfg").write_text("hand edited\n")
    assert refresh_snapshots(open_repo(root), ["r1"]).written == 1
    table = _table(root)
    assert table.inputs is not None
    assert table.files["r1.cfg"][1] == stat_key((root / "snapshots" / "r1.cfg").stat())
    assert _refresh(root) == first


def test_disabled_cache_writes_no_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETIMMUTABLE_NO_CACHE", "1")
    root = _repo(tmp_path)
    _refresh(root)
    assert not (root / ".netimmutable" / "cache" / "snapshots.json").exists()
    assert refresh_snapshots(open_repo(root), write=False).status.current


def test_rerendered_host_whose_files_did_not_change_is_recorded(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _refresh(root)
    hosts = root / "inventory" / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("asn: 65001,", "asn: 65001, unused: 1,"))
    summary = refresh_snapshots(open_repo(root))
    assert summary.written == 0
    table = _table(root)
    assert table.inputs is not None  # complete: r1.cfg was read (equal) and recorded
    assert sorted(table.files) == ["r1.cfg", "r2.cfg"]


def test_a_template_changed_and_changed_back_during_a_render_is_not_recorded_as_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    template = root / "templates" / "frr" / "main.j2"
    real_env = render_pool.make_environment

    def switch_away(templates_dir: Path, *args: Any) -> object:  # `git switch feature` after keying
        template.write_text(MAIN + "\n! feature-branch line\n")
        return real_env(templates_dir, *args)

    class SwitchBack(StagedFiles):  # `git switch -` once written, before the inputs are keyed again
        def commit(self) -> list[Path]:
            written = super().commit()
            template.write_text(MAIN)
            return written

    monkeypatch.setattr(render_pool, "make_environment", switch_away)
    monkeypatch.setattr(render_module, "StagedFiles", SwitchBack)
    refresh_snapshots(open_repo(root))
    monkeypatch.undo()
    assert "feature-branch line" in (root / "snapshots" / "r1.cfg").read_text()  # what that render wrote
    assert template.read_text() == MAIN  # the inputs are byte for byte what they were
    result = run_cli(["render", "--check", "--repo", str(root)])
    assert result.exit_code == 3, result.output  # stale: not taken from a table that says current
    assert "r1.cfg" in result.output
